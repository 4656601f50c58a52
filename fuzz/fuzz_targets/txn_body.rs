//! Transaction bodies (SPEC §9.4) as `PUT /v1/federation/txn/…` reads them: `TxnBody::parse`,
//! then each element through `TxnElement::parse`, which names it in the answer.
#![no_main]

use kez_spec::api::txn_body::{TxnBody, TxnElement};
use kez_fuzz::respelled;
use kez_spec::MessageId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = TxnBody::parse(data);
    if let Some(other) = respelled(data) {
        assert_eq!(TxnBody::parse(&other), parsed, "respelled");
    }
    let Ok(body) = parsed else { return };
    for element in body.envelopes {
        // Every element, parsed or refused, is named by the id and size of what was sent, so
        // the origin can match each result to what it sent (SPEC §9.4).
        let canonical = kez_spec::json::canonical(&element);
        let named = TxnElement::parse(element.clone(), |_| None);
        assert_eq!(named.id, MessageId::of_canonical(&canonical));
        assert_eq!(named.size, canonical.len());
        match &named.envelope {
            Ok(envelope) => {
                assert_eq!(envelope.id, named.id);
                assert_eq!(envelope.canonical.as_bytes(), canonical.as_slice());
                // With the sender's primary already known, the same element.
                let primary = envelope.envelope.from_primary;
                let text = primary.to_string();
                let known = TxnElement::parse(element, |t| (t == text).then_some(primary));
                assert_eq!(known, named);
            }
            Err(code) => assert!(!code.is_empty()),
        }
    }
});
