//! Mutating valid vectors (SPEC §3.3, §3.4, §7.1, §9.3): every truncation, bit flip, case change
//! or duplicated member is rejected with a typed error and never panics; reordering members —
//! the one harmless change — still verifies and keeps the message id.

use std::path::Path;

use kez_spec::auth::{AuthRequest, Credential};
use kez_spec::envelope::SignedEnvelope;
use kez_spec::registration::Registration;
use kez_spec::s2s::ServerAuth;
use kez_spec::{Handle, Primary, ServerName};
use proptest::prelude::*;
use serde_json::Value;

fn vector(file: &str, name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(file);
    let doc: Value =
        serde_json::from_slice(&std::fs::read(path).expect("vector file")).expect("JSON");
    doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["name"] == name)
        .cloned()
        .expect("named vector")
}

fn envelope_text() -> String {
    vector("kez-envelope.json", "valid, pretty-printed (same id)")["object_text"]
        .as_str()
        .expect("text")
        .to_owned()
}

fn registration_text() -> String {
    vector("kez-registration.json", "valid")["object_text"]
        .as_str()
        .expect("text")
        .to_owned()
}

const NOW_MS: u64 = 1_764_100_000_000;

/// The whole check a server runs on an envelope; `Ok(id)` only when it would be accepted.
fn check_envelope(bytes: &[u8]) -> Result<String, kez_spec::Error> {
    let env = SignedEnvelope::parse(bytes)?;
    env.verify()?;
    Ok(env.id.to_string())
}

fn check_registration(bytes: &[u8]) -> Result<(), kez_spec::Error> {
    let here = ServerName::parse("kez.lat").expect("valid");
    Registration::verify(bytes, &here, NOW_MS, 300_000).map(|_| ())
}

/// Applies one mutation; returns None when it would leave the bytes unchanged.
fn mutate(bytes: &[u8], kind: u8, at: usize, bit: u8) -> Option<Vec<u8>> {
    let mut b = bytes.to_vec();
    let i = at % b.len();
    match kind % 3 {
        0 => b.truncate(i),
        1 => b[i] ^= 1 << (bit % 8),
        _ => {
            let c = b[i];
            let swapped = if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            if swapped == c {
                return None;
            }
            b[i] = swapped;
        }
    }
    Some(b)
}

/// Inserts a copy of the member at `pick` at the object's start: a duplicate name.
fn duplicate_member(text: &str, pick: usize) -> String {
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    let obj = v.as_object().expect("object");
    let (k, val) = obj.iter().nth(pick % obj.len()).expect("non-empty");
    text.replacen('{', &format!("{{{}:{},", Value::String(k.clone()), val), 1)
}

/// Rewrites the object with its top-level members in a shuffled order.
fn reorder(text: &str, seed: u64) -> String {
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    let mut members: Vec<(String, Value)> =
        v.as_object().expect("object").clone().into_iter().collect();
    let n = members.len();
    for i in 0..n {
        let j = ((seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(i as u64))
            >> 33) as usize
            % n;
        members.swap(i, j);
    }
    let parts: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), v))
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn envelope_mutations_are_rejected(kind in 0u8..3, at in any::<usize>(), bit in any::<u8>()) {
        let text = envelope_text();
        if let Some(m) = mutate(text.as_bytes(), kind, at, bit) {
            // A case change inside whitespace-free JSON syntax (true/null) or a key is still
            // caught: every byte of the pretty text is either structure or signed content.
            prop_assert!(check_envelope(&m).is_err(), "accepted: {}", String::from_utf8_lossy(&m));
        }
    }

    #[test]
    fn registration_mutations_are_rejected(kind in 0u8..3, at in any::<usize>(), bit in any::<u8>()) {
        let text = registration_text();
        if let Some(m) = mutate(text.as_bytes(), kind, at, bit) {
            prop_assert!(check_registration(&m).is_err());
        }
    }

    #[test]
    fn duplicated_members_are_rejected(pick in any::<usize>()) {
        let text = duplicate_member(&envelope_text(), pick);
        prop_assert_eq!(check_envelope(text.as_bytes()).map_err(|e| e.code()), Err("duplicate_member"));
        let text = duplicate_member(&registration_text(), pick);
        prop_assert_eq!(check_registration(text.as_bytes()).map_err(|e| e.code()), Err("duplicate_member"));
    }

    #[test]
    fn reordered_members_still_verify(seed in any::<u64>()) {
        let text = envelope_text();
        let original = check_envelope(text.as_bytes()).expect("valid vector");
        prop_assert_eq!(check_envelope(reorder(&text, seed).as_bytes()), Ok(original));
        prop_assert!(check_registration(reorder(&registration_text(), seed).as_bytes()).is_ok());
    }

    #[test]
    fn credential_mutations_are_rejected(kind in 0u8..3, at in any::<usize>(), bit in any::<u8>()) {
        let v = vector("kez-auth.json", "poll");
        let cred = v["credential"].as_str().expect("credential");
        let handle = Handle::parse("alice").expect("valid");
        let primary = Primary::parse(&format!("ed25519:{}", v["public_key"].as_str().expect("key"))).expect("valid");
        let now = v["now"].as_u64().expect("now");
        if let Some(m) = mutate(cred.as_bytes(), kind, at, bit) {
            let got = std::str::from_utf8(&m)
                .map_err(|_| kez_spec::Error::Unauthorized)
                .and_then(Credential::parse)
                .and_then(|c| AuthRequest::Poll { handle: &handle, since: 42 }.verify(&c, &primary, now, 60));
            prop_assert_eq!(got, Err(kez_spec::Error::Unauthorized));
        }
    }

    #[test]
    fn s2s_header_mutations_are_rejected(kind in 0u8..3, at in any::<usize>(), bit in any::<u8>()) {
        let v = vector("kez-s2s.json", "transaction");
        let header = v["header_text"].as_str().expect("header");
        let key = kez_spec::SigningKey::from_bytes(
            &hex::decode(v["server_seed"].as_str().expect("seed")).expect("hex").try_into().expect("32 bytes"),
        );
        let here = ServerName::parse("b.example").expect("valid");
        let req = kez_spec::s2s::RequestParts {
            method: "PUT",
            path_and_query: v["path"].as_str().expect("path"),
            body: v["body_text"].as_str().expect("body").as_bytes(),
        };
        let original = ServerAuth::parse(header).expect("valid vector");
        if let Some(m) = mutate(header.as_bytes(), kind, at, bit) {
            let parsed = std::str::from_utf8(&m)
                .map_err(|_| kez_spec::Error::S2sUnauthorized("not UTF-8"))
                .and_then(ServerAuth::parse);
            let got = parsed
                .clone()
                .and_then(|a| a.verify(req, &here, &key.verifying_key(), v["now"].as_u64().expect("now"), 120));
            // SPEC §9.3: refused, or another spelling of the very same header (the scheme and
            // the parameter names in any case, whitespace around `,` and `=`).
            prop_assert!(
                got.is_err() || parsed.as_ref() == Ok(&original),
                "accepted: {}",
                String::from_utf8_lossy(&m)
            );
        }
    }
}
