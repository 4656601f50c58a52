//! Vectors of account deletions (SPEC §4.7 checks 1–8; check 9 needs the server's users).

use super::*;

fn deletion(handle: &str, server: &str, ts: u64) -> Value {
    Deletion {
        handle: parse(handle),
        server: parse(server),
        primary: primary("alice"),
        ts_ms: ts,
    }
    .sign(&key("alice"))
}

pub(crate) fn deletions(dir: &Path) {
    let ok = deletion("alice", "kez.lat", NOW_MS - 1_000);
    let mut tampered = ok.clone();
    tampered["handle"] = "alicf".into();
    let mut bad_handle = ok.clone();
    bad_handle["handle"] = "Alice".into();
    let mut other_key = ok.clone();
    other_key["primary"] = primary("bob").to_string().into();
    // The same claims signed as a registration: valid as one, never as a deletion (SPEC §3.6).
    let as_registration = registration("alice", "kez.lat", NOW_MS - 1_000);
    let negative_ts = resigned(&ok, "ts", json!(-1_000), &key("alice"));
    let v = claim_vector;
    let vectors = json!([
        v("valid", &ok, NOW_MS, None),
        v(
            "a registration of the same claims",
            &as_registration,
            NOW_MS,
            Some("malformed_request")
        ),
        v(
            "negative ts",
            &negative_ts,
            NOW_MS,
            Some("malformed_request")
        ),
        v(
            "invalid handle",
            &bad_handle,
            NOW_MS,
            Some("invalid_handle")
        ),
        v(
            "wrong server",
            &deletion("alice", "other.example", NOW_MS),
            NOW_MS,
            Some("wrong_server")
        ),
        v(
            "tampered handle",
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
    ]);
    write(
        dir,
        "kez-deletion.json",
        "Account deletions checked by the server `server` at `now_ms`, in the order of SPEC \
         §4.7's checks 1–8.",
        &["§4.7", "§3.6"],
        json!({"vectors": vectors}),
    );
}
