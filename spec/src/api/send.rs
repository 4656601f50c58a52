//! # `POST /v1/messages` (SPEC §8.1)
//!
//! A client hands its server a signed envelope: `{"to":…,"envelope":{…}}`, answered 201
//! `stored`, 202 `queued` or 200 for a duplicate.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// The request body. `E` is the envelope: a [`Value`] or the signed envelope's JSON when a
/// client writes it, its members when a server has read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRequest<E = Value> {
    /// The recipient: `envelope.to`, or its handle for a recipient of this server.
    pub to: String,
    /// The signed envelope (SPEC §6.1).
    pub envelope: E,
}

impl SendRequest<Map<String, Value>> {
    /// Parses strict JSON (SPEC §3.3): an object with a string `to` and an object `envelope`,
    /// checked in that order; other members are ignored (SPEC §1).
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let mut body = crate::json::parse_object(bytes)?;
        let Some(Value::String(to)) = body.remove("to") else {
            return Err(Error::malformed("missing string member \"to\""));
        };
        let Some(Value::Object(envelope)) = body.remove("envelope") else {
            return Err(Error::malformed("missing object member \"envelope\""));
        };
        Ok(SendRequest { to, envelope })
    }
}

/// Where an accepted message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// In a local recipient's inbox (201).
    Stored,
    /// In the outbox, for a remote recipient (202).
    Queued,
}

/// The answer to a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAnswer {
    /// The message id (SPEC §6.4).
    pub id: String,
    /// The sequence number in a local recipient's inbox; absent when queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Stored or queued (for a duplicate: what the first answer said).
    pub status: SendStatus,
    /// Present, `true`, when the message had already been accepted (200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §8.1: the body's members, each refusal naming its member.
    #[test]
    fn request() {
        let ok = SendRequest::parse(br#"{"to":"bob","envelope":{"v":1},"x":0}"#).expect("parses");
        assert_eq!(ok.to, "bob");
        assert_eq!(ok.envelope["v"], 1);
        let err = |b: &[u8]| SendRequest::parse(b).map(|_| ()).map_err(|e| e.to_string());
        assert!(
            err(br#"{"envelope":{}}"#)
                .expect_err("refused")
                .contains("\"to\"")
        );
        assert!(
            err(br#"{"to":"bob","envelope":[]}"#)
                .expect_err("refused")
                .contains("\"envelope\"")
        );
        assert_eq!(
            SendRequest::parse(br#"{"to":"a","to":"b","envelope":{}}"#).map(|_| ()),
            Err(Error::DuplicateMember("to".into()))
        );
    }

    /// SPEC §8.1: the three answers.
    #[test]
    fn answers() {
        let stored = SendAnswer {
            id: "i".into(),
            seq: Some(3),
            status: SendStatus::Stored,
            duplicate: None,
        };
        assert_eq!(
            serde_json::to_string(&stored).expect("json"),
            r#"{"id":"i","seq":3,"status":"stored"}"#
        );
        let queued = SendAnswer {
            id: "i".into(),
            seq: None,
            status: SendStatus::Queued,
            duplicate: Some(true),
        };
        assert_eq!(
            serde_json::to_string(&queued).expect("json"),
            r#"{"id":"i","status":"queued","duplicate":true}"#
        );
    }
}
