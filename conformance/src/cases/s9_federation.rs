//! SPEC §9, federation between servers under test: the signed server document (§9.2), the
//! `Authorization` checks a receiver makes before it knows the origin's keys (§9.3 checks 1-3,
//! testable against any deployment with the suite's own key), and, for every ordered pair of
//! servers, delivery (§9.1, §9.4, §9.7), the lookup a receiver makes of a sender (§4.4, §9.4),
//! deduplication (§8.7) and per-sender order (§9.5).

use std::time::Duration;

use kez_spec::s2s::{Parties, RequestParts, ServerAuth};
use kez_spec::{KeyId, Primary, ServerName};
use reqwest::Method;
use serde_json::{Value, json};

use super::expect_code;
use crate::case::{Case, CaseResult, Fail, Pair, Single};
use crate::server::Server;
use crate::user::{User, ids, json_bytes, message_id, now_ms, now_s, random_key};

/// How long a federated message may take to arrive.
const DELIVERY_WAIT: Duration = Duration::from_secs(20);

/// The origin the suite claims in its own server-to-server requests.
const SUITE_ORIGIN: &str = "kez-conformance.invalid";

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s9.document",
            &["§9.2", "§11", "§8.4"],
            "/.well-known/kez is a server document for this name, protocol 1, signed by a key in \
             verify_keys under §3.4, not from the future, valid now, publishing every limit",
            |s| Box::pin(document(s)),
        ),
        Case::single(
            "s9.s2s.header",
            &["§9.3", "§10"],
            "a transaction without Authorization, with another scheme, a missing or repeated \
             parameter, or a malformed origin is 401 s2s_unauthorized",
            |s| Box::pin(s2s_header(s)),
        ),
        Case::single(
            "s9.s2s.destination",
            &["§9.3", "§13.1"],
            "a transaction addressed to another server is 401 wrong_destination",
            |s| Box::pin(s2s_destination(s)),
        ),
        Case::single(
            "s9.s2s.window",
            &["§9.3"],
            "a transaction signed 122 s in the past or future is 401 stale_timestamp; one signed \
             118 s off gets past check 3 (the suite's key is unknown: any other refusal)",
            |s| Box::pin(s2s_window(s)),
        ),
        Case::single(
            "s9.s2s.param_order",
            &["§9.3"],
            "header parameters are accepted in any order, with spaces after commas, and unknown \
             parameters are ignored (the request gets past check 1)",
            |s| Box::pin(s2s_param_order(s)),
        ),
        Case::single(
            "s9.s2s.header_spelling",
            &["§9.3"],
            "the scheme and parameter names in any case, and whitespace around commas and '=', \
             are read as the sender's form (the request gets past check 1, RFC 9110 §11)",
            |s| Box::pin(s2s_header_spelling(s)),
        ),
        Case::single(
            "s9.s2s.document_unavailable",
            &["§9.3", "§10"],
            "a transaction from an origin whose server document cannot be fetched is 503 \
             unavailable with Retry-After, not 401 unknown_key",
            |s| Box::pin(s2s_document_unavailable(s)),
        ),
        Case::single(
            "s9.txn.id_first",
            &["§9.4"],
            "an invalid txn id is 400 malformed_request before the Authorization header is \
             looked at (none, or a valid one)",
            |s| Box::pin(txn_id_first(s)),
        ),
        Case::pair(
            "s9.pair.delivery",
            &["§9.1", "§9.4", "§9.7", "§6.1", "§3.2"],
            "a message from a user of A to a user of B is 202 queued at A, arrives at B with \
             unchanged JCS bytes and opens, and A's status becomes delivered",
            |p| Box::pin(delivery(p)),
        ),
        Case::pair(
            "s9.pair.lookup",
            &["§4.4", "§4.2", "§9.4"],
            "the lookup a receiver makes of a sender works across servers: WebFinger at B, its \
             self link, and a record whose registration verifies for B",
            |p| Box::pin(lookup(p)),
        ),
        Case::pair(
            "s9.pair.dedupe",
            &["§8.7", "§8.1", "§9.4"],
            "a resent remote message is 200 duplicate with status queued, and B stores it once",
            |p| Box::pin(dedupe(p)),
        ),
        Case::pair(
            "s9.pair.order",
            &["§9.5"],
            "one sender's messages to B arrive in the order A accepted them",
            |p| Box::pin(order(p)),
        ),
    ]
}

async fn document(s: Single) -> CaseResult {
    if !s.server.federates() {
        skip!("the server serves no /.well-known/kez (federation disabled)");
    }
    let doc = &s.server.document;
    check_eq!(doc["type"], json!("server"), "type");
    check_eq!(doc["server"], json!(s.server.name.as_str()), "server");
    check_eq!(doc["protocol"], json!(1), "protocol");
    check_eq!(doc["federation"], json!("/v1/federation"), "federation");
    check!(
        doc["version"].is_string(),
        "version must be a string: {}",
        doc["version"]
    );
    let now = now_ms();
    let ts = doc["ts"].as_u64().unwrap_or(u64::MAX);
    check!(
        ts <= now + 300_000,
        "ts {ts} is more than 300 s in the future"
    );
    let valid_until = doc["valid_until"].as_u64().unwrap_or(0);
    check!(valid_until > now, "valid_until {valid_until} has passed");
    let key_id = doc["signature"]["key_id"].as_str().unwrap_or("").to_owned();
    KeyId::parse(&key_id).map_err(|e| Fail::Fail(format!("signature.key_id {key_id:?}: {e}")))?;
    let entry = &doc["verify_keys"][&key_id];
    let key_hex = entry["key"].as_str().unwrap_or("");
    check!(
        entry["valid_until"].is_u64(),
        "verify_keys[{key_id}] has no valid_until"
    );
    let primary = Primary::parse(&format!("ed25519:{key_hex}"))
        .map_err(|e| Fail::Fail(format!("verify_keys[{key_id}].key {key_hex:?}: {e}")))?;
    let signed = kez_spec::signed::SignedObject::parse(&json_bytes(doc), true)
        .map_err(|e| Fail::Fail(format!("the document is not a signed object: {e}")))?;
    signed
        .verify(&primary)
        .map_err(|e| Fail::Fail(format!("the document's signature fails: {e}")))?;
    check!(
        doc["old_verify_keys"].is_object(),
        "old_verify_keys must be an object"
    );
    for pointer in [
        "/max_envelope_bytes",
        "/max_body_bytes",
        "/max_txn_envelopes",
        "/max_txn_bytes",
        "/inbox_page_max",
        "/rate/client_per_minute",
        "/rate/register_per_hour",
        "/rate/sender_per_minute",
        "/rate/origin_per_minute",
        "/rate/recipient_per_minute",
        "/rate/recipient_strangers_per_minute",
        "/rate/first_contacts_per_hour",
        "/conversations/memory",
        "/retention/max_age",
        "/retention/max_per_inbox",
    ] {
        check!(
            s.server.limit(pointer).is_some_and(|v| v > 0),
            "limits{pointer} must be a positive integer: {}",
            doc["limits"]
        );
    }
    check!(
        s.server.limit("/max_envelope_bytes") == Some(262_144),
        "max_envelope_bytes must be 262144 (§6.5)"
    );
    Ok(())
}

/// A suite-signed `PUT /v1/federation/txn/<id>` with `header` (none when `None`).
async fn put_txn(server: &Server, header: Option<String>) -> Result<crate::server::Resp, Fail> {
    let (path, body) = txn_request();
    let mut headers = vec![("content-type", "application/json")];
    if let Some(h) = header.as_deref() {
        headers.push(("authorization", h));
    }
    server
        .request(Method::PUT, &path, &headers, Some(body))
        .await
}

fn txn_request() -> (String, Vec<u8>) {
    let txn = format!("kc-{}", now_ms());
    let body = json_bytes(&json!({"origin": SUITE_ORIGIN, "envelopes": []}));
    (format!("/v1/federation/txn/{txn}"), body)
}

/// The suite's own header for the request of [`txn_request`], to `destination` at `ts`.
fn suite_header(path: &str, body: &[u8], destination: &str, ts: u64) -> Result<ServerAuth, Fail> {
    let origin = ServerName::parse(SUITE_ORIGIN).map_err(|e| Fail::Fail(e.to_string()))?;
    let destination = ServerName::parse(destination).map_err(|e| Fail::Fail(e.to_string()))?;
    let key_id = KeyId::parse("ed25519:conformance").map_err(|e| Fail::Fail(e.to_string()))?;
    Ok(ServerAuth::sign(
        RequestParts {
            method: "PUT",
            path_and_query: path,
            body,
        },
        Parties {
            origin: &origin,
            destination: &destination,
            key_id: &key_id,
            ts,
        },
        &random_key(),
    ))
}

fn require_federation(s: &Single) -> CaseResult {
    if !s.server.federates() {
        skip!("the server serves no /.well-known/kez (federation disabled)");
    }
    Ok(())
}

async fn s2s_header(s: Single) -> CaseResult {
    require_federation(&s)?;
    let (path, body) = txn_request();
    let auth = suite_header(&path, &body, s.server.name.as_str(), now_s())?;
    let (good, sig) = (auth.to_string(), hex::encode(auth.sig));
    let variants = [
        ("no header", None),
        (
            "scheme X-Matrix",
            Some(good.replacen("KEZ-Server", "X-Matrix", 1)),
        ),
        (
            "no origin",
            Some(good.replacen(&format!("origin=\"{SUITE_ORIGIN}\","), "", 1)),
        ),
        (
            "repeated origin",
            Some(format!("{good},origin=\"{SUITE_ORIGIN}\"")),
        ),
        (
            "no sig",
            Some(good.replacen(&format!(",sig=\"{sig}\""), "", 1)),
        ),
        (
            "origin not a server name",
            Some(good.replacen(SUITE_ORIGIN, "Bad_Name", 1)),
        ),
        ("unquoted values", Some(good.replace('"', ""))),
        (
            "ts with a leading zero",
            Some(good.replacen("ts=\"", "ts=\"0", 1)),
        ),
        (
            "key id too long",
            Some(good.replacen(
                "ed25519:conformance",
                &format!("ed25519:{}", "k".repeat(33)),
                1,
            )),
        ),
    ];
    for (what, header) in variants {
        let resp = put_txn(&s.server, header).await?;
        expect_code(resp, 401, "s2s_unauthorized", what)?;
    }
    Ok(())
}

async fn s2s_destination(s: Single) -> CaseResult {
    require_federation(&s)?;
    let (path, body) = txn_request();
    for other in ["elsewhere.example", "kez-conformance.invalid"] {
        let header = suite_header(&path, &body, other, now_s())?.to_string();
        let resp = put_with_header(&s.server, &path, body.clone(), &header).await?;
        expect_code(resp, 401, "wrong_destination", other)?;
    }
    Ok(())
}

async fn s2s_window(s: Single) -> CaseResult {
    require_federation(&s)?;
    let (path, body) = txn_request();
    let window = kez_spec::s2s::DEFAULT_SKEW_SECS;
    for edge in super::edges(window, window, 1) {
        let header = suite_header(&path, &body, s.server.name.as_str(), edge.ts())?.to_string();
        let resp = put_with_header(&s.server, &path, body.clone(), &header).await?;
        if !edge.inside {
            expect_code(resp, 401, "stale_timestamp", &edge.what)?;
        } else if resp.status < 400 || resp.code().as_deref() == Some("stale_timestamp") {
            fail!(
                "a transaction signed {} (by a key the server cannot know) must get past the \
                 window to a later refusal, got {} {:?}",
                edge.what,
                resp.status,
                resp.code()
            );
        }
    }
    Ok(())
}

async fn s2s_param_order(s: Single) -> CaseResult {
    require_federation(&s)?;
    let (path, body) = txn_request();
    // Stale on purpose: a header that parses is refused at check 3, not check 1.
    let auth = suite_header(&path, &body, s.server.name.as_str(), now_s() - 600)?;
    let header = format!(
        "KEZ-Server sig=\"{}\", ts=\"{}\", x-future=\"1\", key=\"{}\", destination=\"{}\", origin=\"{}\"",
        hex::encode(auth.sig),
        auth.ts,
        auth.key_id,
        auth.destination,
        auth.origin
    );
    let resp = put_with_header(&s.server, &path, body, &header).await?;
    expect_code(
        resp,
        401,
        "stale_timestamp",
        "reordered parameters with an unknown one",
    )?;
    Ok(())
}

/// `PUT path` with `body` and `header` as the `Authorization` value.
async fn put_with_header(
    server: &Server,
    path: &str,
    body: Vec<u8>,
    header: &str,
) -> Result<crate::server::Resp, Fail> {
    server
        .request(
            Method::PUT,
            path,
            &[
                ("content-type", "application/json"),
                ("authorization", header),
            ],
            Some(body),
        )
        .await
}

async fn s2s_header_spelling(s: Single) -> CaseResult {
    require_federation(&s)?;
    let (path, body) = txn_request();
    // Stale on purpose: a header that parses is refused at check 3, not check 1.
    let good = suite_header(&path, &body, s.server.name.as_str(), now_s() - 600)?.to_string();
    for (what, header) in [
        (
            "scheme in lowercase",
            good.replacen("KEZ-Server", "kez-server", 1),
        ),
        (
            "scheme in uppercase, two spaces after it",
            good.replacen("KEZ-Server ", "KEZ-SERVER  ", 1),
        ),
        ("whitespace around commas", good.replace(',', " ,\t")),
        ("whitespace around =", good.replace('=', " = ")),
        (
            "parameter names in other cases",
            good.replacen("origin=", "Origin=", 1)
                .replacen("destination=", "DESTINATION=", 1),
        ),
    ] {
        let resp = put_with_header(&s.server, &path, body.clone(), &header).await?;
        expect_code(resp, 401, "stale_timestamp", what)?;
    }
    Ok(())
}

async fn s2s_document_unavailable(s: Single) -> CaseResult {
    require_federation(&s)?;
    let (path, body) = txn_request();
    // The suite's origin is under .invalid: its document can never be fetched (RFC 6761).
    let header = suite_header(&path, &body, s.server.name.as_str(), now_s())?.to_string();
    let resp = put_with_header(&s.server, &path, body, &header).await?;
    let retry_after = resp.header("retry-after").map(str::to_owned);
    expect_code(resp, 503, "unavailable", "an origin that cannot be reached")?;
    check!(
        retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok()),
        "503 unavailable without a Retry-After in seconds: {retry_after:?}"
    );
    Ok(())
}

async fn txn_id_first(s: Single) -> CaseResult {
    require_federation(&s)?;
    let (_, body) = txn_request();
    // (`.` and `..` are invalid too, but an HTTP client removes them from a URL's path.)
    for txn in ["a!b", "a b", &"t".repeat(65)] {
        let path = format!("/v1/federation/txn/{txn}");
        let header = suite_header(&path, &body, s.server.name.as_str(), now_s())?.to_string();
        for (what, header) in [("no header", None), ("a valid header", Some(header))] {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(h) = header.as_deref() {
                headers.push(("authorization", h));
            }
            let resp = s
                .server
                .request(Method::PUT, &path, &headers, Some(body.clone()))
                .await?;
            expect_code(
                resp,
                400,
                "malformed_request",
                &format!("txn id {txn:?}, {what}"),
            )?;
        }
    }
    Ok(())
}

fn require_pair_federation(p: &Pair) -> CaseResult {
    if !p.a.federates() || !p.b.federates() {
        skip!("both servers must federate (serve /.well-known/kez)");
    }
    Ok(())
}

async fn delivery(p: Pair) -> CaseResult {
    require_pair_federation(&p)?;
    let (alice, bob) =
        futures_util::future::join(User::registered(&p.a), User::registered(&p.b)).await;
    let (alice, bob) = (alice?, bob?);
    let env = alice.envelope(&bob.peer(), "across");
    let id = message_id(&env);
    let answer = alice.send(&env).await?.expect_json(202)?;
    check_eq!(
        answer,
        json!({"id": id, "status": "queued"}),
        "the send answer for a remote recipient"
    );
    let messages = bob.wait_messages(1, DELIVERY_WAIT).await?;
    check_eq!(messages.len(), 1, "messages at B");
    check_eq!(messages[0]["id"], json!(id), "the delivered id");
    check_eq!(
        String::from_utf8_lossy(&kez_spec::json::canonical(&messages[0]["envelope"])),
        String::from_utf8_lossy(&kez_spec::json::canonical(&env)),
        "the delivered envelope (JCS)"
    );
    let parsed = kez_spec::envelope::SignedEnvelope::parse(&json_bytes(&messages[0]["envelope"]))
        .map_err(|e| Fail::Fail(format!("the delivered envelope does not parse: {e}")))?;
    parsed
        .envelope
        .open(&bob.key)
        .map_err(|e| Fail::Fail(format!("opening: {e}")))?;
    // A's status follows it to delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = alice.status(&id).await?.expect_json(200)?;
        if status["status"] == json!("delivered") {
            check!(
                status["attempts"].as_u64().is_some_and(|n| n >= 1),
                "attempts of a delivered message: {status}"
            );
            check_eq!(
                status["next_attempt_at"],
                Value::Null,
                "next_attempt_at of a delivered message"
            );
            check_eq!(status["error"], Value::Null, "error of a delivered message");
            return Ok(());
        }
        check!(
            status["status"] == json!("queued"),
            "status before delivery must be queued: {status}"
        );
        if tokio::time::Instant::now() >= deadline {
            fail!("the message is at B but A's status is still {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn lookup(p: Pair) -> CaseResult {
    require_pair_federation(&p)?;
    let bob = User::registered(&p.b).await?;
    let jrd =
        p.b.get(&format!(
            "/.well-known/webfinger?resource=acct:{}",
            bob.address
        ))
        .await?
        .expect_json(200)?;
    let href = jrd["links"][0]["href"].as_str().unwrap_or("").to_owned();
    let path = href
        .find("/v1/u/")
        .map(|i| href[i..].to_owned())
        .ok_or_else(|| Fail::Fail(format!("the self link {href:?} has no /v1/u/ path")))?;
    let record = p.b.get(&path).await?.expect_json(200)?;
    check_eq!(
        record["primary"],
        json!(bob.primary.to_string()),
        "the record's primary"
    );
    check_eq!(
        jrd["properties"]["https://kez.lat/ns/primary"],
        record["primary"],
        "WebFinger and the record agree on the primary"
    );
    let registration = kez_spec::json::canonical(&record["registration"]);
    kez_spec::registration::Registration::verify(&registration, &p.b.name, now_ms(), u64::MAX / 2)
        .map_err(|e| {
            Fail::Fail(format!(
                "the record's registration does not verify for B: {e}"
            ))
        })?;
    check!(
        kez_spec::registration::Registration::verify(
            &registration,
            &p.a.name,
            now_ms(),
            u64::MAX / 2
        )
        .is_err(),
        "a registration for B must not verify for A"
    );
    Ok(())
}

async fn dedupe(p: Pair) -> CaseResult {
    require_pair_federation(&p)?;
    let (alice, bob) =
        futures_util::future::join(User::registered(&p.a), User::registered(&p.b)).await;
    let (alice, bob) = (alice?, bob?);
    let env = alice.envelope(&bob.peer(), "once");
    let id = message_id(&env);
    alice.send(&env).await?.expect(202)?;
    let again = alice.send(&env).await?.expect_json(200)?;
    check_eq!(
        again,
        json!({"id": id, "status": "queued", "duplicate": true}),
        "the resend's answer"
    );
    let (_, marker) = alice.send_ok(&bob.peer(), "marker").await?;
    let messages = bob.wait_messages(2, DELIVERY_WAIT).await?;
    // Give a late duplicate a moment to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = if messages.len() == 2 {
        bob.messages(0).await?
    } else {
        messages
    };
    check_eq!(ids(&messages), vec![id, message_id(&marker)], "B's inbox");
    Ok(())
}

async fn order(p: Pair) -> CaseResult {
    require_pair_federation(&p)?;
    let (alice, bob) =
        futures_util::future::join(User::registered(&p.a), User::registered(&p.b)).await;
    let (alice, bob) = (alice?, bob?);
    let mut sent = Vec::new();
    for i in 0..6 {
        let (_, env) = alice.send_ok(&bob.peer(), &format!("o{i}")).await?;
        sent.push(message_id(&env));
    }
    let messages = bob.wait_messages(6, DELIVERY_WAIT).await?;
    check_eq!(ids(&messages), sent, "B's inbox order");
    Ok(())
}
