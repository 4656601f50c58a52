//! Envelopes (SPEC §6.1, §6.4) as `POST /v1/messages` and every transaction receive them:
//! `SignedEnvelope::parse`, then the properties a server and a recipient rely on.
#![no_main]

use kez_fuzz::{fuzz_key, fuzz_primary, object, respelled};
use kez_spec::MessageId;
use kez_spec::envelope::SignedEnvelope;
use kez_spec::signed;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let parsed = SignedEnvelope::parse(data);
    // Any spelling of the same object gets the same verdict, and the same envelope.
    if let Some(other) = respelled(data) {
        assert_eq!(SignedEnvelope::parse(&other), parsed, "respelled");
    }
    let Ok(envelope) = parsed else { return };
    // The id is the hash of the canonical form (SPEC §6.4), and the canonical form is a fixed
    // point: what a server stores parses back to the same envelope, with the same verdict.
    assert_eq!(
        envelope.id,
        MessageId::of_canonical(envelope.canonical.as_bytes())
    );
    let stored = SignedEnvelope::parse(envelope.canonical.as_bytes()).expect("canonical parses");
    assert_eq!(stored, envelope);
    assert_eq!(stored.verify(), envelope.verify());
    // A primary the server already knows stands in for decoding it, with the same result.
    let primary = envelope.envelope.from_primary;
    let text = primary.to_string();
    let map = object(data).expect("parsed once");
    let known = SignedEnvelope::from_map_with_known(map, |t| (t == text).then_some(primary));
    assert_eq!(known.as_ref(), Ok(&envelope));
    // Re-signed by a key this target holds: it verifies, also after a round trip through
    // another spelling, and the id changes with the signature.
    let mut body = envelope.object.body.clone();
    body.insert("from_primary".into(), fuzz_primary().to_string().into());
    let resigned = signed::sign(body, &fuzz_key(), None);
    let text = serde_json::to_vec_pretty(&resigned).expect("serializes");
    let again = SignedEnvelope::parse(&text).expect("a re-signed envelope parses");
    assert_eq!(again.verify(), Ok(()), "a re-signed envelope verifies");
    let canonical = SignedEnvelope::parse(again.canonical.as_bytes()).expect("canonical parses");
    assert_eq!(canonical.verify(), Ok(()));
    // One changed header member no longer verifies.
    if let Value::Object(mut tampered) = resigned {
        let ts = envelope.envelope.ts_ms;
        tampered.insert("ts".into(), (ts ^ 1).into());
        if let Ok(tampered) = SignedEnvelope::from_map(tampered) {
            assert!(tampered.verify().is_err(), "a tampered envelope verifies");
        }
    }
});
