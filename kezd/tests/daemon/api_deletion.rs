//! Account deletion over real HTTP (SPEC §4.7), on SQLite and, when `KEZ_TEST_POSTGRES_URL`
//! is set, on PostgreSQL: the checks and their codes, the deletion and its retry, the account's
//! live stream ending, lookups, WebFinger and messages answered 410 `account_deleted`, the
//! credentials refused, and the tombstone refusing the handle and the primary at registration.

use std::sync::Arc;

use kez_spec::deletion::HANDLE_HOLD_MS;
use kezd::store::Store;
use serde_json::Value;

use crate::common::TestServer;
use crate::common::kez::{Api, SERVER, User, api_config, expect_error, now_ms, now_secs};

/// Seven minutes: outside the ±300 s window of SPEC §4.7 check 8.
const SEVEN_MINUTES_MS: u64 = 7 * 60 * 1000;

#[tokio::test]
async fn deletion_on_sqlite() {
    let server = TestServer::start(api_config(|_| {})).await;
    deletion_end_to_end(&Api::of(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletion_on_postgres() {
    let Some(database) = crate::backend::Postgres::from_env().await else {
        return;
    };
    let store: Arc<dyn Store> = database
        .open_with(kezd::store::PostgresOptions::new(database.url()))
        .await;
    let server = TestServer::start_with_store(api_config(|_| {}), store).await;
    deletion_end_to_end(&Api::of(&server)).await;
}

/// Every step of SPEC §4.7 through the API, in the order a person would meet them.
async fn deletion_end_to_end(api: &Api) {
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    api.send_ok(&bob.envelope(&alice, now_ms(), "for alice"))
        .await;
    refusals_before_deletion(api, &alice).await;

    let mut stream = api.stream(&alice, None, false).await;
    assert!(stream.expect_open(1).await.is_empty());
    let deletion = alice.deletion_on(SERVER, now_ms());
    let before = now_ms();
    let answer = api.post_json("/v1/account/delete", &deletion).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("answer");
    assert_eq!(answer["address"], format!("alice@{SERVER}"), "{answer}");
    let deleted_at = answer["deleted_at"].as_u64().expect("deleted_at");
    assert!(deleted_at >= before && deleted_at <= now_ms(), "{answer}");
    assert_eq!(
        answer["released_at"],
        deleted_at + HANDLE_HOLD_MS,
        "{answer}"
    );
    // Her live stream ends (SPEC §4.7): the body closes, with no event after.
    while let Some(frame) = stream.next_frame().await {
        assert!(frame.is_keep_alive(), "{frame:?}");
    }
    // A retry of the same deletion gets the same answer.
    let again = api.post_json("/v1/account/delete", &deletion).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.expect("answer"), answer);

    what_a_deleted_account_answers(api, &alice, &bob).await;
}

/// Checks 2, 4, 8 and 9 of SPEC §4.7 before the account is deleted; nothing is deleted.
async fn refusals_before_deletion(api: &Api, alice: &User) {
    let delete = |body: Value| async move { api.post_json("/v1/account/delete", &body).await };
    // A registration is not a deletion (SPEC §3.6).
    expect_error(
        delete(alice.registration(now_ms())).await,
        400,
        "malformed_request",
    )
    .await;
    expect_error(
        delete(alice.deletion_on("other.example", now_ms())).await,
        400,
        "wrong_server",
    )
    .await;
    let stale = alice.deletion_on(SERVER, now_ms() - SEVEN_MINUTES_MS);
    expect_error(delete(stale).await, 400, "stale_timestamp").await;
    // bob's key signing for alice's handle: a valid signature, not her primary.
    let impostor = User::new("alice", 2);
    expect_error(
        delete(impostor.deletion_on(SERVER, now_ms())).await,
        403,
        "primary_mismatch",
    )
    .await;
    let nobody = User::new("carol", 3);
    expect_error(
        delete(nobody.deletion_on(SERVER, now_ms())).await,
        404,
        "unknown_handle",
    )
    .await;
    assert_eq!(api.get("/v1/u/alice").await.status(), 200);
    assert_eq!(api.poll_all(alice).await.len(), 1);
}

/// SPEC §4.7 after the deletion: 410 on every lookup and message, 401 on the credentials, and
/// the handle and the primary held at registration; bob is untouched.
async fn what_a_deleted_account_answers(api: &Api, alice: &User, bob: &User) {
    let primary = alice.primary().to_string();
    for path in [
        "/v1/u/alice".to_owned(),
        format!("/v1/u/alice@{SERVER}"),
        format!("/v1/by-primary/{primary}"),
        format!("/.well-known/webfinger?resource=acct:alice@{SERVER}"),
    ] {
        let response = api.get(&path).await;
        expect_error(response, 410, "account_deleted").await;
    }
    let to_alice = bob.envelope(alice, now_ms(), "too late");
    expect_error(api.send(&to_alice).await, 410, "account_deleted").await;
    let credential = alice.poll_credential(0, now_secs());
    let poll = api.poll_raw("alice", "?since=0", Some(&credential)).await;
    expect_error(poll, 401, "unauthorized").await;
    // Her own sends are refused: she is no longer a user here.
    expect_error(
        api.send(&alice.envelope(bob, now_ms(), "hi")).await,
        403,
        "unknown_sender",
    )
    .await;
    // The handle to another key, the primary under another handle, her registration replayed.
    let successor = User::new("alice", 3);
    expect_error(api.register(&successor).await, 409, "handle_taken").await;
    let returning = User {
        handle: kez_spec::Handle::parse("alice2").expect("valid"),
        key: alice.key.clone(),
        server: alice.server.clone(),
    };
    expect_error(api.register(&returning).await, 409, "primary_taken").await;
    expect_error(api.register(alice).await, 409, "handle_taken").await;
    // bob is untouched.
    assert_eq!(api.get("/v1/u/bob").await.status(), 200);
    assert!(api.poll_all(bob).await.is_empty());
}
