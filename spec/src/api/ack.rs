//! # `POST /v1/inbox/{handle}/ack` (SPEC §8.3)
//!
//! Deleting an inbox through a sequence number.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::clock::MAX_SAFE_INTEGER;

/// The request body: `{"through":<n>}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRequest {
    /// Every message with a seq up to this one is deleted.
    pub through: u64,
}

impl AckRequest {
    /// Parses strict JSON (SPEC §3.3): an object with an integer `through` in 0 … 2^53 − 1;
    /// members v1 does not define are ignored (SPEC §1).
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        crate::json::parse_object(bytes)?
            .get("through")
            .and_then(Value::as_u64)
            .filter(|n| *n <= MAX_SAFE_INTEGER || crate::faults::on("ack_through_unbounded"))
            .map(|through| AckRequest { through })
            .ok_or_else(|| {
                Error::malformed("body must be {\"through\":<n>}, n an integer in 0 … 2^53 − 1")
            })
    }
}

/// The answer: `{"deleted":<n>}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckAnswer {
    /// How many messages the acknowledgement deleted.
    pub deleted: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §8.3: `through`'s range; other members are ignored.
    #[test]
    fn through() {
        let ok = AckRequest::parse(br#"{"through":9007199254740991,"x":1}"#).expect("parses");
        assert_eq!(ok.through, MAX_SAFE_INTEGER);
        for bad in [
            &br#"{"through":9007199254740992}"#[..],
            br#"{"through":-1}"#,
            br#"{"through":"1"}"#,
            br#"{}"#,
        ] {
            assert!(AckRequest::parse(bad).is_err());
        }
    }
}
