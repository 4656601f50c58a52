//! Reading and acknowledging an inbox: pages by cursor, count and bytes, and
//! acknowledgement that deletes exactly through a seq without freeing seqs for reuse.

use super::{accept_new, local, register_all, seqs};
use crate::backend::Backend;

pub async fn seqs_are_not_reused_after_ack_deletes_everything(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    for id in ["m1", "m2", "m3"] {
        accept_new(&*store, local(id, "alice", 1)).await;
    }
    assert_eq!(store.ack("alice", 3).await.expect("ack"), 3);
    assert!(seqs(&*store, "alice").await.is_empty());
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 3);
    assert_eq!(accept_new(&*store, local("m4", "alice", 1)).await, 4);

    // Nor after a restart, when the writer's in-memory counter starts empty.
    store.ack("alice", 4).await.expect("ack");
    store.close().await;
    let store = backend.open().await;
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 4);
    assert_eq!(accept_new(&*store, local("m5", "alice", 1)).await, 5);
}

pub async fn inbox_pages_by_since_and_limit(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    for n in 1..=10 {
        accept_new(&*store, local(&format!("a{n}"), "alice", n)).await;
    }
    accept_new(&*store, local("b1", "bob", 1)).await;

    let page = |since, limit| {
        let store = &store;
        async move {
            let messages = store
                .inbox("alice", since, limit, usize::MAX)
                .await
                .expect("inbox");
            messages.iter().map(|m| m.seq).collect::<Vec<_>>()
        }
    };
    assert_eq!(page(0, 3).await, [1, 2, 3]);
    assert_eq!(page(3, 3).await, [4, 5, 6]);
    assert_eq!(page(8, 100).await, [9, 10]);
    assert!(page(10, 100).await.is_empty());
    assert!(page(u64::MAX, 100).await.is_empty());
    assert!(page(0, 0).await.is_empty());
    let ids: Vec<_> = store
        .inbox("alice", 4, 2, usize::MAX)
        .await
        .expect("inbox")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["a5", "a6"]);
}

/// A page is bounded in envelope bytes as well as in count: it ends at the last envelope that
/// fits, always holds the first however large, and paging on from its last seq reads every
/// message once (SPEC §8.2).
pub async fn inbox_pages_are_bounded_in_bytes(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    // Envelopes of 1,000 bytes, and one of 5,000 in the middle.
    let sized = |n: usize, size: usize| {
        let mut message = local(&format!("a{n}"), "alice", 1);
        // `{"p":"` + padding + `","n":` + three digits + `}`.
        let pad = size - 16;
        message.envelope_json = format!(r#"{{"p":"{}","n":{n:03}}}"#, "x".repeat(pad));
        assert_eq!(message.envelope_json.len(), size);
        message
    };
    for n in 1..=10 {
        accept_new(&*store, sized(n, if n == 4 { 5_000 } else { 1_000 })).await;
    }
    let page = |since, limit, max_bytes| {
        let store = &store;
        async move {
            let messages = store
                .inbox("alice", since, limit, max_bytes)
                .await
                .expect("inbox");
            messages.iter().map(|m| m.seq).collect::<Vec<_>>()
        }
    };
    assert_eq!(page(0, 100, 3_000).await, [1, 2, 3], "exactly full");
    assert_eq!(page(0, 100, 2_999).await, [1, 2]);
    assert_eq!(page(0, 2, 3_000).await, [1, 2], "the count still bounds");
    assert_eq!(page(3, 100, 3_000).await, [4], "a larger first one alone");
    assert_eq!(page(3, 100, 1).await, [4]);
    assert_eq!(page(4, 100, 3_000).await, [5, 6, 7]);
    assert!(page(10, 100, 3_000).await.is_empty());

    let mut since = 0;
    let mut seen = Vec::new();
    loop {
        let got = page(since, 100, 2_500).await;
        let Some(last) = got.last() else { break };
        since = *last;
        seen.extend(got);
    }
    assert_eq!(seen, (1..=10).collect::<Vec<u64>>(), "every message once");
}

pub async fn ack_deletes_exactly_through_the_seq_and_counts(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    for n in 1..=6 {
        accept_new(&*store, local(&format!("a{n}"), "alice", 1)).await;
    }
    accept_new(&*store, local("b1", "bob", 1)).await;

    assert_eq!(store.ack("alice", 0).await.expect("ack"), 0);
    assert_eq!(store.ack("alice", 2).await.expect("ack"), 2);
    assert_eq!(seqs(&*store, "alice").await, [3, 4, 5, 6]);
    assert_eq!(store.ack("alice", 2).await.expect("ack"), 0);
    assert_eq!(store.ack("alice", 4).await.expect("ack"), 2);
    assert_eq!(seqs(&*store, "alice").await, [5, 6]);
    // Beyond the latest seq deletes what is there and nothing of anyone else.
    assert_eq!(store.ack("alice", u64::MAX).await.expect("ack"), 2);
    assert!(seqs(&*store, "alice").await.is_empty());
    assert_eq!(seqs(&*store, "bob").await, [1]);
    assert_eq!(store.ack("nobody", 10).await.expect("ack"), 0);
}
