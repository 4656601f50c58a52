//! Signed server documents (SPEC §9.2), as federation reads a peer's `/.well-known/kez`:
//! `ServerDocument::verify`, and the key validity rules behind every signed request.
#![no_main]

use kez_spec::server_document::{self, ServerDocument};
use kez_fuzz::{NOW_MS, fuzz_key, fuzz_key_id, object, respelled, str_member, uint_member};
use kez_spec::ServerName;
use kez_spec::signed::{self, SignedObject};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    // Verify as fetched for the server the input names, at its own time, so inputs reach past
    // those checks; otherwise for b.example, now.
    let map = object(data);
    let expected = map
        .as_ref()
        .and_then(|m| str_member(m, "server"))
        .and_then(|s| ServerName::parse(s).ok())
        .unwrap_or_else(|| ServerName::parse("b.example").expect("valid"));
    let now = map
        .as_ref()
        .and_then(|m| uint_member(m, "ts"))
        .unwrap_or(NOW_MS);
    let verdict = ServerDocument::verify(data, &expected, now);
    if let Some(other) = respelled(data) {
        let again = ServerDocument::verify(&other, &expected, now);
        match (&verdict, &again) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "respelled"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "respelled"),
            _ => panic!("respelled: {verdict:?} then {again:?}"),
        }
    }
    if let Ok(doc) = &verdict {
        assert_eq!(&doc.server, &expected);
        assert!(doc.ts_ms <= now.saturating_add(server_document::MAX_FUTURE_MS));
        assert!(doc.valid_until_ms >= now);
        // The key that signed it is one the document lists as current.
        let object = SignedObject::parse(data, true).expect("verified, so parses");
        let key_id = object.signature.key_id.clone().expect("server-signed");
        assert!(doc.verify_keys.contains_key(&key_id));
        assert!(doc.knows_key(&key_id));
        // Its canonical form verifies to the same document.
        let canonical = object.canonical_bytes();
        let again = ServerDocument::verify(&canonical, &expected, now).expect("canonical verifies");
        assert_eq!(&again, doc);
        for (id, key) in &doc.verify_keys {
            assert_eq!(doc.key_at(id, key.valid_until_ms), Some(key.key));
            if key.valid_until_ms < u64::MAX {
                assert_eq!(doc.key_at(id, key.valid_until_ms + 1), None);
            }
        }
        for (id, key) in &doc.old_verify_keys {
            if !doc.verify_keys.contains_key(id) {
                assert_eq!(doc.key_at(id, key.expired_at_ms), Some(key.key));
            }
        }
    }
    // Re-signed by a key this target holds and lists: what verified as sent still verifies,
    // and the checks after the signature are reached for any input.
    let Some(mut body) = map else { return };
    body.remove("signature");
    if let Some(Value::Object(keys)) = body.get_mut("verify_keys") {
        let key = fuzz_key().verifying_key();
        keys.insert(
            fuzz_key_id().to_string(),
            json!({"key": hex(key.as_bytes()), "valid_until": now}),
        );
    }
    let resigned = signed::sign(body, &fuzz_key(), Some(fuzz_key_id()));
    let text = serde_json::to_vec(&resigned).expect("serializes");
    let again = ServerDocument::verify(&text, &expected, now);
    if verdict.is_ok() {
        let doc = again.expect("verified as sent, so re-signed");
        assert_eq!(
            doc.key_at(&fuzz_key_id(), now),
            Some(fuzz_key().verifying_key())
        );
    }
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
