//! What the fuzz targets share: a fixed clock and key, and the "another JSON form of the same
//! object" every signed-object target checks its verdict against.
//!
//! The targets (in `fuzz_targets/`) each feed a parser an attacker reaches with arbitrary
//! bytes and check properties of what comes out, not only that nothing panics: canonical forms
//! are fixed points, a parsed value re-serialised parses back equal, any JSON spelling of an
//! object gets the same verdict, and what this crate signs itself verifies.

use kez_spec::{KeyId, Primary, SigningKey};
use serde_json::{Map, Value};

/// The clock the targets verify at when the input names no time of its own, Unix ms
/// (2026-01-01, as in the test vectors).
pub const NOW_MS: u64 = 1_767_225_600_000;

/// The key the targets sign with when they re-sign an input to reach past its signature.
pub fn fuzz_key() -> SigningKey {
    SigningKey::from_bytes(&[0x5a; 32])
}

/// The primary of [`fuzz_key`].
pub fn fuzz_primary() -> Primary {
    Primary::from(&fuzz_key())
}

/// The key id [`fuzz_key`] is published under in re-signed server documents.
pub fn fuzz_key_id() -> KeyId {
    // A valid id by SPEC §2.5; a failure here is a bug in this crate, not a finding.
    KeyId::parse("ed25519:fuzz").unwrap_or_else(|e| panic!("the fuzz key id is valid: {e}"))
}

/// The input as a JSON object, when it is one under KEZ's strict rules (SPEC §3.3).
pub fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    kez_spec::json::parse_object(bytes).ok()
}

/// Another JSON text of the same object: pretty-printed, members in serde_json's order.
/// Signatures cover canonical bytes (SPEC §3.2), so a verdict must not depend on the spelling.
pub fn respelled(bytes: &[u8]) -> Option<Vec<u8>> {
    let value = kez_spec::json::parse_strict(bytes).ok()?;
    serde_json::to_vec_pretty(&value).ok()
}

/// A string member of an object, if present and a string.
pub fn str_member<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object.get(name).and_then(Value::as_str)
}

/// An integer member of an object, if present and a non-negative integer.
pub fn uint_member(object: &Map<String, Value>, name: &str) -> Option<u64> {
    object.get(name).and_then(Value::as_u64)
}
