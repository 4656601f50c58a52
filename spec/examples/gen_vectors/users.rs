//! Vectors of registrations and envelopes (SPEC §4.1, §6).

use super::*;

pub(crate) fn registration(handle: &str, server: &str, ts: u64) -> Value {
    Registration {
        handle: parse(handle),
        server: parse(server),
        primary: primary("alice"),
        ts_ms: ts,
    }
    .sign(&key("alice"))
}

/// A vector of a registration or a deletion (SPEC §4.1, §4.7) checked at kez.lat at `now`.
pub(crate) fn claim_vector(name: &str, obj: &Value, now: u64, err: Option<&str>) -> Value {
    let mut item = json!({"name": name, "object_text": text(obj), "server": "kez.lat", "now_ms": now, "valid": err.is_none()});
    if let Some(e) = err {
        item["error"] = e.into();
    }
    item
}

pub(crate) fn registrations(dir: &Path) {
    let ok = registration("alice", "kez.lat", NOW_MS - 1_000);
    let mut tampered = ok.clone();
    tampered["ts"] = (NOW_MS - 999).into();
    let mut bad_handle = ok.clone();
    bad_handle["handle"] = "Alice".into();
    let mut other_key = ok.clone();
    other_key["primary"] = primary("bob").to_string().into();
    let v = claim_vector;
    let negative_ts = resigned(&ok, "ts", json!(-1_000), &key("alice"));
    let (minus_zero, minus_zero_text) = with_minus_zero(&ok, &key("alice"));
    let vectors = json!([
        v("valid", &ok, NOW_MS, None),
        v(
            "negative ts (the wrong type, not an old time)",
            &negative_ts,
            NOW_MS,
            Some("malformed_request")
        ),
        {"name": "-0 in an unknown member", "object_text": minus_zero_text, "server": "kez.lat", "now_ms": NOW_MS, "valid": false, "error": "malformed_request"},
        v("the same member written 0", &minus_zero, NOW_MS, None),
        v(
            "valid at the edge of the window",
            &ok,
            NOW_MS - 1_000 + 300_000,
            None
        ),
        v(
            "stale by one millisecond",
            &ok,
            NOW_MS - 1_000 + 300_001,
            Some("stale_timestamp")
        ),
        v(
            "from the future",
            &ok,
            NOW_MS - 1_000 - 300_001,
            Some("stale_timestamp")
        ),
        v(
            "wrong server",
            &registration("alice", "other.example", NOW_MS),
            NOW_MS,
            Some("wrong_server")
        ),
        v(
            "reserved handle",
            &registration("admin", "kez.lat", NOW_MS),
            NOW_MS,
            Some("handle_reserved")
        ),
        v(
            "invalid handle",
            &bad_handle,
            NOW_MS,
            Some("invalid_handle")
        ),
        v(
            "tampered timestamp",
            &tampered,
            NOW_MS,
            Some("invalid_signature")
        ),
        v(
            "primary swapped",
            &other_key,
            NOW_MS,
            Some("invalid_signature")
        ),
    ]);
    write(
        dir,
        "kez-registration.json",
        "Registrations checked by the server `server` at `now_ms`, in SPEC §4.1's order.",
        &["§4.1", "§2.1"],
        json!({"vectors": vectors}),
    );
}

pub(crate) fn envelope(ts: u64, text_plain: &str, nonce: [u8; 12]) -> Value {
    Envelope::seal(
        &key("alice"),
        parse::<Address>("alice@a.example"),
        parse::<Address>("bob@b.example"),
        &primary("bob"),
        ts,
        nonce,
        json!({"text": text_plain}).to_string().as_bytes(),
    )
    .expect("seals")
    .sign(&key("alice"))
}

pub(crate) fn envelopes(dir: &Path) {
    let ok = envelope(NOW_MS, "hello bob", [1; 12]);
    let id = MessageId::of_canonical(&json::canonical(&ok)).to_string();
    let mut tampered = ok.clone();
    let mut ct = B64
        .decode(ok["ciphertext"].as_str().expect("ciphertext"))
        .expect("base64");
    ct[0] ^= 1;
    tampered["ciphertext"] = B64.encode(&ct).into();
    let mut v2 = ok.clone();
    v2["v"] = 2.into();
    let mut short_nonce = ok.clone();
    short_nonce["nonce"] = "0102".into();
    let mut unsigned = ok.clone();
    unsigned
        .as_object_mut()
        .expect("object")
        .remove("signature");
    let v = |name: &str, obj: &Value, now: u64, err: Option<&str>| {
        let mut item =
            json!({"name": name, "object_text": text(obj), "now_ms": now, "valid": err.is_none()});
        match err {
            Some(e) => item["error"] = e.into(),
            None => {
                item["message_id"] = MessageId::of_canonical(&json::canonical(obj))
                    .to_string()
                    .into()
            }
        }
        item
    };
    let negative_ts = resigned(&ok, "ts", json!(-1_000), &key("alice"));
    let (minus_zero, minus_zero_text) = with_minus_zero(&ok, &key("alice"));
    let vectors = json!([
        v("valid", &ok, NOW_MS, None),
        v("negative ts (the wrong type, not an old time)", &negative_ts, NOW_MS, Some("malformed_request")),
        {"name": "-0 in an unknown member", "object_text": minus_zero_text, "now_ms": NOW_MS, "valid": false, "error": "malformed_request"},
        v("the same member written 0", &minus_zero, NOW_MS, None),
        {"name": "valid, pretty-printed (same id)", "object_text": serde_json::to_string_pretty(&ok).expect("serializes"), "now_ms": NOW_MS, "valid": true, "message_id": id},
        v("valid, empty text", &envelope(NOW_MS, "", [2; 12]), NOW_MS, None),
        v("stale", &ok, NOW_MS + 300_001, Some("stale_timestamp")),
        v("tampered ciphertext", &tampered, NOW_MS, Some("invalid_signature")),
        v("unsupported version", &v2, NOW_MS, Some("unsupported_version")),
        v("nonce too short", &short_nonce, NOW_MS, Some("malformed_request")),
        v("unsigned (the prototype allowed it; v1 refuses)", &unsigned, NOW_MS, Some("malformed_signature")),
    ]);
    write(
        dir,
        "kez-envelope.json",
        "Envelopes from alice@a.example to bob@b.example: parse, verify with from_primary, window ±300 s at now_ms, message id.",
        &["§6.1", "§6.4", "§8.1"],
        json!({"vectors": vectors}),
    );
}
