//! Retention: by age and by count per inbox, in bounded steps, and the id memory that
//! forgets old ids but never those of messages still in the outbox.

use std::sync::Arc;

use kezd::store::{Accepted, NewMessage};

use super::{accept_new, key, local, register_all, remote, seqs};
use crate::backend::Backend;

pub async fn retention_by_age_deletes_only_older_messages(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    // received_at: alice 100, 200, 300, 400; bob 150, 350.
    for (id, to, at) in [
        ("a1", "alice", 100),
        ("b1", "bob", 150),
        ("a2", "alice", 200),
        ("a3", "alice", 300),
        ("b2", "bob", 350),
        ("a4", "alice", 400),
    ] {
        accept_new(&*store, local(id, to, at)).await;
    }
    // Strictly older than 300: a1, b1, a2.
    let deleted = store
        .enforce_retention(300, u64::MAX)
        .await
        .expect("retain");
    assert_eq!(deleted, 3);
    assert_eq!(seqs(&*store, "alice").await, [3, 4]);
    assert_eq!(seqs(&*store, "bob").await, [2]);
    assert_eq!(
        store
            .enforce_retention(300, u64::MAX)
            .await
            .expect("retain"),
        0
    );
    // Retention never moves the counters.
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 4);
    assert_eq!(accept_new(&*store, local("a5", "alice", 500)).await, 5);
}

pub async fn retention_by_count_keeps_the_newest_per_inbox(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob", "carol"]).await;
    for n in 1..=7 {
        accept_new(&*store, local(&format!("a{n}"), "alice", 1_000)).await;
    }
    for n in 1..=3 {
        accept_new(&*store, local(&format!("b{n}"), "bob", 1_000)).await;
    }
    accept_new(&*store, local("c1", "carol", 1_000)).await;
    // A hole in alice's inbox: the limit counts stored messages, not seq distance.
    store.ack("alice", 1).await.expect("ack");

    let deleted = store.enforce_retention(0, 3).await.expect("retain");
    assert_eq!(deleted, 3); // alice 2, 3, 4
    assert_eq!(seqs(&*store, "alice").await, [5, 6, 7]);
    assert_eq!(seqs(&*store, "bob").await, [1, 2, 3]);
    assert_eq!(seqs(&*store, "carol").await, [1]);

    // Age and count together; a message matched by both is counted once.
    accept_new(&*store, local("b4", "bob", 2_000)).await;
    let deleted = store.enforce_retention(1_500, 2).await.expect("retain");
    // Age: alice 5, 6, 7, bob 1, 2, 3, carol 1 (all at 1000); then bob holds only b4.
    assert_eq!(deleted, 7);
    assert!(seqs(&*store, "alice").await.is_empty());
    assert_eq!(seqs(&*store, "bob").await, [4]);

    assert_eq!(store.enforce_retention(0, 0).await.expect("retain"), 1);
    assert!(seqs(&*store, "bob").await.is_empty());
}

pub async fn retention_by_count_at_the_limit_and_after_acks(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob", "carol"]).await;
    // alice: exactly the limit (last_seq 3); bob: one over (last_seq 4); carol: last_seq 5
    // but two acknowledged, so 3 stored — over the limit by seq, not by count.
    for (to, count) in [("alice", 3), ("bob", 4), ("carol", 5)] {
        for n in 1..=count {
            accept_new(&*store, local(&format!("{to}{n}"), to, 1_000)).await;
        }
    }
    store.ack("carol", 2).await.expect("ack");

    assert_eq!(store.enforce_retention(0, 3).await.expect("retain"), 1);
    assert_eq!(seqs(&*store, "alice").await, [1, 2, 3]);
    assert_eq!(seqs(&*store, "bob").await, [2, 3, 4]);
    assert_eq!(seqs(&*store, "carol").await, [3, 4, 5]);
}

pub async fn retention_larger_than_one_step_finishes(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    // 2,500 old messages to alice and 2,500 to bob: more than one retention step each.
    let tasks: Vec<_> = (0..10)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for n in 0..500 {
                    let to = if task % 2 == 0 { "alice" } else { "bob" };
                    let at = if n < 450 { 10 } else { 1_000 };
                    let id = format!("m{task}-{n}");
                    store.accept(local(&id, to, at)).await.expect("accept");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("join");
    }
    // What should stay: per inbox, the newest 100 (by seq) of the 250 recent messages.
    let mut keep = Vec::new();
    for to in ["alice", "bob"] {
        let all = store.inbox(to, 0, 10_000, usize::MAX).await.expect("inbox");
        let recent: Vec<u64> = all
            .iter()
            .filter(|m| m.received_at_ms == 1_000)
            .map(|m| m.seq)
            .collect();
        assert_eq!(recent.len(), 250);
        keep.push(recent[150..].to_vec());
    }
    // Age removes 2 × 2,250; then each inbox loses its oldest 150 recent ones.
    let deleted = store.enforce_retention(100, 100).await.expect("retain");
    assert_eq!(deleted, 4_500 + 2 * 150);
    assert_eq!(seqs(&*store, "alice").await, keep[0]);
    assert_eq!(seqs(&*store, "bob").await, keep[1]);
}

pub async fn retention_beside_accepts_deletes_nothing_it_should_keep(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    // By age: every other message to alice already expired, sweeps running meanwhile, each
    // finding its candidates on a snapshot that accepts overtake. What is left is exactly the
    // recent ones.
    let accepted = accept_while_sweeping(
        &store,
        "alice",
        |n| if n % 2 == 0 { 10 } else { 1_000 },
        u64::MAX,
    )
    .await;
    let recent: Vec<u64> = accepted
        .iter()
        .filter(|(_, at)| *at == 1_000)
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(recent.len(), 200);
    assert_eq!(seqs(&*store, "alice").await, recent);
    // By count: no message can expire, so exactly the newest 50 stay; a sweep that deleted
    // one of them (its cutoff taken on a snapshot) would leave a hole.
    accept_while_sweeping(&store, "bob", |_| 1_000, 50).await;
    assert_eq!(
        seqs(&*store, "bob").await,
        (351..=400).collect::<Vec<u64>>()
    );
}

/// Four senders accept 100 messages each to `to` (message n received at `at(n)`) while sweeps
/// with an age limit of 100 and `max_per_inbox` run back to back; then one more sweep. Returns
/// every (seq, received_at) accepted, in seq order.
async fn accept_while_sweeping(
    store: &Arc<dyn kezd::store::Store>,
    to: &'static str,
    at: fn(u32) -> i64,
    max_per_inbox: u64,
) -> Vec<(u64, i64)> {
    let senders: Vec<_> = (0..4)
        .map(|task| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                for n in 0..100 {
                    let id = format!("{to}-{task}-{n}");
                    let seq = accept_new(&*store, local(&id, to, at(n))).await;
                    accepted.push((seq, at(n)));
                }
                accepted
            })
        })
        .collect();
    loop {
        store
            .enforce_retention(100, max_per_inbox)
            .await
            .expect("retain");
        if senders.iter().all(tokio::task::JoinHandle::is_finished) {
            break;
        }
    }
    let mut accepted = Vec::new();
    for sender in senders {
        accepted.extend(sender.await.expect("join"));
    }
    store
        .enforce_retention(100, max_per_inbox)
        .await
        .expect("retain");
    accepted.sort_unstable();
    accepted
}

pub async fn retention_forgets_old_ids_but_not_those_in_the_outbox(backend: &dyn Backend) {
    /// SPEC §8.7: `ts` + 7 days + 300 s, and `ts` may be 300 s after acceptance.
    const ID_MEMORY_MS: i64 = (7 * 24 * 3600 + 600) * 1000;
    /// A store may forget up to a day late (SQLite forgets whole days of `ts`).
    const DAY_MS: i64 = 86_400_000;
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    accept_new(&*store, local("old", "alice", 100)).await;
    accept_new(&*store, local("expired", "alice", 2 * DAY_MS)).await;
    let cutoff = ID_MEMORY_MS + DAY_MS + 5_000;
    accept_new(&*store, local("new", "alice", cutoff + 5_000)).await;
    store
        .accept(remote("out", "b.example", "bob"))
        .await
        .expect("accept"); // at 1,000
    assert_eq!(
        store
            .enforce_retention(cutoff, u64::MAX)
            .await
            .expect("retain"),
        2
    );
    assert_eq!(seqs(&*store, "alice").await, [3]);
    let accepted = |id: &'static str, ts: i64| {
        let store = &store;
        async move { store.accepted(&key(id, ts)).await.expect("accepted") }
    };
    // An id is forgotten only once no envelope with it could be accepted again; until then
    // a resend of an expired message is still a duplicate. One the outbox holds stays.
    assert_eq!(accepted("old", 100).await, None);
    let remembered = |seq| {
        Some(Accepted {
            seq,
            duplicate: true,
        })
    };
    assert_eq!(accepted("expired", 2 * DAY_MS).await, remembered(Some(2)));
    assert_eq!(accepted("out", 1_000).await, remembered(None));
    assert_eq!(accepted("new", cutoff + 5_000).await, remembered(Some(3)));
    // A forgotten id is a new message again, at the next seq: seqs are never reused. (The
    // same envelope, so the same ts; only a store that no longer checks it would accept it.)
    let resent = NewMessage {
        ts_ms: 100,
        ..local("old", "alice", cutoff + 1)
    };
    assert_eq!(accept_new(&*store, resent).await, 4);
}
