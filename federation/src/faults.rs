//! Fault injection in federation for the conformance suite's self-test (`kez-conformance
//! faults`): the outbound checks of SPEC §9.1, §9.2 and §9.8 that a peer relies on, each
//! skippable in a test build so that CI proves a conformance case notices when it is skipped.
//!
//! This module exists only with the cargo feature `faults`, which kezd's own `faults` feature
//! turns on (and which no release build enables, see kezd's `faults.rs`); without it,
//! [`on`] is a constant `false` and [`verify_document`] is [`ServerDocument::verify`]. The
//! names, their descriptions and the `KEZ_FAULTS` variable are kezd's, and so is the switch:
//! [`on`] is kez-spec's hook, which kezd installs at start.

use kez_spec::server_document::ServerDocument;
use kez_spec::signed::{self, SignedObject};
use kez_spec::{Error, KeyId, ServerName, VerifyingKey};
use serde_json::{Map, Value};

use crate::ServerKeys;

pub use kez_spec::faults::on;

/// [`ServerDocument::verify`], minus the checks the enabled faults skip: a document whose
/// signature does not verify, whose `type` is not `"server"`, that names another server, whose
/// `ts` is too far ahead or whose `valid_until` has passed is taken as if it were good, with
/// the keys it publishes.
pub fn verify_document(
    bytes: &[u8],
    expected: &ServerName,
    now_ms: u64,
) -> Result<ServerDocument, Error> {
    let skip_signature = crate::faults::on("accept_document_bad_signature");
    let skip_type = crate::faults::on("accept_document_wrong_type");
    let skip_server = crate::faults::on("accept_document_for_other_server");
    let skip_future = crate::faults::on("accept_document_from_future");
    let skip_expiry = crate::faults::on("accept_expired_document");
    if !(skip_signature || skip_type || skip_server || skip_future || skip_expiry) {
        return ServerDocument::verify(bytes, expected, now_ms);
    }
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(bytes) else {
        return ServerDocument::verify(bytes, expected, now_ms);
    };
    // Each fault skips its own check only: the signature still counts unless its fault is on.
    if !skip_signature && !signature_verifies(bytes, &body) {
        return ServerDocument::verify(bytes, expected, now_ms);
    }
    if skip_type {
        body.insert("type".into(), "server".into());
    }
    if skip_server {
        body.insert("server".into(), expected.as_str().into());
    }
    if skip_future {
        body.insert("ts".into(), now_ms.into());
    }
    if skip_expiry {
        body.insert("valid_until".into(), (now_ms + 3_600_000).into());
    }
    // Every change above breaks the signature, and a fault cannot sign as the peer: sign again
    // with a throwaway key under the same id, verify, then put the published key back.
    let Some((key_id, published)) = signing_key(&body) else {
        return ServerDocument::verify(bytes, expected, now_ms);
    };
    let throwaway = ServerKeys::generate();
    let throwaway = throwaway.signing_key();
    if let Some(entry) = body
        .get_mut("verify_keys")
        .and_then(|keys| keys.get_mut(key_id.as_str()))
        .and_then(Value::as_object_mut)
    {
        let public = hex::encode(throwaway.verifying_key().as_bytes());
        entry.insert("key".into(), public.into());
    }
    body.remove("signature");
    let resigned = signed::sign(body, throwaway, Some(key_id.clone()));
    let mut doc = ServerDocument::verify(resigned.to_string().as_bytes(), expected, now_ms)?;
    if let Some(entry) = doc.verify_keys.get_mut(&key_id) {
        entry.key = published;
    }
    Ok(doc)
}

/// Whether the document's signature verifies with the key `verify_keys` publishes for it.
fn signature_verifies(bytes: &[u8], body: &Map<String, Value>) -> bool {
    let (Ok(obj), Some((_, key))) = (SignedObject::parse(bytes, true), signing_key(body)) else {
        return false;
    };
    signed::verify_bytes(&key, &obj.signing_bytes(), &obj.signature.sig).is_ok()
}

/// The id of the key that signed the document and the key `verify_keys` publishes for it.
fn signing_key(body: &Map<String, Value>) -> Option<(KeyId, VerifyingKey)> {
    let id = body.get("signature")?.get("key_id")?.as_str()?;
    let hex_key = body.get("verify_keys")?.get(id)?.get("key")?.as_str()?;
    let bytes = <[u8; 32]>::try_from(hex::decode(hex_key).ok()?).ok()?;
    Some((
        KeyId::parse(id).ok()?,
        VerifyingKey::from_bytes(&bytes).ok()?,
    ))
}
