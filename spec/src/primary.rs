//! A person's identity key as written on the wire (SPEC §2.3): `ed25519:<64 lowercase hex>`.
//! Parsing decodes the point, so a `Primary` is always a usable, canonical, non-small-order key.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;

use crate::{Error, hexstr};

/// The prefix naming the key's algorithm.
pub const PREFIX: &str = "ed25519:";

/// An ed25519 public key that verifies under SPEC §3.4's strict rule.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Primary(VerifyingKey);

impl Primary {
    /// Parses `ed25519:<hex>`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let hex = s
            .strip_prefix(PREFIX)
            .ok_or(Error::InvalidPrimary("must start with 'ed25519:'"))?;
        let bytes = hexstr::decode_array::<32>(hex)
            .ok_or(Error::InvalidPrimary("must be 64 lowercase hex characters"))?;
        Primary::from_bytes(&bytes)
    }

    /// Accepts a raw 32-byte public key under the same rules as [`Primary::parse`].
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        let key = decode_strict(bytes).ok_or(Error::InvalidPrimary(
            "not a canonical encoding of a curve point",
        ))?;
        if key.is_weak() {
            return Err(Error::InvalidPrimary("small-order point"));
        }
        Ok(Primary(key))
    }

    /// The key, for verification.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

/// Decodes a point and rejects non-canonical encodings (y ≥ p, or x = 0 with the sign bit set),
/// which ed25519-dalek's decoder would otherwise reduce silently (SPEC §3.4).
pub(crate) fn decode_strict(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    let key = VerifyingKey::from_bytes(bytes).ok()?;
    let canonical = curve25519_dalek::edwards::CompressedEdwardsY(*bytes)
        .decompress()?
        .compress();
    (canonical.as_bytes() == bytes).then_some(key)
}

impl From<&ed25519_dalek::SigningKey> for Primary {
    fn from(key: &ed25519_dalek::SigningKey) -> Self {
        Primary(key.verifying_key())
    }
}

impl FromStr for Primary {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Primary::parse(s)
    }
}

impl fmt::Display for Primary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for Primary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Primary({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.3: round trip and the rejections.
    #[test]
    fn parse() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let p = Primary::from(&key);
        assert_eq!(Primary::parse(&p.to_string()), Ok(p));
        let upper = p.to_string().to_uppercase().replace("ED25519:", "ed25519:");
        let identity = format!("{PREFIX}01{}", "00".repeat(31));
        let non_canonical = format!("{PREFIX}{}7f", "ff".repeat(31)); // y = 2^255 - 1 ≥ p
        for bad in [
            upper.as_str(),
            "ed25519:abcd",
            &p.to_string().replace("ed25519:", "ed448:"),
            &identity,
            &non_canonical,
        ] {
            assert_eq!(
                Primary::parse(bad).map_err(|e| e.code()),
                Err("invalid_primary"),
                "{bad}"
            );
        }
    }
}
