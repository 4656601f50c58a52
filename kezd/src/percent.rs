//! Percent-decoding of query components and static file paths, strict, because the input is
//! an attacker's: a malformed escape or invalid UTF-8 is an error, never guessed at. API path
//! parameters are never decoded (router.rs, SPEC §7.7).

/// Why a component could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// `%` not followed by two hexadecimal digits.
    #[error("malformed percent escape")]
    BadEscape,
    /// The decoded bytes are not UTF-8.
    #[error("decoded text is not UTF-8")]
    NotUtf8,
}

/// Decodes `%XX` escapes; with `plus_as_space`, `+` becomes a space (query strings, as browsers
/// encode them), otherwise `+` stays itself (file paths).
pub fn decode(input: &str, plus_as_space: bool) -> Result<String, DecodeError> {
    if !(input.contains('%') || plus_as_space && input.contains('+')) {
        return Ok(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let low = bytes.get(i + 2).and_then(|b| hex_value(*b));
                match (high, low) {
                    (Some(high), Some(low)) => out.push(high << 4 | low),
                    _ => return Err(DecodeError::BadEscape),
                }
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus_by_context() {
        assert_eq!(decode("a%3Ab%2f", false).as_deref(), Ok("a:b/"));
        assert_eq!(decode("a+b", false).as_deref(), Ok("a+b"));
        assert_eq!(decode("a+b", true).as_deref(), Ok("a b"));
        assert_eq!(decode("caf%C3%A9", false).as_deref(), Ok("café"));
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(decode("%", false), Err(DecodeError::BadEscape));
        assert_eq!(decode("%4", false), Err(DecodeError::BadEscape));
        assert_eq!(decode("%zz", false), Err(DecodeError::BadEscape));
        assert_eq!(decode("%C3", false), Err(DecodeError::NotUtf8));
    }
}
