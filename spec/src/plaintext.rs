//! The plaintext inside an envelope's ciphertext (SPEC §6.3): a UTF-8 JSON object, `{"text":…}`
//! in v1. Only clients see it; receivers ignore members they do not know.

use serde::{Deserialize, Serialize};

/// The v1 plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plaintext {
    /// The message text.
    pub text: String,
}

impl Plaintext {
    /// The JSON bytes to seal for `text`.
    pub fn bytes(text: &str) -> Vec<u8> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            text: &'a str,
        }
        // A struct of one string always serialises.
        serde_json::to_vec(&Borrowed { text }).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §6.3: the shape, and unknown members ignored when read.
    #[test]
    fn shape() {
        assert_eq!(Plaintext::bytes("hi \"x\""), br#"{"text":"hi \"x\""}"#);
        let read: Plaintext = serde_json::from_str(r#"{"text":"a","later":1}"#).expect("parses");
        assert_eq!(read.text, "a");
    }
}
