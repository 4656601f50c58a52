//! What the answers to a transaction mean for delivery (SPEC §9.6).
//!
//! The transaction's wire shapes (id rule, body, results) are kez-spec's `api::txn`: kezd
//! answers with them and the client parses them. [`classify`] is the one place that turns an
//! HTTP answer into a [`DeliveryError`], kept free of I/O so every status is tested directly.

use std::time::Duration;

use reqwest::StatusCode;

use crate::DeliveryError;

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

/// What a non-200 answer to a transaction means (SPEC §9.6): 413 re-batch; 401, 408 (the body
/// arrived too slowly: a slow link, not a bad transaction), 429, 5xx and anything unexpected (a
/// redirect, which is never followed) transient with the peer's `Retry-After`; 403 and every
/// other 4xx permanent with the body's code.
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> DeliveryError {
    let code = kez_spec::api::error_body::code_of(body);
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
}
