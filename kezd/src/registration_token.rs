//! Registration tokens as text (SPEC §4.1 check 10): making a new one for the operator, and
//! reading the one a client sends in `KEZ-Registration-Token`. A token is 128 random bits
//! written as 32 lowercase hex digits; the store keeps its SHA-256 only, and the operator
//! lists and revokes it by a short public id that is random too, so it tells nothing of the
//! token.

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::store::{NewToken, TokenSpend};

/// The request header a registration's token travels in, beside the signed registration and
/// never inside it: a registration's members are stored and served in the public record.
pub const HEADER: &str = "kez-registration-token";

/// The longest header value read as a token; a longer one is no token of this server's.
const MAX_LEN: usize = 256;

/// A token just made: its text, shown to the operator once, and the record to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The token the operator hands out.
    pub token: String,
    /// What the store keeps.
    pub record: NewToken,
}

/// Makes a token admitting `uses_allowed` registrations (`None`: unlimited) until
/// `expires_at_ms` (`None`: never), created at `now_ms`.
pub fn issue(uses_allowed: Option<u32>, expires_at_ms: Option<i64>, now_ms: i64) -> Issued {
    let token = random_hex::<16>();
    Issued {
        record: NewToken {
            id: random_hex::<5>(),
            hash: hash(&token),
            uses_allowed,
            expires_at_ms,
            created_at_ms: now_ms,
        },
        token,
    }
}

/// Hex SHA-256 of a token's text: what the store looks it up by.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The token a registration offers, from the header's value at `now_ms`. Surrounding
/// whitespace is not part of it (a token pasted with a newline still works); a value that is
/// not visible ASCII or is too long is no token of this server's, and `None` is what the
/// caller refuses as `registration_token_invalid`.
pub fn offered(value: &[u8], now_ms: i64) -> Option<TokenSpend> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let plausible =
        !text.is_empty() && text.len() <= MAX_LEN && text.bytes().all(|b| b.is_ascii_graphic());
    plausible.then(|| TokenSpend {
        hash: hash(text),
        now_ms,
    })
}

/// `N` random bytes as lowercase hex.
fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_stored_as_their_hash_only() {
        let issued = issue(Some(1), None, 5);
        assert_eq!(issued.token.len(), 32);
        assert_eq!(issued.record.id.len(), 10);
        assert_eq!(issued.record.hash, hash(&issued.token));
        assert!(!issued.record.hash.contains(&issued.token));
        assert_ne!(issue(None, None, 5).token, issued.token);
    }

    #[test]
    fn offered_tokens_are_trimmed_and_bounded() {
        let spend = offered(b" abc\n", 7).expect("a token");
        assert_eq!(spend.hash, hash("abc"));
        assert_eq!(spend.now_ms, 7);
        assert_eq!(offered(b"", 7), None);
        assert_eq!(offered(b"a b", 7), None);
        assert_eq!(offered(&[0xff], 7), None);
        assert_eq!(offered(&[b'a'; 257], 7), None);
    }
}
