//! The signed registration (SPEC §4.1): a person's primary claims a handle on one server.
//! The server keeps the signed object so anyone can later check the claim themselves.

use ed25519_dalek::SigningKey;
use serde_json::Value;

use crate::account_claim::{self, Kind};
use crate::{Error, Handle, Primary, ServerName};

/// The `type` of a registration object (SPEC §3.6).
pub const TYPE: &str = "registration";

/// Registration timestamps may differ from the server's clock by this much (SPEC §4.1).
pub const DEFAULT_SKEW_MS: u64 = 300_000;

/// A registration's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The handle claimed.
    pub handle: Handle,
    /// The server it is claimed on.
    pub server: ServerName,
    /// The key that owns it and signed the claim.
    pub primary: Primary,
    /// When it was signed, Unix milliseconds.
    pub ts_ms: u64,
}

/// A registration whose signature has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedRegistration {
    /// The claims.
    pub registration: Registration,
    /// The signed object's canonical JSON, signature included: what a server stores.
    pub canonical: String,
}

impl Registration {
    /// Checks a received registration in SPEC §4.1's order: strict JSON, members, handle
    /// grammar, reserved names, server, alg, signature, timestamp window.
    pub fn verify(
        bytes: &[u8],
        this_server: &ServerName,
        now_ms: u64,
        skew_ms: u64,
    ) -> Result<VerifiedRegistration, Error> {
        Self::verify_reserving(bytes, this_server, now_ms, skew_ms, Handle::is_reserved)
    }

    /// [`verify`](Self::verify) on a server that reserves the handles `is_reserved` names
    /// (SPEC §2.1: its list, and any the operator adds), checked as §4.1 check 4.
    pub fn verify_reserving(
        bytes: &[u8],
        this_server: &ServerName,
        now_ms: u64,
        skew_ms: u64,
        is_reserved: impl Fn(&Handle) -> bool,
    ) -> Result<VerifiedRegistration, Error> {
        let kind = Kind {
            name: TYPE,
            check_handle: &|handle: &Handle| {
                if is_reserved(handle) && !crate::faults::on("accept_reserved_handle") {
                    return Err(Error::HandleReserved(handle.to_string()));
                }
                Ok(())
            },
            same_server: &|server: &str, here: &ServerName| {
                if crate::faults::on("register_server_case_insensitive") {
                    server.eq_ignore_ascii_case(here.as_str())
                } else {
                    server == here.as_str()
                }
            },
        };
        let claim = account_claim::verify(bytes, &kind, this_server, now_ms, skew_ms)?;
        Ok(VerifiedRegistration {
            registration: Registration {
                handle: claim.handle,
                server: claim.server,
                primary: claim.primary,
                ts_ms: claim.ts_ms,
            },
            canonical: claim.canonical,
        })
    }

    /// Builds and signs a registration with the primary's secret key.
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

    const NOW: u64 = 1_764_100_000_000;

    fn setup(handle: &str, server: &str, ts: u64) -> (SigningKey, Vec<u8>) {
        let key = SigningKey::from_bytes(&[9; 32]);
        let reg = Registration {
            handle: Handle::parse(handle).expect("valid"),
            server: ServerName::parse(server).expect("valid"),
            primary: Primary::from(&key),
            ts_ms: ts,
        };
        let text = serde_json::to_vec(&reg.sign(&key)).expect("serializes");
        (key, text)
    }

    fn here() -> ServerName {
        ServerName::parse("kez.lat").expect("valid")
    }

    /// SPEC §4.1: the happy path and each rejection with its code.
    #[test]
    fn verify_in_order() {
        let (_, text) = setup("alice", "kez.lat", NOW);
        let ok = Registration::verify(&text, &here(), NOW + 1000, DEFAULT_SKEW_MS).expect("valid");
        assert_eq!(ok.registration.handle.as_str(), "alice");
        let code = |t: &[u8], now| {
            Registration::verify(t, &here(), now, DEFAULT_SKEW_MS).map_err(|e| e.code())
        };
        assert_eq!(code(&text, NOW + 300_001).err(), Some("stale_timestamp"));
        let (_, admin) = setup("admin", "kez.lat", NOW);
        assert_eq!(code(&admin, NOW).err(), Some("handle_reserved"));
        let (_, other) = setup("alice", "other.example", NOW);
        assert_eq!(code(&other, NOW).err(), Some("wrong_server"));
        let tampered = String::from_utf8(text.clone())
            .expect("utf-8")
            .replace("\"alice\"", "\"alicf\"");
        assert_eq!(
            code(tampered.as_bytes(), NOW).err(),
            Some("invalid_signature")
        );
        let bad_handle = String::from_utf8(text)
            .expect("utf-8")
            .replace("\"alice\"", "\"Alice\"");
        assert_eq!(
            code(bad_handle.as_bytes(), NOW).err(),
            Some("invalid_handle")
        );
    }
}
