//! Vectors of server-to-server request signing, accepted spellings and refusals (SPEC §9.3).

use super::*;

pub(crate) fn s2s(dir: &Path) {
    let origin: ServerName = parse("a.example");
    let dest: ServerName = parse("b.example");
    let kid: KeyId = parse("ed25519:k1");
    let server = key("server a.example");
    let body = r#"{"origin":"a.example","envelopes":[]}"#;
    let path = "/v1/federation/txn/t1";
    let req = RequestParts {
        method: "PUT",
        path_and_query: path,
        body: body.as_bytes(),
    };
    let who = Parties {
        origin: &origin,
        destination: &dest,
        key_id: &kid,
        ts: NOW_S,
    };
    let auth = ServerAuth::sign(req, who, &server);
    let item = |name: &str,
                method: &str,
                p: &str,
                destination: &str,
                now: u64,
                b: &str,
                header: String,
                err: Option<&str>| {
        let mut v = json!({
            "name": name, "server_seed": hex::encode(seed("server a.example")), "key_id": "ed25519:k1",
            "method": method, "path": p, "origin": "a.example", "destination": destination, "ts": NOW_S, "now": now,
            "body_text": b, "string_text": kez_spec::s2s::signing_string(RequestParts { method, path_and_query: p, body: b.as_bytes() }, Parties { destination: &parse(destination), ..who }),
            "header_text": header, "valid": err.is_none(),
        });
        if let Some(e) = err {
            v["error"] = e.into();
        }
        v
    };
    let h = auth.to_string();
    let get = ServerAuth::sign(
        RequestParts {
            method: "GET",
            path_and_query: "/.well-known/kez?x=1",
            body: b"",
        },
        who,
        &server,
    );
    let mut vectors = vec![
        item(
            "transaction",
            "PUT",
            path,
            "b.example",
            NOW_S,
            body,
            h.clone(),
            None,
        ),
        item(
            "GET with a query and no body",
            "GET",
            "/.well-known/kez?x=1",
            "b.example",
            NOW_S + 120,
            "",
            get.to_string(),
            None,
        ),
    ];
    vectors.extend(s2s_respelled(&item, path, body, &h));
    vectors.extend(s2s_refused(&item, path, body, &h));
    write(
        dir,
        "kez-s2s.json",
        "Server-to-server Authorization headers: a.example's key ed25519:k1 (from server_seed) signs; the receiver is `destination` at `now` with a 120 s window.",
        &["§9.3"],
        json!({"vectors": vectors}),
    );
}

/// The same header as a receiver must read it (SPEC §9.3, RFC 9110 §11): the scheme and the
/// parameter names in any case, whitespace around commas and `=`; the values as signed.
pub(crate) fn s2s_respelled(
    item: &impl Fn(&str, &str, &str, &str, u64, &str, String, Option<&str>) -> Value,
    path: &str,
    body: &str,
    h: &str,
) -> Vec<Value> {
    [
        (
            "scheme in lowercase",
            h.replacen("KEZ-Server", "kez-server", 1),
        ),
        (
            "whitespace around commas and =",
            h.replace(',', " ,\t").replace('=', " = "),
        ),
        (
            "parameter names in uppercase",
            h.replace("origin=", "ORIGIN=").replace("sig=", "Sig="),
        ),
    ]
    .into_iter()
    .map(|(name, header)| item(name, "PUT", path, "b.example", NOW_S, body, header, None))
    .collect()
}

/// The Authorization headers a receiver refuses: for another server, late, or over another
/// body or path than the one received.
pub(crate) fn s2s_refused(
    item: &impl Fn(&str, &str, &str, &str, u64, &str, String, Option<&str>) -> Value,
    path: &str,
    body: &str,
    h: &str,
) -> Vec<Value> {
    vec![
        item(
            "received by another server",
            "PUT",
            path,
            "c.example",
            NOW_S,
            body,
            h.to_owned(),
            Some("wrong_destination"),
        ),
        item(
            "121 s late",
            "PUT",
            path,
            "b.example",
            NOW_S + 121,
            body,
            h.to_owned(),
            Some("stale_timestamp"),
        ),
        item(
            "body changed",
            "PUT",
            path,
            "b.example",
            NOW_S,
            &body.replace("[]", "[ ]"),
            h.to_owned(),
            Some("invalid_signature"),
        ),
        item(
            "path changed",
            "PUT",
            "/v1/federation/txn/t2",
            "b.example",
            NOW_S,
            body,
            h.to_owned(),
            Some("invalid_signature"),
        ),
        item(
            "malformed header",
            "PUT",
            path,
            "b.example",
            NOW_S,
            body,
            h.replace("KEZ-Server ", "X-Matrix "),
            Some("s2s_unauthorized"),
        ),
    ]
}
