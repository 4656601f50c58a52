//! The outbox: remote messages routed to it once, outcomes recorded per message, the
//! destination's backoff, delivery status, the operator's backlog gauges and waking a
//! destination.

use kezd::store::{Accepted, Delivery, MessageStatus, OutboxBacklog, Store};

use super::{local, queue_remote, register_all, remote, seqs};
use crate::backend::Backend;

pub async fn remote_route_goes_to_the_outbox_once(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;

    let first = store
        .accept(remote("r1", "b.example", "bob"))
        .await
        .expect("accept");
    assert_eq!(
        first,
        Accepted {
            seq: None,
            duplicate: false
        }
    );
    store
        .accept(remote("r2", "c.example", "carol"))
        .await
        .expect("accept");
    store
        .accept(remote("r3", "b.example", "bob"))
        .await
        .expect("accept");
    let again = store
        .accept(remote("r1", "b.example", "bob"))
        .await
        .expect("accept");
    assert_eq!(
        again,
        Accepted {
            seq: None,
            duplicate: true
        }
    );
    // Remote messages touch no local inbox.
    assert!(seqs(&*store, "alice").await.is_empty());
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 0);

    // The outbox in acceptance order, per destination, due at once, never attempted.
    let summary = |items: Vec<kezd::store::OutboxItem>| {
        items
            .into_iter()
            .map(|i| {
                assert_eq!(i.sender, "alice@kez.test");
                assert_eq!(
                    (i.accepted_at_ms, i.attempts, i.next_attempt_at_ms),
                    (1_000, 0, 1_000)
                );
                i.id
            })
            .collect::<Vec<_>>()
    };
    let b = store
        .outbox_pending("b.example", 0, 10)
        .await
        .expect("pending");
    assert_eq!(summary(b), ["r1", "r3"]);
    let c = store
        .outbox_pending("c.example", 0, 10)
        .await
        .expect("pending");
    assert_eq!(summary(c), ["r2"]);
    // A read continues after the position of the last row of the one before it.
    let first = store
        .outbox_pending("b.example", 0, 1)
        .await
        .expect("pending");
    assert_eq!(first[0].id, "r1");
    let rest = store
        .outbox_pending("b.example", first[0].position, 10)
        .await
        .expect("pending");
    assert_eq!(summary(rest), ["r3"]);
    assert!(
        store
            .outbox_pending("c.example", i64::MAX, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    let mut due = store.outbox_destinations(1_000).await.expect("due");
    due.sort();
    assert_eq!(due, ["b.example", "c.example"]);
    assert!(
        store
            .outbox_destinations(999)
            .await
            .expect("due")
            .is_empty()
    );
    store.close().await;
}

pub async fn outbox_outcomes_backoff_and_delivery_status(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    queue_remote(&*store, "b.example", &["r1", "r2", "r3"]).await;
    store.accept(local("l1", "alice", 5)).await.expect("accept");
    let store = &*store;
    statuses_before_any_attempt(store).await;
    first_attempt_outcomes(store).await;
    pending_waits_for_the_backoff(store).await;
    late_outcome_and_success(store).await;
}

/// A message queued for delivery, as [`Store::message_status`] reports it.
fn queued(attempts: u32, next: Option<i64>, error: Option<&str>) -> MessageStatus {
    MessageStatus {
        sender: "alice@kez.test".into(),
        status: "queued",
        attempts,
        next_attempt_at_ms: next,
        error: error.map(Into::into),
    }
}

/// The status of a message the store knows.
async fn status(store: &dyn Store, id: &str) -> MessageStatus {
    store
        .message_status(id)
        .await
        .expect("status")
        .expect("known")
}

/// Before any attempt: remote messages queued and due at once, a local one stored, an
/// unknown id unknown.
async fn statuses_before_any_attempt(store: &dyn Store) {
    assert_eq!(
        store.message_status("r1").await.expect("status"),
        Some(queued(0, Some(1_000), None))
    );
    assert_eq!(
        store.message_status("l1").await.expect("status"),
        Some(MessageStatus {
            sender: "zed@a.example".into(),
            status: "stored",
            attempts: 0,
            next_attempt_at_ms: None,
            error: None,
        })
    );
    assert_eq!(store.message_status("nope").await.expect("status"), None);
}

/// An attempt: r1 delivered, r2 refused for good, r3 to retry; the destination backs off.
async fn first_attempt_outcomes(store: &dyn Store) {
    store
        .outbox_record(
            "b.example",
            vec![
                ("r1".into(), Delivery::Delivered),
                (
                    "r2".into(),
                    Delivery::Failed {
                        code: "unknown_recipient".into(),
                    },
                ),
                (
                    "r3".into(),
                    Delivery::Retry {
                        at_ms: 5_000,
                        error: "unavailable".into(),
                    },
                ),
            ],
            Some((2, 9_000)),
        )
        .await
        .expect("record");
    assert_eq!(status(store, "r1").await.status, "delivered");
    assert_eq!(status(store, "r1").await.next_attempt_at_ms, None);
    let failed = status(store, "r2").await;
    assert_eq!((failed.status, failed.attempts), ("failed", 1));
    assert_eq!(failed.error.as_deref(), Some("unknown_recipient"));
    assert_eq!(
        status(store, "r3").await,
        queued(1, Some(5_000), Some("unavailable"))
    );
    assert_eq!(
        store
            .destination_failures("b.example")
            .await
            .expect("failures"),
        2
    );
    assert_eq!(
        store
            .destination_failures("c.example")
            .await
            .expect("failures"),
        0
    );
}

/// Only r3 is pending; it is due at 5,000 but the destination waits until 9,000.
async fn pending_waits_for_the_backoff(store: &dyn Store) {
    let pending = store
        .outbox_pending("b.example", 0, 10)
        .await
        .expect("pending");
    let ids: Vec<_> = pending
        .iter()
        .map(|i| (i.id.as_str(), i.attempts))
        .collect();
    assert_eq!(ids, [("r3", 1)]);
    assert!(
        store
            .outbox_destinations(4_999)
            .await
            .expect("due")
            .is_empty()
    );
    assert!(
        store
            .outbox_destinations(8_999)
            .await
            .expect("due")
            .is_empty()
    );
    assert_eq!(
        store.outbox_destinations(9_000).await.expect("due"),
        ["b.example"]
    );
}

/// A finished message is not changed by a late outcome; success clears the backoff.
async fn late_outcome_and_success(store: &dyn Store) {
    store
        .outbox_record(
            "b.example",
            vec![
                (
                    "r1".into(),
                    Delivery::Failed {
                        code: "late".into(),
                    },
                ),
                ("r3".into(), Delivery::Delivered),
            ],
            None,
        )
        .await
        .expect("record");
    assert_eq!(status(store, "r1").await.status, "delivered");
    let delivered = status(store, "r3").await;
    assert_eq!((delivered.status, delivered.attempts), ("delivered", 2));
    assert_eq!(delivered.error.as_deref(), Some("unavailable"));
    assert_eq!(
        store
            .destination_failures("b.example")
            .await
            .expect("failures"),
        0
    );
    assert!(
        store
            .outbox_pending("b.example", 0, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    assert!(
        store
            .outbox_destinations(i64::MAX)
            .await
            .expect("due")
            .is_empty()
    );
}

/// What the operator's gauges read: pending messages, the destinations they wait for, and
/// the destinations backing off, as outcomes are recorded.
pub async fn outbox_backlog_counts_pending_destinations_and_failing(backend: &dyn Backend) {
    let store = backend.open().await;
    let backlog = || async { store.outbox_backlog().await.expect("backlog") };
    let counts = |pending, destinations, failing| OutboxBacklog {
        pending,
        destinations,
        failing,
    };
    assert_eq!(backlog().await, counts(0, 0, 0));
    queue_remote(&*store, "b.example", &["r1", "r2"]).await;
    queue_remote(&*store, "c.example", &["r3"]).await;
    assert_eq!(backlog().await, counts(3, 2, 0));
    let retry = Delivery::Retry {
        at_ms: 5_000,
        error: "unavailable".into(),
    };
    store
        .outbox_record("c.example", vec![("r3".into(), retry)], Some((1, 5_000)))
        .await
        .expect("record");
    assert_eq!(backlog().await, counts(3, 2, 1), "r3 still waits");
    store
        .outbox_record("b.example", vec![("r1".into(), Delivery::Delivered)], None)
        .await
        .expect("record");
    assert_eq!(backlog().await, counts(2, 2, 1));
    store
        .outbox_record("b.example", vec![("r2".into(), Delivery::Delivered)], None)
        .await
        .expect("record");
    store
        .outbox_record("c.example", vec![("r3".into(), Delivery::Delivered)], None)
        .await
        .expect("record");
    assert_eq!(
        backlog().await,
        counts(0, 0, 0),
        "success clears the backoff"
    );
}

/// Waking a destination ends the backoff it is in and brings forward the messages that
/// backoff put off, not those the peer deferred itself; a stale retry time wakes nothing.
pub async fn a_destination_woken_is_due_at_once(backend: &dyn Backend) {
    let store = backend.open().await;
    queue_remote(&*store, "b.example", &["r1", "r2", "r3"]).await;
    let retry = |at_ms| Delivery::Retry {
        at_ms,
        error: "unavailable".into(),
    };
    // r1 waits for the backoff (9,000); the peer deferred r3 itself, to 7,000.
    store
        .outbox_record(
            "b.example",
            vec![("r1".into(), retry(9_000)), ("r3".into(), retry(7_000))],
            Some((1, 9_000)),
        )
        .await
        .expect("record");
    let due = || async { store.outbox_destinations(2_000).await.expect("due") };
    assert!(due().await.is_empty());
    let wake = |retry_at| {
        let store = &store;
        async move {
            store
                .outbox_wake("b.example", retry_at, 2_000)
                .await
                .expect("wake")
        }
    };
    assert!(!wake(8_000).await, "not the backoff it is in");
    assert!(due().await.is_empty());
    assert!(wake(9_000).await);
    assert_eq!(due().await, ["b.example"]);
    let next: Vec<(String, i64)> = store
        .outbox_pending("b.example", 0, 10)
        .await
        .expect("pending")
        .into_iter()
        .map(|i| (i.id, i.next_attempt_at_ms))
        .collect();
    assert_eq!(
        next,
        [
            ("r1".to_owned(), 2_000),
            ("r2".to_owned(), 1_000),
            ("r3".to_owned(), 7_000)
        ]
    );
    assert_eq!(
        store
            .destination_failures("b.example")
            .await
            .expect("failures"),
        1,
        "its failures stay: the next attempt is a probe"
    );
    assert!(!wake(9_000).await, "woken once");
}
