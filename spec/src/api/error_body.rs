//! The error body every error response carries (SPEC §10): `{"error":"<code>","message":"…"}`.
//! Clients act on `error`, never on `message`.

use serde::{Deserialize, Serialize};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable SPEC §10 code.
    pub error: String,
    /// Human-readable text; never parsed.
    pub message: String,
}

/// The `error` code of a JSON error body, if it has a plausible one: a peer's body is
/// untrusted, and only a short snake_case word is worth keeping as a code.
pub fn code_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.as_str()?;
    let plausible = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    plausible.then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §10: the code is read from `error`, and only when it looks like a code.
    #[test]
    fn codes() {
        assert_eq!(
            code_of(br#"{"error":"rate_limited","message":"x"}"#).as_deref(),
            Some("rate_limited")
        );
        for bad in [
            &br#"{"error":"Bad Code"}"#[..],
            br#"{"error":""}"#,
            b"<html>",
            br#"{"error":1}"#,
        ] {
            assert_eq!(code_of(bad), None);
        }
    }
}
