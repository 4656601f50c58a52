//! Transactions on the wire (SPEC §9.4) and what their answers mean for delivery (§9.6).
//!
//! The result types are shared by both ends: kezd serialises them when it answers a
//! transaction and the client parses them. [`classify`] is the one place that turns an HTTP
//! answer into a [`DeliveryError`], kept free of I/O so every status is tested directly.

use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::DeliveryError;

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

/// `Retry-After` in seconds (SPEC §10 uses seconds only; an HTTP date is ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The SPEC §10 `error` code of a JSON error body, if it has one.
pub fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.as_str()?;
    // Codes are short snake_case words; anything else is not worth storing as a code.
    let plausible = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    plausible.then(|| code.to_owned())
}

/// What a non-200 answer to a transaction means (SPEC §9.6): 413 re-batch; 401, 408 (the body
/// arrived too slowly: a slow link, not a bad transaction), 429, 5xx and anything unexpected (a
/// redirect, which is never followed) transient with the peer's `Retry-After`; 403 and every
/// other 4xx permanent with the body's code.
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> DeliveryError {
    let code = error_code(body);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return DeliveryError::TooLarge;
    }
    let transient = |what: String| DeliveryError::Transient {
        reason: what,
        retry_after,
    };
    if status.is_redirection() {
        return transient(format!("HTTP {status}: redirects are not followed"));
    }
    if status == StatusCode::UNAUTHORIZED
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        let code = code.unwrap_or_else(|| "unavailable".into());
        return transient(format!("HTTP {status} {code}"));
    }
    if status.is_client_error() {
        return DeliveryError::permanent(
            code.unwrap_or_else(|| format!("http_{}", status.as_u16())),
        );
    }
    transient(format!("unexpected HTTP {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> Vec<u8> {
        format!(r#"{{"error":"{code}","message":"x"}}"#).into_bytes()
    }

    /// SPEC §9.6: the mapping of every class of answer.
    #[test]
    fn classification() {
        let s = |n| StatusCode::from_u16(n).expect("status");
        let ra = Some(Duration::from_secs(30));
        assert_eq!(
            classify(s(503), ra, &body("unavailable")),
            DeliveryError::Transient {
                reason: "HTTP 503 Service Unavailable unavailable".into(),
                retry_after: ra
            }
        );
        assert!(matches!(
            classify(s(429), ra, &body("rate_limited")),
            DeliveryError::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(30)
        ));
        assert!(matches!(
            classify(s(401), None, &body("unknown_key")),
            DeliveryError::Transient { .. }
        ));
        assert!(matches!(
            classify(s(408), None, &body("request_timeout")),
            DeliveryError::Transient { .. }
        ));
        assert!(matches!(
            classify(s(500), None, b"oops"),
            DeliveryError::Transient { .. }
        ));
        assert!(matches!(
            classify(s(302), None, b""),
            DeliveryError::Transient { .. }
        ));
        assert_eq!(
            classify(s(413), None, &body("payload_too_large")),
            DeliveryError::TooLarge
        );
        assert_eq!(
            classify(s(403), None, &body("origin_blocked")),
            DeliveryError::permanent("origin_blocked")
        );
        assert_eq!(
            classify(s(400), None, &body("malformed_request")),
            DeliveryError::permanent("malformed_request")
        );
        assert_eq!(
            classify(s(404), None, b"<html>"),
            DeliveryError::permanent("http_404")
        );
    }

    /// SPEC §9.4: transaction ids.
    #[test]
    fn txn_ids() {
        for ok in ["a", "a.example-000017", "A_b.c-9", &"x".repeat(64)] {
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
    }
}
