//! The registration policy over HTTP (SPEC §4.1 check 10, §10): a server that registers only
//! with an invitation token or nobody new, the token in `KEZ-Registration-Token` spent once
//! per registration stored, the check's place after the signature, retries of a stored
//! registration answered whatever the policy, and the operator's reserved handles (§2.1).

use kezd::config::RawConfig;
use kezd::registration_token;
use serde_json::Value;

use crate::common::kez::{Api, User, api_config, expect_error, now_ms, start};
use crate::common::{TestServer, client};

/// `POST /v1/register` with `body` and, when given, the token header.
async fn register_with(api: &Api, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut request = client().post(api.url("/v1/register")).json(body);
    if let Some(token) = token {
        request = request.header("KEZ-Registration-Token", token);
    }
    request.send().await.expect("answer")
}

/// A token the operator made, admitting `uses` registrations.
async fn invite(server: &TestServer, uses: Option<u32>) -> String {
    let issued = registration_token::issue(uses, None, now_ms().try_into().expect("ms"));
    server
        .state
        .store()
        .create_token(issued.record)
        .await
        .expect("create token");
    issued.token
}

fn policy(name: &'static str) -> impl FnOnce(&mut RawConfig) {
    move |raw| raw.registration.policy = Some(name.into())
}

/// The uses the server's only token has had.
async fn uses(server: &TestServer) -> u32 {
    server.state.store().tokens().await.expect("tokens")[0].uses
}

/// SPEC §4.1 check 10 with policy `token`: no token, a token that cannot be one, an unknown
/// one: 403 with their codes and nothing stored; a valid one registers and is spent; its last
/// use spent, it admits nobody more.
#[tokio::test]
async fn a_token_server_registers_only_with_a_valid_token() {
    let server = start(policy("token")).await;
    let api = Api::of(&server);
    let token = invite(&server, Some(1)).await;
    let alice = User::new("alice", 1);
    let body = alice.registration(now_ms());

    let missing = register_with(&api, &body, None).await;
    expect_error(missing, 403, "registration_token_required").await;
    for wrong in ["not a token", "0123456789abcdef0123456789abcdef"] {
        let refused = register_with(&api, &body, Some(wrong)).await;
        expect_error(refused, 403, "registration_token_invalid").await;
    }
    expect_error(api.get("/v1/u/alice").await, 404, "unknown_handle").await;
    assert_eq!(uses(&server).await, 0);

    let created = register_with(&api, &body, Some(&format!(" {token}\t"))).await;
    assert_eq!(created.status(), 201);
    assert_eq!(uses(&server).await, 1);
    let bob = User::new("bob", 2);
    let used_up = register_with(&api, &bob.registration(now_ms()), Some(&token)).await;
    expect_error(used_up, 403, "registration_token_invalid").await;
    expect_error(api.get("/v1/u/bob").await, 404, "unknown_handle").await;
}

/// SPEC §4.1: the policy is check 10, after the signature (unsigned junk cannot spend or
/// probe a token) and before the handle and primary (a refused registration spends nothing);
/// a retry of the stored registration is 200 without its token, which the first attempt spent.
#[tokio::test]
async fn the_token_is_checked_after_the_signature_and_spent_only_when_stored() {
    let server = start(policy("token")).await;
    let api = Api::of(&server);
    let token = invite(&server, Some(1)).await;
    let alice = User::new("alice", 1);

    let signed_at = now_ms();
    let mut forged = alice.registration(signed_at);
    forged["ts"] = (signed_at - 1_000).into();
    let refused = register_with(&api, &forged, Some(&token)).await;
    expect_error(refused, 400, "invalid_signature").await;
    let reserved = User::new("admin", 3).registration(now_ms());
    expect_error(
        register_with(&api, &reserved, None).await,
        400,
        "handle_reserved",
    )
    .await;
    assert_eq!(uses(&server).await, 0);

    let body = alice.registration(now_ms());
    let first = register_with(&api, &body, Some(&token)).await;
    assert_eq!(first.status(), 201);
    let record: Value = first.json().await.expect("record");
    for retry_token in [None, Some(token.as_str()), Some("whatever")] {
        let again = register_with(&api, &body, retry_token).await;
        assert_eq!(again.status(), 200, "retry with {retry_token:?}");
        assert_eq!(again.json::<Value>().await.expect("record"), record);
    }
    assert_eq!(uses(&server).await, 1);

    // A valid token is not spent by a registration refused at check 11 or 12.
    let spare = invite(&server, None).await;
    let impostor = User::new("alice", 4).registration(now_ms());
    expect_error(
        register_with(&api, &impostor, Some(&spare)).await,
        409,
        "handle_taken",
    )
    .await;
    let alias = User::new("alias", 1).registration(now_ms());
    expect_error(
        register_with(&api, &alias, Some(&spare)).await,
        409,
        "primary_taken",
    )
    .await;
    let tokens = server.state.store().tokens().await.expect("tokens");
    assert_eq!(tokens[1].uses, 0, "{tokens:?}");
}

/// SPEC §4.1 check 10 with policy `closed`: 403 `registration_closed` with or without a
/// token; a registration stored before the server closed is still answered 200 on retry.
#[tokio::test]
async fn a_closed_server_registers_nobody_new_but_answers_retries() {
    let server = start(policy("open")).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let body = alice.registration(now_ms());
    let record: Value = register_with(&api, &body, None)
        .await
        .json()
        .await
        .expect("record");

    let server = server.restart_with(api_config(policy("closed"))).await;
    let api = Api::of(&server);
    let token = invite(&server, None).await;
    let bob = User::new("bob", 2).registration(now_ms());
    for offered in [None, Some(token.as_str())] {
        let refused = register_with(&api, &bob, offered).await;
        expect_error(refused, 403, "registration_closed").await;
    }
    let again = register_with(&api, &body, None).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.expect("record"), record);
    expect_error(api.get("/v1/u/bob").await, 404, "unknown_handle").await;
}

/// An open server ignores a token header, valid or not, and spends nothing.
#[tokio::test]
async fn an_open_server_ignores_the_token_header() {
    let server = start(policy("open")).await;
    let api = Api::of(&server);
    let token = invite(&server, Some(1)).await;
    for (n, offered) in [(1, "junk junk"), (2, token.as_str())] {
        let user = User::new(&format!("user{n}"), n);
        let created = register_with(&api, &user.registration(now_ms()), Some(offered)).await;
        assert_eq!(created.status(), 201);
    }
    assert_eq!(uses(&server).await, 0);
}

/// SPEC §2.1, §4.1 check 4: the operator's reserved handles are refused like the SPEC's,
/// before the server name is checked; others are not.
#[tokio::test]
async fn configured_reserved_handles_are_handle_reserved() {
    let server = start(|raw| {
        raw.registration.policy = Some("open".into());
        raw.registration.reserved_handles = vec!["ops".into(), "billing".into()];
    })
    .await;
    let api = Api::of(&server);
    let ops = User::new("ops", 1);
    let on_another_server = ops.registration_on("elsewhere.example", now_ms());
    for body in [ops.registration(now_ms()), on_another_server] {
        expect_error(
            register_with(&api, &body, None).await,
            400,
            "handle_reserved",
        )
        .await;
    }
    let operator = User::new("operator", 2);
    assert_eq!(
        register_with(&api, &operator.registration(now_ms()), None)
            .await
            .status(),
        201
    );
}
