//! SPEC §4, users: registration with every check of §4.1's table and their order, the handle
//! record (§4.2), reverse lookup (§4.3), WebFinger (§4.4), health (§4.5) and metrics (§4.6).

use kez_spec::handle::RESERVED;
use serde_json::{Value, json};

use crate::case::{Case, CaseResult, Fail, Single};
use crate::server::check_error_shape;
use crate::user::{User, json_bytes, now_ms, random_key};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    [registration_cases(), lookup_cases()].concat()
}

/// The cases of registration (§4.1): every check of its table, and their order.
fn registration_cases() -> Vec<Case> {
    vec![
        Case::single(
            "s4.register.created",
            &["§4.1", "§4.2"],
            "a new registration is answered 201 with the handle record, whose registration is \
             the object sent (same JCS bytes)",
            |s| Box::pin(register_created(s)),
        ),
        Case::single(
            "s4.register.retry",
            &["§4.1"],
            "resending the identical registration is answered 200 with the same record",
            |s| Box::pin(register_retry(s)),
        ),
        Case::single(
            "s4.register.strict_json",
            &["§4.1", "§3.3"],
            "check 1: duplicate members (400 duplicate_member), trailing bytes and non-integer \
             numbers (400 malformed_request)",
            |s| Box::pin(register_strict_json(s)),
        ),
        Case::single(
            "s4.register.members",
            &["§4.1", "§3.6"],
            "check 2: missing or mistyped members (a negative ts included) and a wrong or \
             missing type are 400 malformed_request",
            |s| Box::pin(register_members(s)),
        ),
        Case::single(
            "s4.register.invalid_handle",
            &["§4.1", "§2.1"],
            "check 3: every handle that breaks §2.1 is 400 invalid_handle",
            |s| Box::pin(register_invalid_handle(s)),
        ),
        Case::single(
            "s4.register.reserved",
            &["§4.1", "§2.1"],
            "check 4: each of the 26 reserved handles is 400 handle_reserved",
            |s| Box::pin(register_reserved(s)),
        ),
        Case::single(
            "s4.register.wrong_server",
            &["§4.1", "§2.2"],
            "check 5: a server member other than this server's name (well formed or not, \
             uppercase included) is 400 wrong_server",
            |s| Box::pin(register_wrong_server(s)),
        ),
        Case::single(
            "s4.register.invalid_primary",
            &["§4.1", "§2.3"],
            "check 6: every malformed, off-curve or small-order primary is 400 invalid_primary",
            |s| Box::pin(register_invalid_primary(s)),
        ),
        Case::single(
            "s4.register.signature_shape",
            &["§4.1", "§3.1", "§3.5", "§3.7"],
            "check 7: a missing, non-object, extra-member or badly encoded signature is \
             malformed_signature; any other alg is unsupported_alg whatever the rest",
            |s| Box::pin(register_signature_shape(s)),
        ),
        Case::single(
            "s4.register.invalid_signature",
            &["§4.1", "§3.4"],
            "check 8: a registration signed by another key, or changed after signing, is 400 \
             invalid_signature",
            |s| Box::pin(register_invalid_signature(s)),
        ),
        Case::single(
            "s4.register.stale",
            &["§4.1"],
            "check 9: a registration 298 s old or ahead is 201; 302 s old or ahead is 400 \
             stale_timestamp (2 s inside and outside each edge of the 300 s window)",
            |s| Box::pin(register_stale(s)),
        ),
        Case::single(
            "s4.register.taken",
            &["§4.1"],
            "checks 10-11: a registered handle is 409 handle_taken, a registered primary 409 \
             primary_taken",
            |s| Box::pin(register_taken(s)),
        ),
        Case::single(
            "s4.register.order",
            &["§4.1", "§3.7"],
            "an object failing several checks gets the code of the first, in §4.1's order",
            |s| Box::pin(register_order(s)),
        ),
        Case::single(
            "s4.register.unknown_members",
            &["§4.1", "§3.2"],
            "unknown members are kept and covered by the signature; an object sent in \
             non-canonical form is stored and served with unchanged JCS bytes",
            |s| Box::pin(register_unknown_members(s)),
        ),
    ]
}

/// The cases of the handle record, reverse lookup, WebFinger, health and metrics (§4.2–§4.6).
fn lookup_cases() -> Vec<Case> {
    vec![
        Case::single(
            "s4.record.registration",
            &["§4.2", "§3.2"],
            "GET /v1/u/<handle> serves the record; its registration verifies with its primary \
             and names the handle and this server",
            |s| Box::pin(record_registration(s)),
        ),
        Case::single(
            "s4.record.unknown",
            &["§4.2", "§10"],
            "an unknown handle is 404 unknown_handle, an invalid one 400 invalid_handle",
            |s| Box::pin(record_unknown(s)),
        ),
        Case::single(
            "s4.by_primary",
            &["§4.3"],
            "GET /v1/by-primary/<primary> serves the same record as GET /v1/u/<handle>",
            |s| Box::pin(by_primary(s)),
        ),
        Case::single(
            "s4.webfinger.jrd",
            &["§4.4"],
            "WebFinger answers the JRD (subject, aliases, self link, primary and server \
             properties) as application/jrd+json with Access-Control-Allow-Origin: *",
            |s| Box::pin(webfinger_jrd(s)),
        ),
        Case::single(
            "s4.webfinger.errors",
            &["§4.4", "§10"],
            "WebFinger errors: a missing or non-acct resource is 400 malformed_request, another \
             server or an unknown handle 404 unknown_handle, all with CORS allowed",
            |s| Box::pin(webfinger_errors(s)),
        ),
        Case::single(
            "s4.healthz",
            &["§4.5", "§12.1"],
            "GET /v1/healthz is 200 {server, status: ok, version}",
            |s| Box::pin(healthz(s)),
        ),
        Case::single(
            "s4.metrics",
            &["§4.6"],
            "GET /metrics is Prometheus text, or 404 not_found where the operator disabled it",
            |s| Box::pin(metrics(s)),
        ),
    ]
}

/// A fresh user's registration fields with `change` applied, signed by its key.
fn signed_with(user: &User, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut fields = user.registration_fields(now_ms());
    change(&mut fields);
    user.sign(fields)
}

async fn expect_register_error(
    user: &User,
    body: Vec<u8>,
    status: u16,
    code: &str,
    what: &str,
) -> CaseResult {
    let resp = user.register_raw(body).await?;
    if resp.status != status || resp.code().as_deref() != Some(code) {
        fail!(
            "{what}: expected {status} {code}, got {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    check_error_shape(&resp)
}

async fn register_created(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let sent = user.registration(now_ms());
    let record = user
        .register_raw(json_bytes(&sent))
        .await?
        .expect_json(201)?;
    check_record(&record, &user)?;
    check_eq!(
        kez_spec::json::canonical(&record["registration"]),
        kez_spec::json::canonical(&sent),
        "the record's registration must be the object sent (JCS bytes)"
    );
    Ok(())
}

/// SPEC §4.2's members, and nothing else (§1: v1 unsigned responses hold only defined members).
pub fn check_record(record: &Value, user: &User) -> CaseResult {
    let obj = match record.as_object() {
        Some(obj) => obj,
        None => fail!("the handle record is not an object: {record}"),
    };
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    check_eq!(
        keys,
        vec![
            "address",
            "handle",
            "primary",
            "registered_at",
            "registration",
            "server"
        ],
        "handle record members"
    );
    check_eq!(
        record["handle"],
        json!(user.handle.as_str()),
        "record handle"
    );
    check_eq!(
        record["server"],
        json!(user.server.name.as_str()),
        "record server"
    );
    check_eq!(
        record["address"],
        json!(user.address.to_string()),
        "record address"
    );
    check_eq!(
        record["primary"],
        json!(user.primary.to_string()),
        "record primary"
    );
    check!(
        record["registered_at"].is_u64(),
        "registered_at must be integer milliseconds: {}",
        record["registered_at"]
    );
    Ok(())
}

async fn register_retry(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let body = json_bytes(&user.registration(now_ms()));
    let first = user.register_raw(body.clone()).await?.expect_json(201)?;
    let again = user.register_raw(body).await?.expect_json(200)?;
    check_eq!(again, first, "the retry's record");
    Ok(())
}

async fn register_strict_json(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let good = user.registration(now_ms()).to_string();
    let dup = good.replacen("{", &format!("{{\"handle\":\"{}\",", user.handle), 1);
    expect_register_error(
        &user,
        dup.into_bytes(),
        400,
        "duplicate_member",
        "top-level",
    )
    .await?;
    let dup_sig = good.replacen("\"alg\":", "\"alg\":\"ed25519\",\"alg\":", 1);
    expect_register_error(
        &user,
        dup_sig.into_bytes(),
        400,
        "duplicate_member",
        "nested",
    )
    .await?;
    expect_register_error(
        &user,
        format!("{good} {{}}").into_bytes(),
        400,
        "malformed_request",
        "trailing bytes",
    )
    .await?;
    let ts = serde_json::from_str::<Value>(&good)
        .map(|v| v["ts"].to_string())
        .unwrap_or_default();
    for number in [format!("{ts}.0"), format!("{}e3", &ts[..ts.len() - 3])] {
        let text = good.replacen(&format!("\"ts\":{ts}"), &format!("\"ts\":{number}"), 1);
        check!(text != good, "could not rewrite ts in {good}");
        expect_register_error(
            &user,
            text.into_bytes(),
            400,
            "malformed_request",
            &format!("ts {number}"),
        )
        .await?;
    }
    Ok(())
}

async fn register_members(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let cases: Vec<(&str, Value)> = vec![
        (
            "no handle",
            signed_with(&user, |f| drop(f.remove("handle"))),
        ),
        ("no ts", signed_with(&user, |f| drop(f.remove("ts")))),
        (
            "ts as string",
            signed_with(&user, |f| drop(f.insert("ts".into(), json!("1")))),
        ),
        (
            "ts negative (the wrong type, not a stale time)",
            signed_with(&user, |f| drop(f.insert("ts".into(), json!(-1_000)))),
        ),
        (
            "handle as number",
            signed_with(&user, |f| drop(f.insert("handle".into(), json!(7)))),
        ),
        (
            "type envelope",
            signed_with(&user, |f| drop(f.insert("type".into(), json!("envelope")))),
        ),
        ("no type", signed_with(&user, |f| drop(f.remove("type")))),
    ];
    for (what, body) in cases {
        expect_register_error(&user, json_bytes(&body), 400, "malformed_request", what).await?;
    }
    expect_register_error(&user, b"[]".to_vec(), 400, "malformed_request", "an array").await
}

async fn register_invalid_handle(s: Single) -> CaseResult {
    for bad in super::s2_identifiers::INVALID_HANDLES
        .iter()
        .chain(&["a b", "ali\u{e9}", ""])
    {
        let user = User::generate(&s.server);
        let body = signed_with(&user, |f| drop(f.insert("handle".into(), json!(bad))));
        expect_register_error(&user, json_bytes(&body), 400, "invalid_handle", bad).await?;
    }
    Ok(())
}

async fn register_reserved(s: Single) -> CaseResult {
    for reserved in RESERVED {
        let user = User::with_handle(&s.server, reserved);
        let body = user.registration(now_ms());
        expect_register_error(&user, json_bytes(&body), 400, "handle_reserved", reserved).await?;
    }
    Ok(())
}

async fn register_wrong_server(s: Single) -> CaseResult {
    let name = s.server.name.to_string();
    let others = [
        "other.example".to_owned(),
        name.to_uppercase(),
        format!("{name}."),
        format!(" {name}"),
        "not a server name!".to_owned(),
        format!("x{name}"),
    ];
    for other in others {
        if other == name {
            continue;
        }
        let user = User::generate(&s.server);
        let body = signed_with(&user, |f| drop(f.insert("server".into(), json!(other))));
        expect_register_error(&user, json_bytes(&body), 400, "wrong_server", &other).await?;
    }
    Ok(())
}

async fn register_invalid_primary(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    for bad in super::s2_identifiers::invalid_primaries(&user.primary.to_string()) {
        let body = signed_with(&user, |f| drop(f.insert("primary".into(), json!(bad))));
        expect_register_error(&user, json_bytes(&body), 400, "invalid_primary", &bad).await?;
    }
    Ok(())
}

async fn register_signature_shape(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let good = user.registration(now_ms());
    let sig = good["signature"]["sig"].as_str().unwrap_or("").to_owned();
    let with_signature = |signature: Option<Value>| {
        let mut v = good.clone();
        match signature {
            Some(s) => v["signature"] = s,
            None => drop(v.as_object_mut().and_then(|o| o.remove("signature"))),
        }
        json_bytes(&v)
    };
    let malformed: Vec<(&str, Option<Value>)> = vec![
        ("no signature", None),
        ("signature a string", Some(json!(sig))),
        ("signature null", Some(Value::Null)),
        ("no sig", Some(json!({"alg": "ed25519"}))),
        ("no alg", Some(json!({"sig": sig}))),
        (
            "extra member",
            Some(json!({"alg": "ed25519", "sig": sig, "x": "y"})),
        ),
        (
            "key_id on a user object",
            Some(json!({"alg": "ed25519", "key_id": "ed25519:k1", "sig": sig})),
        ),
        (
            "sig 126 hex",
            Some(json!({"alg": "ed25519", "sig": &sig[..126]})),
        ),
        (
            "sig uppercase",
            Some(json!({"alg": "ed25519", "sig": sig.to_uppercase()})),
        ),
        ("sig a number", Some(json!({"alg": "ed25519", "sig": 5}))),
    ];
    for (what, signature) in malformed {
        expect_register_error(
            &user,
            with_signature(signature),
            400,
            "malformed_signature",
            what,
        )
        .await?;
    }
    for (what, signature) in [
        ("alg ed448", json!({"alg": "ed448", "sig": sig})),
        ("alg schnorr, no sig", json!({"alg": "schnorr"})),
        (
            "alg Ed25519, extra member",
            json!({"alg": "Ed25519", "sig": "00", "x": 1}),
        ),
    ] {
        expect_register_error(
            &user,
            with_signature(Some(signature)),
            400,
            "unsupported_alg",
            what,
        )
        .await?;
    }
    Ok(())
}

async fn register_invalid_signature(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let other = random_key();
    let fields = user.registration_fields(now_ms());
    let by_other = kez_spec::signed::sign(fields.clone(), &other, None);
    expect_register_error(
        &user,
        json_bytes(&by_other),
        400,
        "invalid_signature",
        "signed by another key",
    )
    .await?;
    let mut changed = user.sign(fields);
    changed["ts"] = json!(changed["ts"].as_u64().unwrap_or(0) + 1);
    expect_register_error(
        &user,
        json_bytes(&changed),
        400,
        "invalid_signature",
        "ts changed after signing",
    )
    .await
}

async fn register_stale(s: Single) -> CaseResult {
    let window = kez_spec::registration::DEFAULT_SKEW_MS;
    for edge in super::edges(window, window, 1000) {
        let user = User::generate(&s.server);
        let body = json_bytes(&user.registration(edge.ts()));
        if edge.inside {
            user.register_raw(body)
                .await?
                .expect(201)
                .map_err(|e| Fail::Fail(format!("a registration {}: {e}", edge.what)))?;
        } else {
            expect_register_error(&user, body, 400, "stale_timestamp", &edge.what).await?;
        }
    }
    Ok(())
}

async fn register_taken(s: Single) -> CaseResult {
    let first = User::registered(&s.server).await?;
    let same_handle = User::with_handle(&s.server, first.handle.as_str());
    let resp = same_handle.register().await?;
    resp.expect_error(409, "handle_taken")?;
    let mut same_key = User::generate(&s.server);
    same_key.key = first.key.clone();
    same_key.primary = first.primary;
    same_key
        .register()
        .await?
        .expect_error(409, "primary_taken")?;
    Ok(())
}

async fn register_order(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let other = random_key();
    let bad_sig = |fields: serde_json::Map<String, Value>| {
        json_bytes(&kez_spec::signed::sign(fields, &other, None))
    };
    let mut f = user.registration_fields(now_ms());
    f.insert("handle".into(), json!("admin"));
    f.insert("server".into(), json!("other.example"));
    expect_register_error(&user, bad_sig(f), 400, "handle_reserved", "reserved+server").await?;
    let mut f = user.registration_fields(now_ms());
    f.insert("handle".into(), json!("Bad"));
    f.insert("primary".into(), json!("ed25519:00"));
    expect_register_error(&user, bad_sig(f), 400, "invalid_handle", "handle+primary").await?;
    let mut f = user.registration_fields(now_ms());
    f.insert("server".into(), json!("other.example"));
    f.insert("primary".into(), json!("ed25519:00"));
    expect_register_error(&user, bad_sig(f), 400, "wrong_server", "server+primary").await?;
    let mut f = user.registration_fields(now_ms() - 3_600_000);
    f.insert("ts".into(), json!(now_ms() - 3_600_000));
    expect_register_error(&user, bad_sig(f), 400, "invalid_signature", "sig+stale").await?;
    let taken = User::registered(&s.server).await?;
    let mut stale = User::with_handle(&s.server, taken.handle.as_str());
    stale.key = taken.key.clone();
    stale.primary = taken.primary;
    expect_register_error(
        &stale,
        json_bytes(&stale.registration(now_ms() - 3_600_000)),
        400,
        "stale_timestamp",
        "stale+taken",
    )
    .await
}

async fn register_unknown_members(s: Single) -> CaseResult {
    let user = User::generate(&s.server);
    let mut fields = user.registration_fields(now_ms());
    fields.insert(
        "x-note".into(),
        json!({"z": [1, "\u{e9}t\u{e9}", {"b": null, "a": true}], "a": -9007199254740991i64}),
    );
    let sent = user.sign(fields);
    // Non-canonical: pretty-printed, members in another order than JCS.
    let pretty = serde_json::to_vec_pretty(&sent)
        .map_err(|e| crate::case::Fail::Fail(format!("serialising: {e}")))?;
    let record = user.register_raw(pretty).await?.expect_json(201)?;
    check_eq!(
        String::from_utf8_lossy(&kez_spec::json::canonical(&record["registration"])),
        String::from_utf8_lossy(&kez_spec::json::canonical(&sent)),
        "the stored registration (JCS)"
    );
    let served = s
        .server
        .get(&format!("/v1/u/{}", user.handle))
        .await?
        .expect_json(200)?;
    check_eq!(
        String::from_utf8_lossy(&kez_spec::json::canonical(&served["registration"])),
        String::from_utf8_lossy(&kez_spec::json::canonical(&sent)),
        "the served registration (JCS)"
    );
    Ok(())
}

async fn record_registration(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let record = s
        .server
        .get(&format!("/v1/u/{}", user.handle))
        .await?
        .expect_json(200)?;
    check_record(&record, &user)?;
    let registration = kez_spec::json::canonical(&record["registration"]);
    let verified = kez_spec::registration::Registration::verify(
        &registration,
        &s.server.name,
        now_ms(),
        u64::MAX / 2,
    )
    .map_err(|e| {
        crate::case::Fail::Fail(format!("the served registration does not verify: {e}"))
    })?;
    check_eq!(
        verified.registration.primary,
        user.primary,
        "the registration's primary"
    );
    check_eq!(
        verified.registration.handle,
        user.handle,
        "the registration's handle"
    );
    Ok(())
}

async fn record_unknown(s: Single) -> CaseResult {
    let unknown = User::generate(&s.server);
    s.server
        .get(&format!("/v1/u/{}", unknown.handle))
        .await?
        .expect_error(404, "unknown_handle")?;
    s.server
        .get("/v1/u/Not-Valid")
        .await?
        .expect_error(400, "invalid_handle")?;
    Ok(())
}

async fn by_primary(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let by_handle = s
        .server
        .get(&format!("/v1/u/{}", user.handle))
        .await?
        .expect_json(200)?;
    let by_primary = s
        .server
        .get(&format!("/v1/by-primary/{}", user.primary))
        .await?
        .expect_json(200)?;
    check_eq!(by_primary, by_handle, "the record by primary");
    Ok(())
}

fn check_cors(resp: &crate::server::Resp) -> CaseResult {
    check_eq!(
        resp.header("access-control-allow-origin"),
        Some("*"),
        "{}: Access-Control-Allow-Origin",
        resp.what
    );
    Ok(())
}

async fn webfinger_jrd(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let resp = s
        .server
        .get(&format!(
            "/.well-known/webfinger?resource=acct:{}",
            user.address
        ))
        .await?
        .expect(200)?;
    check_eq!(
        resp.media_type(),
        "application/jrd+json",
        "WebFinger Content-Type"
    );
    check_cors(&resp)?;
    let jrd = resp.json()?;
    check_eq!(
        jrd["subject"],
        json!(format!("acct:{}", user.address)),
        "subject"
    );
    let href = jrd["links"][0]["href"].as_str().unwrap_or("").to_owned();
    check!(
        href.ends_with(&format!("/v1/u/{}", user.handle)),
        "the self link must point at /v1/u/<handle>: {jrd}"
    );
    check_eq!(jrd["links"][0]["rel"], json!("self"), "link rel");
    check_eq!(
        jrd["links"][0]["type"],
        json!("application/json"),
        "link type"
    );
    check_eq!(jrd["aliases"], json!([href]), "aliases");
    check_eq!(
        jrd["properties"]["https://kez.lat/ns/primary"],
        json!(user.primary.to_string()),
        "primary property"
    );
    check_eq!(
        jrd["properties"]["https://kez.lat/ns/server"],
        json!(s.server.name.as_str()),
        "server property"
    );
    Ok(())
}

async fn webfinger_errors(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let unknown = User::generate(&s.server);
    let checks = [
        (
            "/.well-known/webfinger".to_owned(),
            400,
            "malformed_request",
        ),
        (
            format!("/.well-known/webfinger?resource={}", user.address),
            400,
            "malformed_request",
        ),
        (
            "/.well-known/webfinger?resource=acct:Bad@x".to_owned(),
            400,
            "malformed_request",
        ),
        (
            format!(
                "/.well-known/webfinger?resource=acct:{}@other.example",
                user.handle
            ),
            404,
            "unknown_handle",
        ),
        (
            format!("/.well-known/webfinger?resource=acct:{}", unknown.address),
            404,
            "unknown_handle",
        ),
    ];
    for (path, status, code) in checks {
        let resp = s.server.get(&path).await?;
        check_cors(&resp)?;
        resp.expect_error(status, code)?;
    }
    Ok(())
}

async fn healthz(s: Single) -> CaseResult {
    let health = s.server.get("/v1/healthz").await?.expect_json(200)?;
    check_eq!(health["server"], json!(s.server.name.as_str()), "server");
    check_eq!(health["status"], json!("ok"), "status");
    check!(health["version"].is_string(), "version: {health}");
    Ok(())
}

async fn metrics(s: Single) -> CaseResult {
    let resp = s.server.get("/metrics").await?;
    match resp.status {
        200 => {
            check_eq!(resp.media_type(), "text/plain", "/metrics Content-Type");
            Ok(())
        }
        404 => resp.expect_error(404, "not_found").map(drop),
        other => fail!("/metrics answered {other}, expected 200 or 404 not_found"),
    }
}
