//! The signed server document served at `/.well-known/kez` (SPEC §9.2): who a server is,
//! where its federation API lives, its limits, and the keys that verify what it signs.
//!
//! Signing writes the document from the keys a server holds; verifying applies every check
//! SPEC §9.2 puts on a receiver, and [`ServerDocument::key_at`] applies the key validity rules,
//! which are what stop a stolen retired key from signing new requests. Where the keys live and
//! how documents are fetched and cached is federation's business, not this module's.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::signed::{self, SignedObject};
use crate::{Error, KeyId, Primary, ServerName, VerifyingKey};

/// The document's `type` (SPEC §3.6).
pub const TYPE: &str = "server";
/// The optional parts of protocol v1 a document advertises in `capabilities` (SPEC §9.2):
/// account deletion (SPEC §4.7).
pub const CAPABILITIES: &[&str] = &["account_deletion"];

/// The federation API's path prefix in protocol v1.
pub const FEDERATION_PATH: &str = "/v1/federation";
/// A document is valid this long after it is signed: `valid_until` = `ts` + 24 h.
pub const DOCUMENT_VALIDITY_MS: u64 = 24 * 60 * 60 * 1000;
/// A current key is published as valid this long after the document is signed.
pub const KEY_VALIDITY_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// A document's `ts` may be this far in the future (SPEC §9.2).
pub const MAX_FUTURE_MS: u64 = 300_000;

/// What a server says of itself in its document besides its name and keys (SPEC §9.2).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Published<'a, L> {
    /// The implementation, e.g. `kezd/0.1.0`.
    pub version: &'a str,
    /// The limits it enforces, normally [`Limits`](crate::api::limits::Limits).
    pub limits: &'a L,
    /// Who may register: `open`, `token` or `closed` (SPEC §4.1 check 10); left out by a
    /// server that does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<&'a str>,
}

impl<'a, L> Published<'a, L> {
    /// `version` and `limits`, saying nothing of registration.
    pub fn new(version: &'a str, limits: &'a L) -> Self {
        Published {
            version,
            limits,
            registration: None,
        }
    }

    /// The same, publishing the registration policy `policy`.
    pub fn registration(self, policy: &'a str) -> Self {
        Published {
            registration: Some(policy),
            ..self
        }
    }
}

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
    /// Who may register (`open`, `token`, `closed`), when the server says; a value this
    /// version does not know is kept as sent.
    pub registration: Option<String>,
    /// Current keys.
    pub verify_keys: BTreeMap<KeyId, VerifyKey>,
    /// Retired keys.
    pub old_verify_keys: BTreeMap<KeyId, OldVerifyKey>,
}

impl ServerDocument {
    /// Writes and signs a server's document at `now_ms` with its current key `key` (named
    /// `key_id`), listing `old_keys` — `(id, key, expired_at)` — as retired, and what it
    /// `published` of itself.
    pub fn sign<'a, L: Serialize>(
        key: &SigningKey,
        key_id: &KeyId,
        old_keys: impl IntoIterator<Item = (&'a KeyId, VerifyingKey, u64)>,
        server: &ServerName,
        published: &Published<'_, L>,
        now_ms: u64,
    ) -> Result<Value, Error> {
        let mut verify_keys = BTreeMap::from([(
            key_id.as_str(),
            KeyEntry {
                key: hex::encode(key.verifying_key().as_bytes()),
                valid_until: Some(now_ms.saturating_add(KEY_VALIDITY_MS)),
                expired_at: None,
            },
        )]);
        if crate::faults::on("document_signing_key_unlisted") {
            verify_keys.clear();
        }
        let old_verify_keys = old_keys
            .into_iter()
            .map(|(id, key, expired_at)| {
                let entry = KeyEntry {
                    key: hex::encode(key.as_bytes()),
                    valid_until: None,
                    expired_at: Some(expired_at),
                };
                (id.as_str(), entry)
            })
            .collect();
        let body = Unsigned {
            kind: TYPE,
            server: server.as_str(),
            protocol: crate::PROTOCOL_VERSION,
            federation: FEDERATION_PATH,
            ts: now_ms,
            valid_until: now_ms.saturating_add(DOCUMENT_VALIDITY_MS),
            published,
            capabilities: if crate::faults::on("no_deletion_capability") {
                &[]
            } else {
                CAPABILITIES
            },
            verify_keys,
            old_verify_keys,
        };
        match serde_json::to_value(body) {
            Ok(Value::Object(body)) => Ok(signed::sign(body, key, Some(key_id.clone()))),
            Ok(_) => Err(Error::malformed("server document: not an object")),
            Err(e) => Err(Error::malformed(format!("server document: {e}"))),
        }
    }

    /// Parses and checks a received document (SPEC §9.2): strict JSON, `type` `"server"`,
    /// `server` equal to `expected`, `ts` at most 300 s in the future, not past
    /// `valid_until`, well-formed keys, and a signature that verifies with
    /// `verify_keys[signature.key_id]`.
    pub fn verify(
        bytes: &[u8],
        expected: &ServerName,
        now_ms: u64,
    ) -> Result<ServerDocument, Error> {
        let invalid = |what: &str| Error::malformed(what.to_owned());
        let obj = SignedObject::parse(bytes, true)?;
        obj.members().expect_type(TYPE)?;
        let server = obj.members().str("server")?;
        if server != expected.as_str() {
            return Err(invalid(&format!(
                "it is for {server:?}, fetched for {expected:?}"
            )));
        }
        let ts_ms = obj.members().uint("ts")?;
        let valid_until_ms = obj.members().uint("valid_until")?;
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
        signed::verify_bytes(&signer.key, &obj.signing_bytes(), &obj.signature.sig)?;
        let federation = obj.members().str("federation")?;
        if !federation.starts_with('/') {
            return Err(invalid("'federation' must be an absolute path"));
        }
        Ok(ServerDocument {
            server: expected.clone(),
            version: obj.members().str("version")?.to_owned(),
            protocol: obj.members().uint("protocol")?,
            federation: federation.to_owned(),
            ts_ms,
            valid_until_ms,
            limits: match obj.body.get("limits") {
                Some(v @ Value::Object(_)) => v.clone(),
                None => Value::Object(Map::new()),
                Some(_) => return Err(invalid("'limits' must be an object")),
            },
            registration: match obj.body.get("registration") {
                None => None,
                Some(Value::String(policy)) => Some(policy.clone()),
                Some(_) => return Err(invalid("'registration' must be a string")),
            },
            verify_keys,
            old_verify_keys,
        })
    }

    /// The key `key_id` if it may be trusted for something signed at `at_ms` (SPEC §9.2):
    /// a current key up to its `valid_until`, a retired key up to its `expired_at`.
    pub fn key_at(&self, key_id: &KeyId, at_ms: u64) -> Option<VerifyingKey> {
        if let Some(k) = self.verify_keys.get(key_id) {
            let trusted = at_ms <= k.valid_until_ms || crate::faults::on("trust_expired_key");
            return trusted.then_some(k.key);
        }
        let k = self.old_verify_keys.get(key_id)?;
        let trusted = at_ms <= k.expired_at_ms || crate::faults::on("trust_retired_key");
        trusted.then_some(k.key)
    }

    /// True when the document names `key_id` at all, current or retired.
    pub fn knows_key(&self, key_id: &KeyId) -> bool {
        self.verify_keys.contains_key(key_id) || self.old_verify_keys.contains_key(key_id)
    }
}

/// The document as signed, minus its signature: the wire shape of SPEC §9.2.
#[derive(Serialize)]
struct Unsigned<'a, L> {
    #[serde(rename = "type")]
    kind: &'static str,
    server: &'a str,
    protocol: u64,
    federation: &'static str,
    ts: u64,
    valid_until: u64,
    #[serde(flatten)]
    published: &'a Published<'a, L>,
    capabilities: &'static [&'static str],
    verify_keys: BTreeMap<&'a str, KeyEntry>,
    old_verify_keys: BTreeMap<&'a str, KeyEntry>,
}

/// An entry of `verify_keys` (with `valid_until`) or `old_verify_keys` (with `expired_at`).
#[derive(Serialize)]
struct KeyEntry {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_until: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expired_at: Option<u64>,
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
            .filter(|t| *t <= crate::clock::MAX_SAFE_INTEGER)
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

    fn id(s: &str) -> KeyId {
        KeyId::parse(s).expect("valid key id")
    }

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn signed_with(
        current: &SigningKey,
        old: &[(KeyId, VerifyingKey, u64)],
        server: &str,
    ) -> Vec<u8> {
        let doc = ServerDocument::sign(
            current,
            &id("ed25519:k2"),
            old.iter().map(|(id, k, at)| (id, *k, *at)),
            &name(server),
            &Published::new("kezd/0.1.0", &serde_json::json!({"max_txn_envelopes": 100}))
                .registration("token"),
            NOW,
        )
        .expect("signs");
        serde_json::to_vec(&doc).expect("serializes")
    }

    fn signed(current: &SigningKey, server: &str) -> Vec<u8> {
        signed_with(current, &[], server)
    }

    /// SPEC §9.2: what is signed verifies, with every member read back.
    #[test]
    fn round_trip() {
        let k = key(1);
        let doc = ServerDocument::verify(&signed(&k, "b.example"), &name("b.example"), NOW)
            .expect("verifies");
        assert_eq!(doc.server, name("b.example"));
        assert_eq!(doc.protocol, 1);
        assert_eq!(doc.federation, "/v1/federation");
        assert_eq!(doc.valid_until_ms, NOW + DOCUMENT_VALIDITY_MS);
        assert_eq!(doc.limits["max_txn_envelopes"], 100);
        assert_eq!(doc.registration.as_deref(), Some("token"));
        let v = &doc.verify_keys[&id("ed25519:k2")];
        assert_eq!(v.key, k.verifying_key());
        assert_eq!(v.valid_until_ms, NOW + KEY_VALIDITY_MS);
        assert!(doc.old_verify_keys.is_empty());
    }

    /// SPEC §9.2: any change to a signed member, a wrong name, a future `ts`, an expired
    /// document, or a signature by a key not listed is refused.
    #[test]
    fn refusals() {
        let k = key(1);
        let text = String::from_utf8(signed(&k, "b.example")).expect("utf-8");
        let verify = |t: &str, expected: &str, now| {
            ServerDocument::verify(t.as_bytes(), &name(expected), now)
        };
        assert!(verify(&text, "b.example", NOW).is_ok());
        let tampered = text.replace("kezd/0.1.0", "kezd/0.1.1");
        assert_eq!(
            verify(&tampered, "b.example", NOW),
            Err(Error::InvalidSignature)
        );
        assert!(verify(&text, "c.example", NOW).is_err());
        assert!(verify(&text, "b.example", NOW - MAX_FUTURE_MS - 1).is_err());
        assert!(verify(&text, "b.example", NOW - MAX_FUTURE_MS).is_ok());
        assert!(verify(&text, "b.example", NOW + DOCUMENT_VALIDITY_MS + 1).is_err());
        let wrong_type = text.replace("\"type\":\"server\"", "\"type\":\"envelope\"");
        assert!(verify(&wrong_type, "b.example", NOW).is_err());
        // Signed with a key listed under another id.
        let other = key(2);
        let mut doc: Value = serde_json::from_str(&text).expect("json");
        doc["verify_keys"] = serde_json::json!({
            "ed25519:k1": {"key": hex::encode(other.verifying_key().as_bytes()), "valid_until": NOW}
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
        let (first, current) = (key(1), key(2));
        let rotated_at = NOW - 1000;
        let old = [(id("ed25519:k1"), first.verifying_key(), rotated_at)];
        let doc = ServerDocument::verify(
            &signed_with(&current, &old, "b.example"),
            &name("b.example"),
            NOW,
        )
        .expect("verifies");
        let (cur, old) = (id("ed25519:k2"), id("ed25519:k1"));
        assert_eq!(doc.key_at(&cur, NOW), Some(current.verifying_key()));
        assert_eq!(
            doc.key_at(&cur, NOW + KEY_VALIDITY_MS),
            Some(current.verifying_key())
        );
        assert_eq!(doc.key_at(&cur, NOW + KEY_VALIDITY_MS + 1), None);
        assert_eq!(
            doc.key_at(&old, rotated_at - 1),
            Some(first.verifying_key())
        );
        assert_eq!(doc.key_at(&old, rotated_at), Some(first.verifying_key()));
        assert_eq!(doc.key_at(&old, rotated_at + 1), None);
        assert_eq!(doc.key_at(&old, NOW), None);
        let unknown = id("ed25519:k9");
        assert_eq!(doc.key_at(&unknown, NOW), None);
        assert!(!doc.knows_key(&unknown));
        assert!(doc.knows_key(&old));
    }
}
