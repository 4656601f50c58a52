//! The signed account deletion (SPEC §4.7): a person's primary asks the server that holds its
//! handle to delete the account. The object names the handle, the server and the primary, so a
//! deletion signed for one account or one server is worth nothing anywhere else.

use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::account_claim::{self, Kind};
use crate::{Error, Handle, Primary, ServerName};

/// The `type` of a deletion object (SPEC §3.6).
pub const TYPE: &str = "deletion";

/// Deletion timestamps may differ from the server's clock by this much (SPEC §4.7 check 8).
pub const DEFAULT_SKEW_MS: u64 = 300_000;

/// How long after a deletion the handle stays held (SPEC §4.7): 7 days and 300 s, the
/// longest any server may still accept an envelope addressed to it (§8.7, §9.4 check 8), plus
/// 24 hours, the longest any peer may keep its record or the server document cached (§9.1,
/// §9.2). That is longer than the record cache plus the retry window (§9.6, 3 days), so no
/// retry and no cache can carry a message meant for the deleted user to a new owner.
pub const HANDLE_HOLD_MS: u64 = (8 * 24 * 3600 + 300) * 1000;

/// A deletion's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// The handle whose account is deleted.
    pub handle: Handle,
    /// The server that holds it.
    pub server: ServerName,
    /// The registered primary, which signs the deletion.
    pub primary: Primary,
    /// When it was signed, Unix milliseconds.
    pub ts_ms: u64,
}

/// A deletion whose signature has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDeletion {
    /// The claims.
    pub deletion: Deletion,
    /// The signed object's canonical JSON, signature included: what a server keeps with the
    /// tombstone, as its proof that the owner asked.
    pub canonical: String,
}

impl Deletion {
    /// Checks a received deletion in SPEC §4.7's order: strict JSON, members, handle grammar,
    /// server, primary, alg, signature, timestamp window. Whether the primary is the handle's
    /// registered one is the server's check that follows (check 9).
    pub fn verify(
        bytes: &[u8],
        this_server: &ServerName,
        now_ms: u64,
        skew_ms: u64,
    ) -> Result<VerifiedDeletion, Error> {
        let kind = Kind {
            name: if crate::faults::on("deletion_accepts_registration_type") {
                crate::registration::TYPE
            } else {
                TYPE
            },
            check_handle: &|_: &Handle| Ok(()),
            same_server: &|server: &str, here: &ServerName| {
                server == here.as_str() || crate::faults::on("deletion_any_server")
            },
        };
        let claim = account_claim::verify(bytes, &kind, this_server, now_ms, skew_ms)?;
        Ok(VerifiedDeletion {
            deletion: Deletion {
                handle: claim.handle,
                server: claim.server,
                primary: claim.primary,
                ts_ms: claim.ts_ms,
            },
            canonical: claim.canonical,
        })
    }

    /// Builds and signs a deletion with the primary's secret key.
    pub fn sign(&self, key: &SigningKey) -> Value {
        account_claim::sign(
            TYPE,
            &self.handle,
            &self.server,
            &self.primary,
            self.ts_ms,
            key,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::Registration;

    const NOW: u64 = 1_764_100_000_000;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[9; 32])
    }

    fn signed(handle: &str, server: &str, ts: u64) -> Vec<u8> {
        let deletion = Deletion {
            handle: Handle::parse(handle).expect("valid"),
            server: ServerName::parse(server).expect("valid"),
            primary: Primary::from(&key()),
            ts_ms: ts,
        };
        serde_json::to_vec(&deletion.sign(&key())).expect("serializes")
    }

    fn code(text: &[u8], now: u64) -> Option<&'static str> {
        let here = ServerName::parse("kez.lat").expect("valid");
        Deletion::verify(text, &here, now, DEFAULT_SKEW_MS)
            .err()
            .map(|e| e.code())
    }

    /// SPEC §4.7: the happy path and each rejection with its code.
    #[test]
    fn verify_in_order() {
        let text = signed("alice", "kez.lat", NOW);
        assert_eq!(code(&text, NOW + 300_000), None);
        assert_eq!(code(&text, NOW + 300_001), Some("stale_timestamp"));
        assert_eq!(
            code(&signed("alice", "other.example", NOW), NOW),
            Some("wrong_server")
        );
        let text = String::from_utf8(text).expect("utf-8");
        let tampered = text.replace("\"alice\"", "\"alicf\"");
        assert_eq!(code(tampered.as_bytes(), NOW), Some("invalid_signature"));
        let upper = text.replace("\"alice\"", "\"Alice\"");
        assert_eq!(code(upper.as_bytes(), NOW), Some("invalid_handle"));
    }

    /// SPEC §3.6: a registration signed by the same primary is not a deletion.
    #[test]
    fn a_registration_is_not_a_deletion() {
        let registration = Registration {
            handle: Handle::parse("alice").expect("valid"),
            server: ServerName::parse("kez.lat").expect("valid"),
            primary: Primary::from(&key()),
            ts_ms: NOW,
        };
        let text = serde_json::to_vec(&registration.sign(&key())).expect("serializes");
        assert_eq!(code(&text, NOW), Some("malformed_request"));
    }
}
