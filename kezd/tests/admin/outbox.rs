//! `kezd admin outbox …`: a destination that cannot be reached backs off for an hour; `outbox
//! show` reports it, and `outbox retry` ends the backoff at once, so delivery tries again now.

use kez_spec::Address;

use crate::common::kez::{User, now_ms};
use crate::daemon::message;
use crate::run::Target;
use crate::store::Store;

#[tokio::test]
async fn outbox_on_sqlite_shows_a_backoff_that_retry_ends_now() {
    outbox_show_reports_a_backoff_that_retry_ends_now(Store::Sqlite).await;
}

#[tokio::test]
async fn outbox_on_postgres_shows_a_backoff_that_retry_ends_now() {
    outbox_show_reports_a_backoff_that_retry_ends_now(Store::Postgres).await;
}

/// A destination backing off, shown and retried through the daemon, then shown with the
/// daemon stopped from the store directly.
async fn outbox_show_reports_a_backoff_that_retry_ends_now(store: Store) {
    let Some(store) = store.ready().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // No DNS answers (a closed port), and a first backoff of an hour: only `retry` brings the
    // next attempt within the test.
    let target = Target::new(
        &dir.path().join("data"),
        &store.flags(&[
            "--set",
            "federation.resolver=127.0.0.1:1",
            "--set",
            "federation.backoff_initial_secs=3600",
            "--set",
            "federation.backoff_max_secs=7200",
        ]),
    );
    let (mut daemon, api) = target.serve().await;
    let empty = target.admin(&["outbox", "show"]).await;
    assert_eq!(empty.stdout, "the outbox is empty\n", "{empty:?}");

    let alice = User::new("alice", 1);
    api.register_ok(&alice).await;
    let carol = User::new("carol", 3);
    let away: Address = "carol@remote.example".parse().expect("address");
    let sent_at = i64::try_from(now_ms()).expect("now");
    let response = api
        .send(&alice.envelope_to(&away, &carol.primary(), now_ms(), "hello"))
        .await;
    assert_eq!(response.status(), 202, "queued");
    let backs_off = |failures: u64| {
        move |line: &serde_json::Value| {
            message(line) == "destination backs off" && line["fields"]["failures"] == failures
        }
    };
    daemon.wait_for(backs_off(1)).await;

    let shown = target.json(&["outbox", "show"]).await;
    let destination = &shown["destinations"][0];
    assert_eq!(destination["destination"], "remote.example", "{shown}");
    assert_eq!(destination["pending"], 1);
    assert_eq!(destination["failures"], 1);
    let retry_at = destination["retry_at_ms"].as_i64().expect("backing off");
    // The backoff is the hour times a random factor of at least 0.8 (SPEC §9.6), counted from
    // the failure, which came after the send.
    assert!(
        retry_at >= sent_at + 2_880_000,
        "an hour's backoff: {shown}"
    );
    let human = target.admin(&["outbox", "show"]).await;
    assert!(human.stdout.starts_with("DESTINATION"), "{human:?}");

    let retried = target.json(&["outbox", "retry", "remote.example"]).await;
    assert_eq!(retried["changed"], true, "{retried}");
    // The next attempt comes now, not in an hour.
    daemon.wait_for(backs_off(2)).await;
    let unknown = target.admin(&["outbox", "retry", "nowhere.example"]).await;
    assert_eq!(unknown.code, 3, "{unknown:?}");
    daemon.terminate().await;

    // Stopped: the store still shows the destination.
    let shown = target.json(&["outbox", "show"]).await;
    assert_eq!(shown["destinations"][0]["failures"], 2, "{shown}");
}
