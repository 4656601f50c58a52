//! End-to-end encryption (SPEC §6.2), the prototype's scheme byte for byte: ed25519 identities
//! converted to x25519, ECDH, HKDF-SHA256 keyed by the nonce, AES-256-GCM without associated
//! data. Servers never call `open`; they cannot — they hold no secret key of anyone's.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use sha2::{Digest, Sha256, Sha512};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::{Error, Primary};

/// HKDF `info` (SPEC §6.2).
pub const HKDF_INFO: &[u8] = b"kez-chat-msg-v1";
/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length in bytes: the shortest possible ciphertext.
pub const TAG_LEN: usize = 16;

/// The x25519 secret of an ed25519 seed: SHA-512(seed)[0..32], clamped (RFC 8032 §5.1.5,
/// RFC 7748 §5).
pub fn x25519_secret(seed: &[u8; 32]) -> [u8; 32] {
    let hash = Sha512::digest(seed);
    let mut s = [0u8; 32];
    s.copy_from_slice(&hash[..32]);
    s[0] &= 248;
    s[31] &= 127;
    s[31] |= 64;
    s
}

/// The x25519 public key of a primary: the Montgomery u = (1 + y) / (1 − y) of its point.
pub fn x25519_public(primary: &Primary) -> [u8; 32] {
    primary.verifying_key().to_montgomery().to_bytes()
}

/// The AES-256-GCM key for a message between `secret` and `peer` with `nonce`.
fn message_key(
    secret: &[u8; 32],
    peer: &Primary,
    nonce: &[u8; NONCE_LEN],
) -> Result<Aes256Gcm, Error> {
    let shared = StaticSecret::from(*secret).diffie_hellman(&PublicKey::from(x25519_public(peer)));
    // A non-contributory (all-zero) result means a small-order peer key; Primary already
    // excludes those, so this is defence in depth.
    if !shared.was_contributory() {
        return Err(Error::InvalidPrimary("small-order key"));
    }
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(nonce), shared.as_bytes())
        .expand(HKDF_INFO, &mut key)
        .map_err(|_| Error::DecryptFailed)?;
    Ok(Aes256Gcm::new(&key.into()))
}

/// Seals `plaintext` from `sender` to `recipient` with a caller-chosen `nonce` (random per
/// message in real use; fixed in test vectors). Returns ciphertext || tag.
pub fn seal(
    sender: &SigningKey,
    recipient: &Primary,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let cipher = message_key(&x25519_secret(sender.as_bytes()), recipient, nonce)?;
    cipher
        .encrypt(Nonce::from_slice(nonce), plaintext)
        .map_err(|_| Error::DecryptFailed)
}

/// Opens a ciphertext sealed to `recipient` by `sender`. Any failure — wrong nonce length,
/// truncation, tampering, wrong keys — is [`Error::DecryptFailed`].
pub fn open(
    recipient: &SigningKey,
    sender: &Primary,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, Error> {
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::DecryptFailed)?;
    if ciphertext.len() < TAG_LEN {
        return Err(Error::DecryptFailed);
    }
    let cipher = message_key(&x25519_secret(recipient.as_bytes()), sender, nonce)?;
    cipher
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| Error::DecryptFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §6.2: ECDH is symmetric, so what alice seals to bob, bob opens with alice's primary;
    /// anyone else, or any change, fails.
    #[test]
    fn seal_open_round_trip() {
        let alice = SigningKey::from_bytes(&[1; 32]);
        let bob = SigningKey::from_bytes(&[2; 32]);
        let eve = SigningKey::from_bytes(&[3; 32]);
        let nonce = [5u8; 12];
        let ct = seal(&alice, &Primary::from(&bob), &nonce, b"hi bob").expect("seals");
        assert_eq!(ct.len(), 6 + TAG_LEN);
        assert_eq!(
            open(&bob, &Primary::from(&alice), &nonce, &ct).as_deref(),
            Ok(&b"hi bob"[..])
        );
        assert_eq!(
            open(&eve, &Primary::from(&alice), &nonce, &ct),
            Err(Error::DecryptFailed)
        );
        assert_eq!(
            open(&bob, &Primary::from(&alice), &[5u8; 11], &ct),
            Err(Error::DecryptFailed)
        );
        assert_eq!(
            open(&bob, &Primary::from(&alice), &nonce, &ct[..15]),
            Err(Error::DecryptFailed)
        );
        let mut flipped = ct.clone();
        flipped[0] ^= 1;
        assert_eq!(
            open(&bob, &Primary::from(&alice), &nonce, &flipped),
            Err(Error::DecryptFailed)
        );
    }

    /// The converted keys agree: X25519(secret(a), public(b)) == X25519(secret(b), public(a)).
    #[test]
    fn conversions_agree() {
        let a = SigningKey::from_bytes(&[11; 32]);
        let b = SigningKey::from_bytes(&[12; 32]);
        let ab = StaticSecret::from(x25519_secret(a.as_bytes()))
            .diffie_hellman(&PublicKey::from(x25519_public(&Primary::from(&b))));
        let ba = StaticSecret::from(x25519_secret(b.as_bytes()))
            .diffie_hellman(&PublicKey::from(x25519_public(&Primary::from(&a))));
        assert_eq!(ab.as_bytes(), ba.as_bytes());
        let pub_a = PublicKey::from(&StaticSecret::from(x25519_secret(a.as_bytes())));
        assert_eq!(pub_a.to_bytes(), x25519_public(&Primary::from(&a)));
    }
}
