//! Server key ids (SPEC §2.5), e.g. `ed25519:k1`: a server rotates keys, and every signature it
//! makes names the key so receivers can pick the right one from its document.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// `ed25519:` followed by 1–32 of `[A-Za-z0-9_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Parses a key id.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let name = s.strip_prefix("ed25519:").ok_or(Error::InvalidKeyId)?;
        let ok = (1..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(Error::InvalidKeyId)
        }
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        KeyId::parse(s)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.5.
    #[test]
    fn parse() {
        assert!(KeyId::parse("ed25519:k1").is_ok());
        assert!(KeyId::parse("ed25519:A_9").is_ok());
        for bad in [
            "k1",
            "ed25519:",
            "ed25519:a-b",
            "ed448:k1",
            &format!("ed25519:{}", "a".repeat(33)),
        ] {
            assert!(KeyId::parse(bad).is_err(), "{bad}");
        }
    }
}
