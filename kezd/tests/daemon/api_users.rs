//! Registration, lookup, reverse lookup and WebFinger over real HTTP (SPEC §4), with every
//! signed object built by kez-spec.

use crate::common;

use common::kez::{Api, SERVER, User, expect_error, now_ms, start};
use kez_spec::ServerName;
use kez_spec::registration::Registration;
use serde_json::{Value, json};

/// Six minutes: outside the ±300 s registration window of SPEC §4.1 check 9.
const SIX_MINUTES_MS: u64 = 6 * 60 * 1000;

/// The handle record SPEC §4.2 prescribes for `user`, given the server's `registered_at`.
fn expected_record(user: &User, registration: &Value, registered_at: &Value) -> Value {
    json!({
        "handle": user.handle.as_str(),
        "server": SERVER,
        "address": format!("{}@{SERVER}", user.handle),
        "primary": user.primary().to_string(),
        "registered_at": registered_at,
        "registration": registration,
    })
}

/// SPEC §4.1, §4.2: a registration is answered 201 with the handle record, which GET
/// `/v1/u/{handle}` then serves unchanged; the embedded registration still verifies on its own.
#[tokio::test]
async fn register_round_trip() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let before = now_ms();
    let registration = alice.registration(now_ms());
    let response = api.post_json("/v1/register", &registration).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    let record: Value = response.json().await.expect("record");
    let registered_at = record["registered_at"].as_u64().expect("registered_at");
    assert!(registered_at >= before && registered_at <= now_ms());
    assert_eq!(
        record,
        expected_record(&alice, &registration, &record["registered_at"])
    );

    let fetched = api.get("/v1/u/alice").await;
    assert_eq!(fetched.status(), 200);
    let fetched: Value = fetched.json().await.expect("record");
    assert_eq!(fetched, record);

    // Anyone can check the binding without trusting the server (SPEC §4.2).
    let embedded = serde_json::to_vec(&fetched["registration"]).expect("serialises");
    let here = ServerName::parse(SERVER).expect("valid");
    let verified = Registration::verify(&embedded, &here, now_ms(), 300_000)
        .expect("the served registration verifies");
    assert_eq!(verified.registration.primary, alice.primary());
}

/// SPEC §4.1: re-posting the stored registration (equal JCS bytes) is a safe retry: 200 with
/// the same record, not a conflict, and nothing changes.
#[tokio::test]
async fn identical_repost_is_200() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let registration = alice.registration(now_ms());
    let first = api.post_json("/v1/register", &registration).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("record");
    // Another member order and whitespace: the same JCS bytes.
    let pretty = serde_json::to_string_pretty(&registration).expect("serialises");
    let again = api
        .http
        .post(api.url("/v1/register"))
        .header("content-type", "application/json")
        .body(pretty)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.expect("record"), first);
}

/// SPEC §4.1 check 11: a handle held by another registration is 409 `handle_taken`, whether
/// another key claims it or the owner signs a new (different) registration.
#[tokio::test]
async fn duplicate_handle_is_handle_taken() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    api.register_ok(&alice).await;

    let impostor = User::new("alice", 2);
    expect_error(api.register(&impostor).await, 409, "handle_taken").await;
    let resigned = alice.registration(now_ms() - 1_000);
    expect_error(
        api.post_json("/v1/register", &resigned).await,
        409,
        "handle_taken",
    )
    .await;
    let record: Value = api.get("/v1/u/alice").await.json().await.expect("record");
    assert_eq!(record["primary"], alice.primary().to_string(), "unchanged");
}

/// SPEC §4.1 check 12: one primary holds one handle; a second handle is 409 `primary_taken`.
#[tokio::test]
async fn same_primary_other_handle_is_primary_taken() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    api.register_ok(&User::new("alice", 1)).await;
    let alias = User::new("alice2", 1);
    expect_error(api.register(&alias).await, 409, "primary_taken").await;
    expect_error(api.get("/v1/u/alice2").await, 404, "unknown_handle").await;
}

/// SPEC §4.1 checks 4, 5, 8 and 9: each refusal has its code, and nothing is stored.
#[tokio::test]
async fn registration_refusals() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);

    let mut tampered = alice.registration(now_ms());
    let sig = tampered["signature"]["sig"]
        .as_str()
        .expect("sig")
        .to_owned();
    let flipped = if sig.ends_with('0') { "1" } else { "0" };
    tampered["signature"]["sig"] = format!("{}{flipped}", &sig[..sig.len() - 1]).into();

    let mut member_changed = alice.registration(now_ms());
    member_changed["ts"] = (member_changed["ts"].as_u64().expect("ts") + 1).into();

    let cases = [
        (
            "wrong server",
            alice.registration_on("other.example", now_ms()),
            "wrong_server",
        ),
        (
            "reserved",
            User::new("admin", 3).registration(now_ms()),
            "handle_reserved",
        ),
        ("tampered signature", tampered, "invalid_signature"),
        (
            "member changed after signing",
            member_changed,
            "invalid_signature",
        ),
        (
            "six minutes old",
            alice.registration(now_ms() - SIX_MINUTES_MS),
            "stale_timestamp",
        ),
        (
            "six minutes ahead",
            alice.registration(now_ms() + SIX_MINUTES_MS),
            "stale_timestamp",
        ),
    ];
    for (case, registration, code) in cases {
        let response = api.post_json("/v1/register", &registration).await;
        assert_eq!(response.status(), 400, "{case}");
        let body: Value = response.json().await.expect("error body");
        assert_eq!(body["error"], code, "{case}: {body}");
    }
    expect_error(api.get("/v1/u/alice").await, 404, "unknown_handle").await;
    expect_error(api.get("/v1/u/admin").await, 404, "unknown_handle").await;
    // The refused registrations claimed nothing: alice can still register.
    api.register_ok(&alice).await;
}

/// SPEC §4.2: a path segment that is not a handle is 400 `invalid_handle`; a valid but
/// unregistered handle is 404 `unknown_handle`.
#[tokio::test]
async fn handle_lookup_errors() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    for bad in ["Alice", "a..b", "-alice", "alice.", &"a".repeat(33)] {
        expect_error(
            api.get(&format!("/v1/u/{bad}")).await,
            400,
            "invalid_handle",
        )
        .await;
    }
    expect_error(api.get("/v1/u/nobody").await, 404, "unknown_handle").await;
}

/// SPEC §4.3: the reverse lookup serves the same record; an unregistered primary is 404
/// `unknown_primary`; anything that is not a primary (§2.3) is 400 `invalid_primary`.
#[tokio::test]
async fn reverse_lookup() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let record = api.register_ok(&alice).await;

    let found = api
        .get(&format!("/v1/by-primary/{}", alice.primary()))
        .await;
    assert_eq!(found.status(), 200);
    assert_eq!(found.json::<Value>().await.expect("record"), record);

    let stranger = User::new("bob", 2);
    expect_error(
        api.get(&format!("/v1/by-primary/{}", stranger.primary()))
            .await,
        404,
        "unknown_primary",
    )
    .await;

    let hex = alice.primary().to_string()["ed25519:".len()..].to_owned();
    // The identity point (y = 1) is of small order.
    let small_order = format!("ed25519:01{}", "0".repeat(62));
    for garbage in [
        "nonsense".to_owned(),
        format!("ed25519:{}", hex.to_uppercase()),
        format!("ed25519:{}", &hex[..62]),
        format!("x25519:{hex}"),
        small_order,
    ] {
        expect_error(
            api.get(&format!("/v1/by-primary/{garbage}")).await,
            400,
            "invalid_primary",
        )
        .await;
    }
}

/// SPEC §4.4: WebFinger resolves `acct:<address>` to the JRD, as `application/jrd+json`, with
/// `Access-Control-Allow-Origin: *`; links point at the handle record under the configured
/// public base URL.
#[tokio::test]
async fn webfinger_success() {
    let server = start(|raw| raw.public_base_url = Some("https://kez.example/".into())).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    api.register_ok(&alice).await;

    let response = api
        .get(&format!(
            "/.well-known/webfinger?resource=acct:alice@{SERVER}"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/jrd+json");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let href = "https://kez.example/v1/u/alice";
    assert_eq!(
        response.json::<Value>().await.expect("JRD"),
        json!({
            "subject": format!("acct:alice@{SERVER}"),
            "aliases": [href],
            "links": [{"rel": "self", "type": "application/json", "href": href}],
            "properties": {
                "https://kez.lat/ns/primary": alice.primary().to_string(),
                "https://kez.lat/ns/server": SERVER,
            },
        })
    );
    // The link's path is the handle record on this server.
    let path = href
        .strip_prefix("https://kez.example")
        .expect("under the base");
    assert_eq!(api.get(path).await.status(), 200);
}

/// SPEC §4.4: without a configured base, links are under `https://<server name>`, even when
/// this kezd serves plain HTTP (behind a proxy that has TLS): never the listening address,
/// which is no name a client elsewhere can use.
#[tokio::test]
async fn webfinger_base_defaults_to_the_server_name() {
    let server = start(|raw| raw.public_base_url = None).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    api.register_ok(&alice).await;
    let jrd: Value = api
        .get(&format!(
            "/.well-known/webfinger?resource=acct:alice@{SERVER}"
        ))
        .await
        .json()
        .await
        .expect("JRD");
    assert_eq!(
        jrd["links"][0]["href"],
        format!("https://{SERVER}/v1/u/alice")
    );
}

/// SPEC §4.4: a missing or malformed resource is 400 `malformed_request`; another server or
/// an unknown handle is 404 `unknown_handle`; every error still carries CORS `*`.
#[tokio::test]
async fn webfinger_errors() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    api.register_ok(&User::new("alice", 1)).await;
    let cases = [
        ("", 400, "malformed_request"),
        ("?rel=self", 400, "malformed_request"),
        ("?resource=alice@localhost:6969", 400, "malformed_request"),
        (
            "?resource=acct:Alice@localhost:6969",
            400,
            "malformed_request",
        ),
        ("?resource=acct:alice", 400, "malformed_request"),
        ("?resource=acct:alice@other.example", 404, "unknown_handle"),
        ("?resource=acct:alice@localhost:6970", 404, "unknown_handle"),
        ("?resource=acct:bob@localhost:6969", 404, "unknown_handle"),
    ];
    for (query, status, code) in cases {
        let response = api.get(&format!("/.well-known/webfinger{query}")).await;
        assert_eq!(response.status(), status, "{query}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{query}"
        );
        let body: Value = response.json().await.expect("error body");
        assert_eq!(body["error"], code, "{query}");
    }
}
