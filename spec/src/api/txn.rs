//! # `PUT /v1/federation/txn/{txn_id}` (SPEC §9.4)
//!
//! Transactions between servers: the id rule both ends apply, the limits, and the results the
//! receiver answers with — one per envelope, so one bad envelope never fails the batch.

use serde::{Deserialize, Serialize};

/// Envelopes per transaction (SPEC §9.4's `max_txn_envelopes`).
pub const MAX_ENVELOPES: usize = 100;
/// Transaction body bytes (SPEC §9.4's `max_txn_bytes`).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// How far in the past a transaction's envelope may be (SPEC §9.4 step 8): it may have waited
/// in an outbox for days.
pub const ENVELOPE_PAST_MS: u64 = 7 * 24 * 3600 * 1000;
/// How far in the future it may be (clock skew, SPEC §9.4 step 8).
pub const ENVELOPE_FUTURE_MS: u64 = 300_000;

/// True for a transaction id SPEC §9.4 allows: 1–64 of `[A-Za-z0-9._-]`. `.` and `..` are
/// refused too: URL handling would normalise them away from the signed path.
pub fn is_valid_txn_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && id != "."
        && id != ".."
}

/// The results of one transaction, one per envelope, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResults {
    /// One result per envelope of the transaction, in the order sent.
    pub results: Vec<TxnResult>,
}

/// The receiver's verdict on one envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResult {
    /// The message id of the element as received (SPEC §6.4).
    pub id: String,
    /// What happened to it.
    pub status: TxnStatus,
    /// The error code; present exactly when `rejected` or `deferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Seconds before the envelope may be sent again; present exactly when `deferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl TxnResult {
    /// Accepted or duplicate: no code, no wait.
    pub fn plain(id: String, status: TxnStatus) -> Self {
        TxnResult {
            id,
            status,
            code: None,
            retry_after: None,
        }
    }

    /// Rejected for good, with its code.
    pub fn rejected(id: String, code: &str) -> Self {
        TxnResult {
            code: Some(code.to_owned()),
            ..TxnResult::plain(id, TxnStatus::Rejected)
        }
    }

    /// Deferred, with its code and the seconds to wait.
    pub fn deferred(id: String, code: &str, retry_after: u64) -> Self {
        TxnResult {
            code: Some(code.to_owned()),
            retry_after: Some(retry_after),
            ..TxnResult::plain(id, TxnStatus::Deferred)
        }
    }
}

/// SPEC §9.4's four outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnStatus {
    /// Stored durably by the receiver.
    Accepted,
    /// Already held by the receiver.
    Duplicate,
    /// Refused for good.
    Rejected,
    /// Send again, in a later transaction, after `retry_after`.
    Deferred,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §9.4: transaction ids.
    #[test]
    fn txn_ids() {
        for ok in ["a", "a.example-000017", "A_b.c-9", "...", &"x".repeat(64)] {
            assert!(is_valid_txn_id(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(65), "a?b"] {
            assert!(!is_valid_txn_id(bad), "{bad}");
        }
    }

    /// SPEC §9.4: the results shape, both directions.
    #[test]
    fn results_json() {
        let text = r#"{"results":[{"id":"a","status":"accepted"},{"id":"b","status":"deferred","code":"rate_limited","retry_after":30}]}"#;
        let parsed: TxnResults = serde_json::from_str(text).expect("parses");
        assert_eq!(parsed.results[1].status, TxnStatus::Deferred);
        assert_eq!(parsed.results[1].retry_after, Some(30));
        assert_eq!(serde_json::to_string(&parsed).expect("json"), text);
        let built = TxnResults {
            results: vec![
                TxnResult::plain("a".into(), TxnStatus::Accepted),
                TxnResult::deferred("b".into(), "rate_limited", 30),
            ],
        };
        assert_eq!(built, parsed);
        let rejected = TxnResult::rejected("c".into(), "unknown_sender");
        assert_eq!(
            serde_json::to_string(&rejected).expect("json"),
            r#"{"id":"c","status":"rejected","code":"unknown_sender"}"#
        );
    }
}
