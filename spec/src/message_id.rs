//! Message ids (SPEC §2.6, §6.4): SHA-256 of the signed envelope's JCS bytes, so every party —
//! sender, home server, peers, recipient — derives the same id and dedupes the same way.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::{Error, hexstr};

/// A 32-byte message id, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId([u8; 32]);

impl MessageId {
    /// The id of a signed envelope given its canonical (JCS) bytes.
    pub fn of_canonical(canonical: &[u8]) -> Self {
        MessageId(Sha256::digest(canonical).into())
    }

    /// Parses 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, Error> {
        hexstr::decode_array::<32>(s)
            .map(MessageId)
            .ok_or(Error::InvalidMessageId)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for MessageId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        MessageId::parse(s)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.6: the id of empty input is SHA-256("") and round-trips through text.
    #[test]
    fn digest_and_text() {
        let id = MessageId::of_canonical(b"");
        assert_eq!(
            id.to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(MessageId::parse(&id.to_string()), Ok(id));
        assert!(MessageId::parse(&id.to_string().to_uppercase()).is_err());
        assert!(MessageId::parse("abc").is_err());
    }
}
