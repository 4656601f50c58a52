//! One id per request, to tie a client's report, the access log line and any error line
//! together. A caller's `X-Request-Id` is kept when it is short and plain (so a proxy's id
//! follows the request through), otherwise a random one is made; it is echoed in the response.

use std::fmt;

use http::HeaderMap;
use rand_core::{OsRng, RngCore};

/// The header that carries the id both ways.
pub const HEADER: &str = "x-request-id";

/// A request id: 1–64 characters of `[A-Za-z0-9._:-]`, safe in logs and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The caller's id if it is acceptable, else a new random one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|text| is_acceptable(text))
            .map(|text| RequestId(text.to_owned()))
            .unwrap_or_else(RequestId::random)
    }

    /// 64 random bits as 16 hex characters.
    pub fn random() -> Self {
        let mut bytes = [0u8; 8];
        OsRng.fill_bytes(&mut bytes);
        RequestId(hex::encode(bytes))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_acceptable(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, value.parse().expect("test header"));
        headers
    }

    #[test]
    fn keeps_a_sane_id_and_replaces_others() {
        assert_eq!(
            RequestId::from_headers(&with("abc-123.x")).as_str(),
            "abc-123.x"
        );
        let replaced = RequestId::from_headers(&with("has space"));
        assert_eq!(replaced.as_str().len(), 16);
        let long = "a".repeat(65);
        assert_ne!(RequestId::from_headers(&with(&long)).as_str(), long);
        assert_ne!(RequestId::random(), RequestId::random());
    }
}
