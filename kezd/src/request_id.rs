//! One id per request, to tie a client's report, the access log line and any error line
//! together. A caller's `X-Request-Id` is kept when it is short and plain (so a proxy's id
//! follows the request through), otherwise a fresh one is made; it is echoed in the response.

use std::fmt;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;
use rand_core::{OsRng, RngCore};

/// The header that carries the id both ways.
pub const HEADER: &str = "x-request-id";

/// The next fresh id. Ids must be unique, not secret (they are no credential), so one random
/// start per process and a counter do: a read of the system's random source for every request
/// cost a system call each.
static NEXT: LazyLock<AtomicU64> = LazyLock::new(|| AtomicU64::new(OsRng.next_u64()));

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
            .unwrap_or_else(RequestId::fresh)
    }

    /// A new id: 16 hex characters, never the same twice in this process.
    pub fn fresh() -> Self {
        RequestId(format!("{:016x}", NEXT.fetch_add(1, Ordering::Relaxed)))
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
        let (a, b) = (RequestId::fresh(), RequestId::fresh());
        assert_ne!(a, b);
        assert_eq!(b.as_str().len(), 16);
        assert!(is_acceptable(a.as_str()) && is_acceptable(b.as_str()));
    }
}
