//! The body of a received transaction (SPEC §9.4): `{"origin": …, "envelopes": [ … ]}`, and
//! each element of `envelopes` named by the id of what was sent.
//!
//! Kept apart from the receiving handler, and free of I/O, so that what a peer's bytes turn
//! into is exercised directly (by tests and the fuzz targets) exactly as kezd sees it.

use serde::Serialize;
use serde_json::Value;

use crate::envelope::SignedEnvelope;
use crate::{Error, MessageId, Primary};

/// A transaction body as the sending server writes it. `E` is an envelope as the sender holds
/// it: a [`Value`], or its stored canonical JSON as a `RawValue`.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingTxn<'a, E> {
    /// The sending server's name.
    pub origin: &'a str,
    /// The envelopes, in the order they are to be judged.
    pub envelopes: &'a [E],
}

/// A transaction body whose shape has been checked; the elements are not parsed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnBody {
    /// The `origin` member, which the receiver compares with the authenticated origin.
    pub origin: String,
    /// The `envelopes` member's elements, as sent.
    pub envelopes: Vec<Value>,
}

impl TxnBody {
    /// Parses strict JSON (SPEC §3.3) that must be an object with a string `origin` and an
    /// array `envelopes`; other members are ignored (SPEC §1).
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let mut body = crate::json::parse_object(bytes)?;
        let Some(Value::String(origin)) = body.remove("origin") else {
            return Err(Error::malformed("missing string member \"origin\""));
        };
        let Some(Value::Array(envelopes)) = body.remove("envelopes") else {
            return Err(Error::malformed("missing array member \"envelopes\""));
        };
        Ok(TxnBody { origin, envelopes })
    }
}

/// One element of `envelopes`, parsed once. Its id and canonical size name it in the answer
/// whether it parses or not (SPEC §9.4): both are of the element as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnElement {
    /// SHA-256 of the element's canonical JSON (SPEC §6.4).
    pub id: MessageId,
    /// The length of that canonical JSON, for the per-envelope limit (SPEC §6.5).
    pub size: usize,
    /// The envelope (signature not yet verified), or the code it is rejected with.
    pub envelope: Result<SignedEnvelope, &'static str>,
}

impl TxnElement {
    /// Parses an element; `known` may answer a sender's primary already decoded (see
    /// [`SignedEnvelope::from_map_with_known`]).
    pub fn parse(element: Value, known: impl Fn(&str) -> Option<Primary>) -> Self {
        let refused = |element: &Value, code| {
            let canonical = crate::json::canonical(element);
            TxnElement {
                id: MessageId::of_canonical(&canonical),
                size: canonical.len(),
                envelope: Err(code),
            }
        };
        let Value::Object(map) = element else {
            return refused(&element, "malformed_request");
        };
        match SignedEnvelope::try_from_map_with_known(map, known) {
            Ok(envelope) => TxnElement {
                id: envelope.id,
                size: envelope.canonical.len(),
                envelope: Ok(envelope),
            },
            Err((error, map)) => refused(&Value::Object(map), error.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §9.4: the body's shape, each refusal `malformed_request`.
    #[test]
    fn shape() {
        let body =
            TxnBody::parse(br#"{"origin":"a.example","envelopes":[1,{}],"x":0}"#).expect("parses");
        assert_eq!(body.origin, "a.example");
        assert_eq!(body.envelopes.len(), 2);
        for bad in [
            &br#"{"envelopes":[]}"#[..],
            br#"{"origin":1,"envelopes":[]}"#,
            br#"{"origin":"a.example"}"#,
            br#"{"origin":"a.example","envelopes":{}}"#,
            br#"[]"#,
        ] {
            let code = TxnBody::parse(bad).map_err(|e| e.code()).err();
            let text = String::from_utf8_lossy(bad);
            assert_eq!(code, Some("malformed_request"), "{text}");
        }
        // Strict JSON (SPEC §3.3): a repeated member is its own refusal.
        let twice = br#"{"origin":"a.example","origin":"b.example","envelopes":[]}"#;
        let code = TxnBody::parse(twice).map_err(|e| e.code()).err();
        assert_eq!(code, Some("duplicate_member"));
    }

    /// SPEC §9.4: an element that is refused is named by the id of what was sent.
    #[test]
    fn refused_elements_are_named_as_sent() {
        for (element, code) in [
            (serde_json::json!(7), "malformed_request"),
            (
                serde_json::json!({"type": "envelope", "v": 2}),
                "unsupported_version",
            ),
        ] {
            let canonical = crate::json::canonical(&element);
            let got = TxnElement::parse(element, |_| None);
            assert_eq!(got.id, MessageId::of_canonical(&canonical));
            assert_eq!(got.size, canonical.len());
            assert_eq!(got.envelope.map(|_| ()), Err(code));
        }
    }
}
