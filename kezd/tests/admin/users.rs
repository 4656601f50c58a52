//! `kezd admin users …`: list, show, suspend, unsuspend — through the daemon and with it
//! stopped, on SQLite and PostgreSQL — and what a suspended user is refused (SPEC §8.8).

use serde_json::{Value, json};

use crate::common::kez::{Api, User, expect_error, now_ms, now_secs};
use crate::run::Target;
use crate::store::Store;

/// The status credential of `user` for message `id`, now (SPEC §7.6).
fn status_credential(user: &User, id: &str) -> String {
    let id = kez_spec::MessageId::parse(id).expect("a message id");
    kez_spec::auth::AuthRequest::Status { id: &id }
        .sign(&user.key, now_secs())
        .to_string()
}

/// Every request of alice's own is refused with 403 `account_suspended`.
async fn alice_is_refused(api: &Api, alice: &User, bob: &User, sent_id: &str) {
    let send = api.send(&alice.envelope(bob, now_ms(), "hi")).await;
    expect_error(send, 403, "account_suspended").await;
    let poll = api
        .poll_raw(
            alice.handle.as_str(),
            "?since=0",
            Some(&alice.poll_credential(0, now_secs())),
        )
        .await;
    expect_error(poll, 403, "account_suspended").await;
    let ack = api
        .ack_raw(
            alice.handle.as_str(),
            json!({"through": 1}).to_string(),
            Some(&alice.ack_credential(1, now_secs())),
        )
        .await;
    expect_error(ack, 403, "account_suspended").await;
    let auth = alice.stream_credential(None, now_secs());
    let stream = api
        .stream_raw(alice.handle.as_str(), &format!("?auth={auth}"), None)
        .await;
    expect_error(stream, 403, "account_suspended").await;
    let status = api
        .http
        .get(api.url(&format!("/v1/messages/{sent_id}/status")))
        .header("x-kez-auth", status_credential(alice, sent_id))
        .send()
        .await
        .expect("status request");
    expect_error(status, 403, "account_suspended").await;
    // A wrong credential is still 401: a stranger does not learn of the suspension.
    let poll = api
        .poll_raw(
            alice.handle.as_str(),
            "?since=0",
            Some(&bob.poll_credential(0, now_secs())),
        )
        .await;
    expect_error(poll, 401, "unauthorized").await;
}

/// Suspension through the running daemon: alice's own requests refused, her open stream
/// ended, messages to her accepted and kept; lifted, she reads them. Then, with the daemon
/// stopped, the store shows what the daemon wrote.
async fn suspend_and_unsuspend(target: Target) {
    let (daemon, api) = target.serve().await;
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    let sent = api.send_ok(&alice.envelope(&bob, now_ms(), "before")).await;
    let sent_id = sent["id"].as_str().expect("id").to_owned();
    let mut stream = api.stream(&alice, None, false).await;
    assert!(stream.expect_open(0).await.is_empty());

    let page = target.json(&["users", "list"]).await;
    let handles: Vec<&str> = page["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["handle"].as_str().expect("handle"))
        .collect();
    assert_eq!(handles, ["alice", "bob"]);
    assert_eq!(page["users"][0]["suspension"], Value::Null);
    let shown = target.json(&["users", "show", "alice"]).await;
    assert_eq!(shown["user"]["primary"], alice.primary().to_string());

    let done = target
        .json(&["users", "suspend", "alice", "--reason", "spam"])
        .await;
    assert_eq!(
        done,
        json!({"kind": "done", "message": "alice is suspended", "changed": true})
    );
    // Her stream ends at once: the next frame is the end.
    let end = tokio::time::timeout(crate::common::kez::LIVENESS, stream.next_frame())
        .await
        .expect("the stream ends");
    assert_eq!(end, None, "the stream of a suspended user ends");
    alice_is_refused(&api, &alice, &bob, &sent_id).await;
    // Messages to her are accepted and kept.
    let to_alice = api
        .send_ok(&bob.envelope(&alice, now_ms(), "while away"))
        .await;
    assert_eq!(to_alice["seq"], 1);
    let again = target.json(&["users", "suspend", "alice"]).await;
    assert_eq!(again["changed"], false, "{again}");
    let shown = target.json(&["users", "show", "alice"]).await;
    assert_eq!(shown["user"]["suspension"]["reason"], "spam");
    assert_eq!(shown["latest_seq"], 1);

    let done = target.json(&["users", "unsuspend", "alice"]).await;
    assert_eq!(done["changed"], true, "{done}");
    let inbox = api.poll_all(&alice).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(alice.open(&inbox[0]["envelope"]), "while away");
    target.json(&["users", "suspend", "bob"]).await;
    daemon.terminate().await;

    // Stopped: the same commands work on the store directly.
    assert!(!target.socket().exists());
    let shown = target.json(&["users", "show", "bob"]).await;
    assert!(shown["user"]["suspension"]["at_ms"].is_i64(), "{shown}");
    let done = target.json(&["users", "unsuspend", "bob"]).await;
    assert_eq!(done["changed"], true);
    let page = target.json(&["users", "list", "--limit", "1"]).await;
    assert_eq!(
        page["next"], "alice",
        "a full page names where the next starts"
    );
    let page = target
        .json(&["users", "list", "--after", "alice", "--limit", "1"])
        .await;
    assert_eq!(page["users"][0]["handle"], "bob");
    assert_eq!(target.admin(&["users", "show", "carol"]).await.code, 3);
    let human = target.admin(&["users", "list"]).await;
    assert_eq!(human.code, 0);
    assert!(human.stdout.starts_with("HANDLE"), "{human:?}");

    // A daemon started on this store refuses what was suspended while it was stopped.
    target.json(&["users", "suspend", "bob"]).await;
    let (daemon, api) = target.serve().await;
    let poll = api
        .poll_raw(
            bob.handle.as_str(),
            "?since=0",
            Some(&bob.poll_credential(0, now_secs())),
        )
        .await;
    expect_error(poll, 403, "account_suspended").await;
    daemon.terminate().await;
}

#[tokio::test]
async fn suspension_on_sqlite_through_the_daemon_and_directly() {
    let dir = tempfile::tempdir().expect("tempdir");
    suspend_and_unsuspend(Target::new(&dir.path().join("data"), &[])).await;
    // Every action is in the audit log, daemon's and direct ones alike.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("data").join("kezd.db").display()
    ))
    .await
    .expect("open the database");
    let rows: Vec<(String, String, Option<String>, String)> =
        sqlx::query_as("SELECT actor, action, target, outcome FROM admin_audit ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("audit rows");
    let uid =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc/self"));
    let actor = format!("uid:{uid}");
    let first = &rows[0];
    assert_eq!(
        (first.0.as_str(), first.1.as_str(), first.3.as_str()),
        (actor.as_str(), "users.list", "ok")
    );
    let suspended = rows
        .iter()
        .find(|r| r.1 == "users.suspend")
        .expect("a suspension row");
    assert_eq!(suspended.2.as_deref(), Some("alice"));
    assert!(
        rows.iter()
            .any(|r| r.1 == "users.show" && r.3.starts_with("not_found")),
        "failures are audited too: {rows:?}"
    );
}

#[tokio::test]
async fn suspension_on_postgres_through_the_daemon_and_directly() {
    let Some(store) = Store::Postgres.ready().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    suspend_and_unsuspend(Target::new(&dir.path().join("data"), &store.flags(&[]))).await;
}
