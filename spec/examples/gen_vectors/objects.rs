//! Vectors of identities and signed objects (SPEC §2, §3).

use super::*;

pub(crate) fn identities(dir: &Path) {
    let ids: Vec<Value> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| {
            json!({
                "name": n,
                "seed": hex::encode(seed(n)),
                "primary": primary(n).to_string(),
                "x25519_secret": hex::encode(e2ee::x25519_secret(&seed(n))),
                "x25519_public": hex::encode(e2ee::x25519_public(&primary(n))),
            })
        })
        .collect();
    let alice_hex = hex::encode(primary("alice").to_bytes());
    // A y coordinate with no curve point: search upwards from 2 for the first that fails.
    let off_curve = (2u8..=255)
        .map(|y| {
            let mut b = [0u8; 32];
            b[0] = y;
            b
        })
        .find(|b| Primary::from_bytes(b).is_err_and(|e| e.to_string().contains("canonical")))
        .expect("some small y is off the curve");
    let invalid = json!([
        {"name": "uppercase hex", "primary": format!("ed25519:{}", alice_hex.to_uppercase()), "error": "invalid_primary"},
        {"name": "short", "primary": format!("ed25519:{}", &alice_hex[..62]), "error": "invalid_primary"},
        {"name": "wrong prefix", "primary": format!("ed448:{alice_hex}"), "error": "invalid_primary"},
        {"name": "no prefix", "primary": alice_hex, "error": "invalid_primary"},
        {"name": "small order: identity", "primary": format!("ed25519:01{}", "00".repeat(31)), "error": "invalid_primary"},
        {"name": "small order: order 2", "primary": format!("ed25519:ec{}7f", "ff".repeat(30)), "error": "invalid_primary"},
        {"name": "not on the curve", "primary": format!("ed25519:{}", hex::encode(off_curve)), "error": "invalid_primary"},
        {"name": "non-canonical y (y = p + 3, a point of large order)", "primary": format!("ed25519:f0{}7f", "ff".repeat(30)), "error": "invalid_primary"},
        {"name": "non-canonical y (y = p + 1, the identity)", "primary": format!("ed25519:ee{}7f", "ff".repeat(30)), "error": "invalid_primary"},
    ]);
    write(
        dir,
        "kez-identities.json",
        "Fixed identities: ed25519 seed, primary, and their x25519 forms; and primaries that must be rejected.",
        &["§2.3", "§6.2"],
        json!({"identities": ids, "invalid_primaries": invalid}),
    );
}

pub(crate) fn sample_body() -> Map<String, Value> {
    let Value::Object(m) = json!({
        "type": "registration",
        "handle": "alice",
        "server": "kez.lat",
        "primary": primary("alice").to_string(),
        "ts": NOW_MS,
        "x-unknown": {"nested": ["é", 1, true, null]},
    }) else {
        unreachable!("a literal object")
    };
    m
}

pub(crate) fn signed_objects(dir: &Path) {
    let alice = key("alice");
    let signed = signed::sign(sample_body(), &alice, None);
    let signing_text = String::from_utf8(json::canonical(&sample_body())).expect("utf-8");
    let pk = hex::encode(alice.verifying_key().to_bytes());
    let pretty = serde_json::to_string_pretty(&signed).expect("serializes");
    // Members reversed and spaced: a different JSON form of the same object.
    let reordered = {
        let Value::Object(m) = &signed else {
            unreachable!("signed object")
        };
        let parts: Vec<String> = m
            .iter()
            .rev()
            .map(|(k, v)| format!("{} : {}", text(&Value::String(k.clone())), text(v)))
            .collect();
        format!("{{ {} }}", parts.join(" , "))
    };
    let mut tampered = signed.clone();
    tampered["handle"] = "alicf".into();
    let mut alg = signed.clone();
    alg["signature"]["alg"] = "schnorr".into();
    let mut upper = signed.clone();
    upper["signature"]["sig"] = signed["signature"]["sig"]
        .as_str()
        .expect("sig")
        .to_uppercase()
        .into();
    let mut short = signed.clone();
    short["signature"]["sig"] = signed["signature"]["sig"].as_str().expect("sig")[..126].into();
    // Signed over the raw (non-canonical) text instead of the JCS bytes.
    let raw_body = serde_json::to_string_pretty(&sample_body()).expect("serializes");
    let mut raw = sample_body();
    raw.insert(
        "signature".into(),
        json!({"alg": "ed25519", "sig": hex::encode(alice.sign(raw_body.as_bytes()).to_bytes())}),
    );
    let compact = text(&signed);
    let duplicate = compact.replacen("{", "{\"handle\":\"mallory\",", 1);
    let vectors = json!([
        {"name": "compact", "public_key": pk, "object_text": compact, "signing_text": signing_text, "valid": true},
        {"name": "pretty", "public_key": pk, "object_text": pretty, "signing_text": signing_text, "valid": true},
        {"name": "members reordered and spaced", "public_key": pk, "object_text": reordered, "signing_text": signing_text, "valid": true},
        {"name": "tampered member", "public_key": pk, "object_text": text(&tampered), "valid": false, "error": "invalid_signature"},
        {"name": "wrong key", "public_key": hex::encode(primary("bob").to_bytes()), "object_text": compact, "signing_text": signing_text, "valid": false, "error": "invalid_signature"},
        {"name": "unsupported alg", "public_key": pk, "object_text": text(&alg), "valid": false, "error": "unsupported_alg"},
        {"name": "signed over non-canonical bytes", "public_key": pk, "object_text": text(&Value::Object(raw)), "signing_text": signing_text, "valid": false, "error": "invalid_signature"},
        {"name": "duplicate member", "public_key": pk, "object_text": duplicate, "valid": false, "error": "duplicate_member"},
        {"name": "uppercase sig hex", "public_key": pk, "object_text": text(&upper), "valid": false, "error": "malformed_signature"},
        {"name": "short sig", "public_key": pk, "object_text": text(&short), "valid": false, "error": "malformed_signature"},
    ]);
    write(
        dir,
        "kez-signed-objects.json",
        "Signed objects: the signature covers JCS of the object minus `signature`, unknown members included.",
        &["§3.1", "§3.2", "§3.3", "§3.4", "§3.5"],
        json!({"vectors": vectors}),
    );
}

/// `obj` with `member` set to `value` and signed again by `key`: a signature that verifies,
/// so the refusal is of the value (SPEC §3.3, §4.1, §6.1).
pub(crate) fn resigned(obj: &Value, member: &str, value: Value, key: &SigningKey) -> Value {
    let mut body = obj.as_object().expect("a signed object").clone();
    body.insert(member.into(), value);
    signed::sign(body, key, None)
}

/// `obj` with an unknown member `n` = 0, signed by `key`, and its text with `0` written `-0`:
/// the signature covers the same JCS bytes (RFC 8785 writes `-0` as `0`), and the spelling
/// alone is refused (SPEC §3.3).
pub(crate) fn with_minus_zero(obj: &Value, key: &SigningKey) -> (Value, String) {
    let zero = resigned(obj, "n", json!(0), key);
    let written = text(&zero).replacen("\"n\":0", "\"n\":-0", 1);
    assert!(written.contains("\"n\":-0"), "the member is written once");
    (zero, written)
}
