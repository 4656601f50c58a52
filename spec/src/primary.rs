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
        if key.is_weak() && !crate::faults::on("accept_small_order_primary") {
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
    if !is_canonical_encoding(bytes) && !crate::faults::on("accept_noncanonical_primary") {
        return None;
    }
    VerifyingKey::from_bytes(bytes).ok()
}

/// Whether `bytes` is the one encoding of the point it decodes to, read off the bytes: a
/// round trip through the curve (decompress, compress) costs two field exponentiations, as
/// much again as the decoding itself, on every primary a server parses.
///
/// An encoding is y (255 bits, little-endian) and the sign of x (the top bit). It is
/// non-canonical exactly when y ≥ p = 2^255 − 19 (the decoder reduces y mod p), or when x = 0
/// (so y = 1 or y = p − 1) and the sign bit is set (x = −0 = 0 re-encodes with the bit clear).
fn is_canonical_encoding(bytes: &[u8; 32]) -> bool {
    let sign = bytes[31] >> 7;
    let mut y = *bytes;
    y[31] &= 0x7f;
    // p = 2^255 − 19 is ed ff … ff 7f in little-endian bytes, so y ≥ p iff the upper 31 bytes
    // are all ones and the lowest is at least 0xed.
    let top_all_ones = y[1..31].iter().all(|b| *b == 0xff) && y[31] == 0x7f;
    if top_all_ones && y[0] >= 0xed {
        return false;
    }
    let one = y[0] == 1 && y[1..].iter().all(|b| *b == 0);
    let p_minus_one = top_all_ones && y[0] == 0xec;
    !(sign == 1 && (one || p_minus_one))
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

    /// The byte-level canonical check against the definition (the encoding survives a round
    /// trip through the curve), on every encoding near the edges — y within 64 of 0, of p and
    /// of 2^255, both signs — and on a thousand keys of real signers.
    #[test]
    fn canonical_check_matches_the_round_trip() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let round_trips = |bytes: &[u8; 32]| {
            CompressedEdwardsY(*bytes)
                .decompress()
                .is_some_and(|point| point.compress().as_bytes() == bytes)
        };
        let decodes = |bytes: &[u8; 32]| CompressedEdwardsY(*bytes).decompress().is_some();
        let mut edges = Vec::new();
        for low in 0u8..64 {
            for sign in [0u8, 0x80] {
                let mut small = [0u8; 32];
                small[0] = low;
                small[31] |= sign;
                let mut high = [0xffu8; 32];
                high[0] = 0xff - low;
                high[31] = 0x7f | sign;
                edges.extend([small, high]);
            }
        }
        let keys = (0u16..1000).map(|i| {
            let mut seed = [0u8; 32];
            seed[..2].copy_from_slice(&i.to_le_bytes());
            ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes()
        });
        let mut non_canonical = 0;
        for bytes in edges.into_iter().chain(keys) {
            if decodes(&bytes) {
                assert_eq!(
                    is_canonical_encoding(&bytes),
                    round_trips(&bytes),
                    "{bytes:02x?}"
                );
                non_canonical += usize::from(!round_trips(&bytes));
            }
        }
        // The edges hold decodable non-canonical encodings of both kinds.
        assert!(non_canonical >= 3, "{non_canonical}");
    }
}
