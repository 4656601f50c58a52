//! The signed server document served at `/.well-known/kez` (SPEC §9.2): who a server is,
//! where its federation API lives, its limits, and the keys that verify what it signs.
//!
//! Signing builds the JSON from [`ServerKeys`]; verifying applies every check SPEC §9.2 puts
//! on a receiver, and [`ServerDocument::key_at`] applies the key validity rules, which are
//! what stop a stolen retired key from signing new requests.

use std::collections::BTreeMap;

use kez_spec::signed::{self, SignedObject};
use kez_spec::{KeyId, Primary, ServerName, VerifyingKey};
use serde_json::{Map, Value};

use crate::{FederationError, ServerKeys};

/// The document's `type` (SPEC §3.6).
pub const TYPE: &str = "server";
/// The federation API's path prefix in protocol v1.
pub const FEDERATION_PATH: &str = "/v1/federation";
/// A document is valid this long after it is signed: `valid_until` = `ts` + 24 h.
pub const DOCUMENT_VALIDITY_MS: u64 = 24 * 60 * 60 * 1000;
/// A current key is published as valid this long after the document is signed.
pub const KEY_VALIDITY_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// A document's `ts` may be this far in the future (SPEC §9.2).
pub const MAX_FUTURE_MS: u64 = 300_000;

/// A current key and until when it may be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyKey {
    /// The ed25519 public key.
    pub key: VerifyingKey,
    /// Not trusted for anything signed after this, Unix milliseconds.
    pub valid_until_ms: u64,
}

/// A retired key and when it was retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldVerifyKey {
    /// The ed25519 public key.
    pub key: VerifyingKey,
    /// Not trusted for anything signed after this, Unix milliseconds.
    pub expired_at_ms: u64,
}

/// A verified server document.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerDocument {
    /// The server the document is for (checked equal to the name it was fetched for).
    pub server: ServerName,
    /// The implementation, e.g. `kezd/0.1.0`.
    pub version: String,
    /// The protocol version, 1.
    pub protocol: u64,
    /// The absolute path of the federation API, `/v1/federation` in v1.
    pub federation: String,
    /// When it was signed, Unix milliseconds.
    pub ts_ms: u64,
    /// When it stops being valid, Unix milliseconds.
    pub valid_until_ms: u64,
    /// The published limits (SPEC §6.5, §8.2, §8.4, §9.4, §11), kept as JSON because their
    /// set grows with the protocol.
    pub limits: Value,
    /// Current keys.
    pub verify_keys: BTreeMap<KeyId, VerifyKey>,
    /// Retired keys.
    pub old_verify_keys: BTreeMap<KeyId, OldVerifyKey>,
}

impl ServerDocument {
    /// Builds and signs this server's document at `now_ms` with the current key.
    pub fn sign(
        keys: &ServerKeys,
        server: &ServerName,
        version: &str,
        limits: Value,
        now_ms: u64,
    ) -> Value {
        let mut verify_keys = Map::new();
        verify_keys.insert(
            keys.key_id().to_string(),
            serde_json::json!({
                "key": hex::encode(keys.verify_key().as_bytes()),
                "valid_until": now_ms.saturating_add(KEY_VALIDITY_MS),
            }),
        );
        let old_verify_keys: Map<String, Value> = keys
            .old_verify_keys(now_ms)
            .map(|k| {
                (
                    k.id.to_string(),
                    serde_json::json!({
                        "key": hex::encode(k.key.as_bytes()),
                        "expired_at": k.expired_at_ms,
                    }),
                )
            })
            .collect();
        let mut body = Map::new();
        body.insert("type".into(), TYPE.into());
        body.insert("server".into(), server.as_str().into());
        body.insert("version".into(), version.into());
        body.insert("protocol".into(), kez_spec::PROTOCOL_VERSION.into());
        body.insert("federation".into(), FEDERATION_PATH.into());
        body.insert("ts".into(), now_ms.into());
        body.insert(
            "valid_until".into(),
            now_ms.saturating_add(DOCUMENT_VALIDITY_MS).into(),
        );
        body.insert("limits".into(), limits);
        body.insert("verify_keys".into(), Value::Object(verify_keys));
        body.insert("old_verify_keys".into(), Value::Object(old_verify_keys));
        signed::sign(body, keys.signing_key(), Some(keys.key_id().clone()))
    }

    /// Parses and checks a received document (SPEC §9.2): strict JSON, `type` `"server"`,
    /// `server` equal to `expected`, `ts` at most 300 s in the future, not past
    /// `valid_until`, well-formed keys, and a signature that verifies with
    /// `verify_keys[signature.key_id]`.
    pub fn verify(
        bytes: &[u8],
        expected: &ServerName,
        now_ms: u64,
    ) -> Result<ServerDocument, FederationError> {
        let spec = |e: kez_spec::Error| FederationError::invalid(format!("server document: {e}"));
        let invalid = |what: &str| FederationError::invalid(format!("server document: {what}"));
        let obj = SignedObject::parse(bytes, true).map_err(spec)?;
        obj.members().expect_type(TYPE).map_err(spec)?;
        let server = obj.members().str("server").map_err(spec)?;
        if server != expected.as_str() {
            return Err(invalid(&format!(
                "it is for {server:?}, fetched for {expected:?}"
            )));
        }
        let ts_ms = obj.members().uint("ts").map_err(spec)?;
        let valid_until_ms = obj.members().uint("valid_until").map_err(spec)?;
        if ts_ms > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Err(invalid("'ts' is in the future"));
        }
        if valid_until_ms < now_ms {
            return Err(invalid("expired ('valid_until' has passed)"));
        }
        let verify_keys = key_map(obj.body.get("verify_keys"), "valid_until")
            .map_err(|w| invalid(&format!("'verify_keys': {w}")))?
            .into_iter()
            .map(|(id, (key, valid_until_ms))| {
                (
                    id,
                    VerifyKey {
                        key,
                        valid_until_ms,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        let old_verify_keys = match obj.body.get("old_verify_keys") {
            None => BTreeMap::new(),
            some => key_map(some, "expired_at")
                .map_err(|w| invalid(&format!("'old_verify_keys': {w}")))?
                .into_iter()
                .map(|(id, (key, expired_at_ms))| (id, OldVerifyKey { key, expired_at_ms }))
                .collect(),
        };
        // `SignedObject::parse(_, true)` requires `key_id`, so it is always present here.
        let key_id = obj
            .signature
            .key_id
            .as_ref()
            .ok_or_else(|| invalid("signature has no key_id"))?;
        let signer = verify_keys
            .get(key_id)
            .ok_or_else(|| invalid("signed by a key not in 'verify_keys'"))?;
        signed::verify_bytes(&signer.key, &obj.signing_bytes(), &obj.signature.sig)
            .map_err(spec)?;
        let federation = obj.members().str("federation").map_err(spec)?;
        if !federation.starts_with('/') {
            return Err(invalid("'federation' must be an absolute path"));
        }
        Ok(ServerDocument {
            server: expected.clone(),
            version: obj.members().str("version").map_err(spec)?.to_owned(),
            protocol: obj.members().uint("protocol").map_err(spec)?,
            federation: federation.to_owned(),
            ts_ms,
            valid_until_ms,
            limits: match obj.body.get("limits") {
                Some(v @ Value::Object(_)) => v.clone(),
                None => Value::Object(Map::new()),
                Some(_) => return Err(invalid("'limits' must be an object")),
            },
            verify_keys,
            old_verify_keys,
        })
    }

    /// The key `key_id` if it may be trusted for something signed at `at_ms` (SPEC §9.2):
    /// a current key up to its `valid_until`, a retired key up to its `expired_at`.
    pub fn key_at(&self, key_id: &KeyId, at_ms: u64) -> Option<VerifyingKey> {
        if let Some(k) = self.verify_keys.get(key_id) {
            return (at_ms <= k.valid_until_ms).then_some(k.key);
        }
        let k = self.old_verify_keys.get(key_id)?;
        (at_ms <= k.expired_at_ms).then_some(k.key)
    }

    /// True when the document names `key_id` at all, current or retired.
    pub fn knows_key(&self, key_id: &KeyId) -> bool {
        self.verify_keys.contains_key(key_id) || self.old_verify_keys.contains_key(key_id)
    }
}

/// Parses `{"<key id>": {"key": "<64 hex>", "<time_member>": <ms>}, ...}`. Keys must be
/// canonical, non-small-order points (the rule SPEC §2.3 applies to primaries), so a key
/// that some verifier would treat differently is refused up front.
fn key_map(
    value: Option<&Value>,
    time_member: &str,
) -> Result<BTreeMap<KeyId, (VerifyingKey, u64)>, String> {
    let obj = value
        .and_then(Value::as_object)
        .ok_or("must be an object")?;
    let mut out = BTreeMap::new();
    for (id, entry) in obj {
        let id = KeyId::parse(id).map_err(|_| format!("bad key id {id:?}"))?;
        let entry = entry.as_object().ok_or("entries must be objects")?;
        let key = entry
            .get("key")
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or("'key' must be 64 hex characters")?;
        let key = *Primary::from_bytes(&key)
            .map_err(|e| e.to_string())?
            .verifying_key();
        let time = entry
            .get(time_member)
            .and_then(Value::as_u64)
            .filter(|t| *t <= kez_spec::clock::MAX_SAFE_INTEGER)
            .ok_or_else(|| format!("'{time_member}' must be an integer"))?;
        out.insert(id, (key, time));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    fn name(s: &str) -> ServerName {
        ServerName::parse(s).expect("valid name")
    }

    fn signed(keys: &ServerKeys, server: &str) -> Vec<u8> {
        let doc = ServerDocument::sign(
            keys,
            &name(server),
            "kezd/0.1.0",
            serde_json::json!({"max_txn_envelopes": 100}),
            NOW,
        );
        serde_json::to_vec(&doc).expect("serializes")
    }

    /// SPEC §9.2: what is signed verifies, with every member read back.
    #[test]
    fn round_trip() {
        let keys = ServerKeys::generate();
        let doc = ServerDocument::verify(&signed(&keys, "b.example"), &name("b.example"), NOW)
            .expect("verifies");
        assert_eq!(doc.server, name("b.example"));
        assert_eq!(doc.protocol, 1);
        assert_eq!(doc.federation, "/v1/federation");
        assert_eq!(doc.valid_until_ms, NOW + DOCUMENT_VALIDITY_MS);
        assert_eq!(doc.limits["max_txn_envelopes"], 100);
        let k = &doc.verify_keys[keys.key_id()];
        assert_eq!(k.key, keys.verify_key());
        assert_eq!(k.valid_until_ms, NOW + KEY_VALIDITY_MS);
        assert!(doc.old_verify_keys.is_empty());
    }

    /// SPEC §9.2: any change to a signed member, a wrong name, a future `ts`, an expired
    /// document, or a signature by a key not listed is refused.
    #[test]
    fn refusals() {
        let keys = ServerKeys::generate();
        let text = String::from_utf8(signed(&keys, "b.example")).expect("utf-8");
        let verify = |t: &str, expected: &str, now| {
            ServerDocument::verify(t.as_bytes(), &name(expected), now)
        };
        assert!(verify(&text, "b.example", NOW).is_ok());
        let tampered = text.replace("kezd/0.1.0", "kezd/0.1.1");
        assert!(matches!(
            verify(&tampered, "b.example", NOW),
            Err(FederationError::Invalid { .. })
        ));
        assert!(verify(&text, "c.example", NOW).is_err());
        assert!(verify(&text, "b.example", NOW - MAX_FUTURE_MS - 1).is_err());
        assert!(verify(&text, "b.example", NOW - MAX_FUTURE_MS).is_ok());
        assert!(verify(&text, "b.example", NOW + DOCUMENT_VALIDITY_MS + 1).is_err());
        let wrong_type = text.replace("\"type\":\"server\"", "\"type\":\"envelope\"");
        assert!(verify(&wrong_type, "b.example", NOW).is_err());
        // Signed with a key listed under another id.
        let other = ServerKeys::generate();
        let mut doc: Value = serde_json::from_str(&text).expect("json");
        doc["verify_keys"] = serde_json::json!({
            "ed25519:k1": {"key": hex::encode(other.verify_key().as_bytes()), "valid_until": NOW}
        });
        let resigned = serde_json::to_string(&doc).expect("json");
        assert!(verify(&resigned, "b.example", NOW).is_err());
        // A duplicate member anywhere is refused (strict JSON, SPEC §3.3).
        let dup = text.replacen('{', "{\"server\":\"b.example\",", 1);
        assert!(verify(&dup, "b.example", NOW).is_err());
    }

    /// SPEC §9.2 key validity: a current key until its `valid_until`, an old key for what
    /// was signed up to its `expired_at`, never after.
    #[test]
    fn key_validity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ServerKeys::load_or_create(dir.path()).expect("create");
        let rotated_at = NOW - 1000;
        let keys = ServerKeys::rotate_at(dir.path(), rotated_at).expect("rotate");
        let doc = ServerDocument::verify(&signed(&keys, "b.example"), &name("b.example"), NOW)
            .expect("verifies");
        let (cur, old) = (keys.key_id(), first.key_id());
        assert_eq!(doc.key_at(cur, NOW), Some(keys.verify_key()));
        assert_eq!(
            doc.key_at(cur, NOW + KEY_VALIDITY_MS),
            Some(keys.verify_key())
        );
        assert_eq!(doc.key_at(cur, NOW + KEY_VALIDITY_MS + 1), None);
        assert_eq!(doc.key_at(old, rotated_at - 1), Some(first.verify_key()));
        assert_eq!(doc.key_at(old, rotated_at), Some(first.verify_key()));
        assert_eq!(doc.key_at(old, rotated_at + 1), None);
        assert_eq!(doc.key_at(old, NOW), None);
        let unknown = KeyId::parse("ed25519:k9").expect("valid");
        assert_eq!(doc.key_at(&unknown, NOW), None);
        assert!(!doc.knows_key(&unknown));
        assert!(doc.knows_key(old));
    }
}
