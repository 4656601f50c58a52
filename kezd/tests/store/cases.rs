//! The store invariants every backend keeps (`kezd::store`): unique handles and primaries,
//! per-inbox seqs that start at 1, never repeat and become visible in order, stored-once
//! message ids, acknowledgement and retention that delete exactly what they should,
//! durability across reopen, the outbox and delivery status, transaction memory. Each case
//! takes a [`Backend`] and runs unchanged against SQLite and PostgreSQL.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kezd::limits::{Exceeded, Limit};
use kezd::store::{
    Accepted, Admission, Delivery, MessageStatus, NewMessage, OutboxBacklog, RegisterOutcome,
    Route, Store, StoreError, UserRecord,
};

use crate::backend::Backend;
pub use crate::conversations::conversations_are_kept_per_direction_and_forgotten_when_old;

/// A user whose primary is derived from `key`, so distinct keys give distinct primaries.
pub fn user(handle: &str, key: u8) -> UserRecord {
    let primary = format!("ed25519:{}", format!("{key:02x}").repeat(32));
    UserRecord {
        handle: handle.to_owned(),
        registration_json: format!(r#"{{"handle":"{handle}","primary":"{primary}"}}"#),
        primary,
        registered_at_ms: 1_700_000_000_000,
    }
}

pub fn local(id: &str, to: &str, received_at_ms: i64) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        sender: "zed@a.example".to_owned(),
        route: Route::Local {
            handle: to.to_owned(),
        },
        envelope_json: format!(r#"{{"id":"{id}","to":"{to}"}}"#),
        received_at_ms,
    }
}

pub fn remote(id: &str, server: &str, to: &str) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        sender: "alice@kez.test".to_owned(),
        route: Route::Remote {
            server: server.to_owned(),
            address: format!("{to}@{server}"),
        },
        envelope_json: format!(r#"{{"id":"{id}","to":"{to}@{server}"}}"#),
        received_at_ms: 1_000,
    }
}

pub async fn register_all(store: &dyn Store, handles: &[&str]) {
    for (key, handle) in handles.iter().enumerate() {
        let key = u8::try_from(key + 1).expect("few users");
        store.register(user(handle, key)).await.expect("register");
    }
}

/// Accepts one new local message and returns its seq.
pub async fn accept_new(store: &dyn Store, message: NewMessage) -> u64 {
    let accepted = store.accept(message).await.expect("accept");
    assert!(!accepted.duplicate, "{accepted:?}");
    accepted.seq.expect("local seq")
}

/// Queues messages `ids` for bob at `destination`.
pub async fn queue_remote(store: &dyn Store, destination: &str, ids: &[&str]) {
    for id in ids {
        store
            .accept(remote(id, destination, "bob"))
            .await
            .expect("accept");
    }
}

pub async fn seqs(store: &dyn Store, handle: &str) -> Vec<u64> {
    let page = store
        .inbox(handle, 0, 10_000, usize::MAX)
        .await
        .expect("inbox");
    page.iter().map(|m| m.seq).collect()
}

pub async fn register_then_look_up_by_handle_and_primary(backend: &dyn Backend) {
    let store = backend.open().await;
    let alice = user("alice", 1);
    let outcome = store.register(alice.clone()).await.expect("register");
    assert_eq!(outcome, RegisterOutcome::Created(alice.clone()));

    let by_handle = store.user_by_handle("alice").await.expect("lookup");
    assert_eq!(by_handle.as_ref(), Some(&alice));
    let by_primary = store.user_by_primary(&alice.primary).await.expect("lookup");
    assert_eq!(by_primary.as_ref(), Some(&alice));

    assert_eq!(store.user_by_handle("bob").await.expect("lookup"), None);
    let unknown = user("bob", 2).primary;
    assert_eq!(store.user_by_primary(&unknown).await.expect("lookup"), None);
}

pub async fn taken_handle_and_taken_primary_are_told_apart(backend: &dyn Backend) {
    let store = backend.open().await;
    store.register(user("alice", 1)).await.expect("register");

    let same_handle = store.register(user("alice", 2)).await;
    assert!(
        matches!(&same_handle, Err(StoreError::HandleTaken { handle }) if handle == "alice"),
        "{same_handle:?}"
    );
    let same_primary = store.register(user("bob", 1)).await;
    let taken = user("alice", 1).primary;
    assert!(
        matches!(&same_primary, Err(StoreError::PrimaryTaken { primary }) if *primary == taken),
        "{same_primary:?}"
    );
    // Neither failed attempt left anything behind.
    assert_eq!(store.user_by_handle("bob").await.expect("lookup"), None);
    let second = user("alice", 2).primary;
    assert_eq!(store.user_by_primary(&second).await.expect("lookup"), None);
}

pub async fn identical_registration_again_is_existing(backend: &dyn Backend) {
    let store = backend.open().await;
    let alice = user("alice", 1);
    store.register(alice.clone()).await.expect("register");
    let mut retry = alice.clone();
    retry.registered_at_ms += 5_000; // A retry arrives later; the first record stands.
    let again = store.register(retry).await.expect("register again");
    assert_eq!(again, RegisterOutcome::Existing(alice));

    // Same handle and primary but a different signed text is a different registration.
    let mut changed = user("alice", 1);
    changed.registration_json.push(' ');
    let changed = store.register(changed).await;
    assert!(
        matches!(changed, Err(StoreError::HandleTaken { .. })),
        "{changed:?}"
    );
}

pub async fn local_seqs_start_at_one_per_recipient(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 0);

    assert_eq!(accept_new(&*store, local("a1", "alice", 1)).await, 1);
    assert_eq!(accept_new(&*store, local("b1", "bob", 1)).await, 1);
    assert_eq!(accept_new(&*store, local("a2", "alice", 1)).await, 2);
    assert_eq!(accept_new(&*store, local("a3", "alice", 1)).await, 3);
    assert_eq!(accept_new(&*store, local("b2", "bob", 1)).await, 2);

    assert_eq!(seqs(&*store, "alice").await, [1, 2, 3]);
    assert_eq!(seqs(&*store, "bob").await, [1, 2]);
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 3);
    assert_eq!(store.latest_seq("bob").await.expect("latest"), 2);
    assert_eq!(store.latest_seq("nobody").await.expect("latest"), 0);

    let page = store
        .inbox("alice", 0, 10, usize::MAX)
        .await
        .expect("inbox");
    assert_eq!(page[1].id, "a2");
    assert_eq!(page[1].received_at_ms, 1);
    assert_eq!(page[1].envelope_json, local("a2", "alice", 1).envelope_json);
}

pub async fn accept_for_unknown_recipient_is_refused(backend: &dyn Backend) {
    let store = backend.open().await;
    let refused = store.accept(local("x", "ghost", 1)).await;
    assert!(
        matches!(&refused, Err(StoreError::UnknownRecipient { handle }) if handle == "ghost"),
        "{refused:?}"
    );
    // The refused id was not remembered: once the user exists it is accepted.
    register_all(&*store, &["ghost"]).await;
    assert_eq!(accept_new(&*store, local("x", "ghost", 1)).await, 1);
}

pub async fn duplicate_id_reports_the_first_seq_and_is_stored_once(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    accept_new(&*store, local("m1", "alice", 1)).await;
    accept_new(&*store, local("m2", "alice", 1)).await;

    let again = store.accept(local("m1", "alice", 9)).await.expect("accept");
    assert_eq!(
        again,
        Accepted {
            seq: Some(1),
            duplicate: true
        }
    );
    assert_eq!(seqs(&*store, "alice").await, [1, 2]);
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 2);

    // The id is remembered after the recipient acknowledged and deleted the message.
    store.ack("alice", 2).await.expect("ack");
    let after_ack = store.accept(local("m1", "alice", 9)).await.expect("accept");
    assert_eq!(
        after_ack,
        Accepted {
            seq: Some(1),
            duplicate: true
        }
    );
    assert!(seqs(&*store, "alice").await.is_empty());
}

pub async fn same_id_many_times_at_once_is_stored_once(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    // Sent together, most of these land in one group commit.
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.accept(local("same", "alice", 1)).await })
        })
        .collect();
    let mut fresh_count = 0;
    for task in tasks {
        let accepted = task.await.expect("join").expect("accept");
        assert_eq!(accepted.seq, Some(1));
        fresh_count += usize::from(!accepted.duplicate);
    }
    assert_eq!(fresh_count, 1);
    assert_eq!(seqs(&*store, "alice").await, [1]);
}

/// Accepts sent together (most land in one group commit, written with one statement per
/// table) get the answers they would get one at a time: new local messages consecutive seqs,
/// remote ones the outbox, an unknown recipient a refusal that writes nothing, and a resend of
/// an id stored earlier or earlier in the same group the first acceptance's answer.
pub async fn a_mixed_group_is_answered_as_one_at_a_time(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    assert_eq!(accept_new(&*store, local("old", "alice", 1)).await, 1);

    let mut messages = Vec::new();
    for i in 0..12 {
        messages.push(local(&format!("m{i}"), "alice", 2));
        messages.push(remote(&format!("r{i}"), "b.example", "bob"));
        messages.push(local(&format!("g{i}"), "ghost", 2));
    }
    messages.push(local("old", "alice", 3));
    messages.push(local("m0", "alice", 3));
    messages.push(remote("r0", "b.example", "bob"));
    let tasks: Vec<_> = messages
        .into_iter()
        .map(|message| {
            let store = Arc::clone(&store);
            let id = message.id.clone();
            tokio::spawn(async move { (id, store.accept(message).await) })
        })
        .collect();

    let mut fresh_seqs = BTreeMap::new();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("join"));
    }
    for (id, answer) in &answers {
        match (id.as_bytes()[0], answer) {
            (b'g', refused) => assert!(
                matches!(refused, Err(StoreError::UnknownRecipient { handle }) if handle == "ghost"),
                "{id}: {refused:?}"
            ),
            (b'r', Ok(accepted)) => assert_eq!(accepted.seq, None, "{id}"),
            (
                b'm' | b'o',
                Ok(Accepted {
                    seq: Some(seq),
                    duplicate: false,
                }),
            ) => {
                assert!(
                    fresh_seqs.insert(id.clone(), *seq).is_none(),
                    "{id} stored twice"
                );
            }
            (
                _,
                Ok(Accepted {
                    duplicate: true, ..
                }),
            ) => {}
            (_, other) => panic!("{id}: {other:?}"),
        }
    }
    // Every resend is a duplicate naming the first acceptance's seq.
    let duplicates: Vec<_> = answers
        .iter()
        .filter_map(|(id, answer)| match answer {
            Ok(a) if a.duplicate => Some((id.as_str(), a.seq)),
            _ => None,
        })
        .collect();
    let mut duplicate_ids: Vec<_> = duplicates.iter().map(|(id, _)| *id).collect();
    duplicate_ids.sort_unstable();
    assert_eq!(duplicate_ids, ["m0", "old", "r0"]);
    for (id, seq) in duplicates {
        let first = match id {
            "old" => Some(1),
            "r0" => None,
            _ => fresh_seqs.get(id).copied(),
        };
        assert_eq!(seq, first, "{id}");
    }
    // Twelve new local messages took seqs 2..=13, each once, none lost to a refusal.
    let mut taken: Vec<_> = fresh_seqs.values().copied().collect();
    taken.sort_unstable();
    assert_eq!(taken, (2..=13).collect::<Vec<_>>());
    assert_eq!(seqs(&*store, "alice").await, (1..=13).collect::<Vec<_>>());
    let queued = store
        .outbox_pending("b.example", 0, 100)
        .await
        .expect("pending");
    let mut queued: Vec<_> = queued.into_iter().map(|i| i.id).collect();
    queued.sort();
    let mut expected: Vec<_> = (0..12).map(|i| format!("r{i}")).collect();
    expected.sort();
    assert_eq!(queued, expected);
    store.close().await;
}

/// The admission check (the send rate limits) runs for new messages only: a resend is answered
/// as the duplicate it is without it, and a refused message is not stored, takes no seq and
/// leaves its id free.
pub async fn admission_runs_for_new_messages_only(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    let ran = Arc::new(AtomicUsize::new(0));
    let refusing = |ran: &Arc<AtomicUsize>| {
        let ran = Arc::clone(ran);
        Admission::new(move || {
            ran.fetch_add(1, Ordering::SeqCst);
            Err(Exceeded {
                limit: Limit::Sender,
                retry_after: Duration::from_secs(7),
            })
        })
    };
    assert_eq!(accept_new(&*store, local("m1", "alice", 1)).await, 1);

    let again = store
        .accept_admitted(local("m1", "alice", 2), refusing(&ran))
        .await
        .expect("a duplicate is answered");
    assert_eq!(
        again,
        Accepted {
            seq: Some(1),
            duplicate: true
        }
    );
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a duplicate never meets the check"
    );

    for message in [local("m2", "alice", 2), remote("r1", "b.example", "bob")] {
        let refused = store.accept_admitted(message, refusing(&ran)).await;
        assert!(
            matches!(&refused, Err(StoreError::Refused(e)) if e.limit == Limit::Sender),
            "{refused:?}"
        );
    }
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert!(store.accepted("m2").await.expect("look-up").is_none());
    assert!(store.accepted("r1").await.expect("look-up").is_none());
    assert!(
        store
            .outbox_pending("b.example", 0, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    // The refused message took no seq: the next one is 2, and m2 can still be accepted.
    assert_eq!(accept_new(&*store, local("m2", "alice", 3)).await, 2);
    assert_eq!(seqs(&*store, "alice").await, [1, 2]);
    store.close().await;
}

/// `known_ids` finds every remembered id among many, local and remote alike, in one call.
pub async fn known_ids_finds_the_remembered_ones(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    accept_new(&*store, local("m1", "alice", 1)).await;
    store
        .accept(remote("r1", "b.example", "bob"))
        .await
        .expect("accept");
    assert!(store.known_ids(&[]).await.expect("none").is_empty());
    let mut asked: Vec<String> = (0..2000).map(|i| format!("unknown{i}")).collect();
    asked.extend(["m1", "r1", "m1"].map(String::from));
    let known = store.known_ids(&asked).await.expect("look-up");
    let mut known: Vec<_> = known.into_iter().collect();
    known.sort();
    assert_eq!(known, ["m1", "r1"]);
    // One at a time too: a local id with its seq, a remote one without.
    let first = |seq| {
        Some(Accepted {
            seq,
            duplicate: true,
        })
    };
    assert_eq!(store.accepted("m1").await.expect("look-up"), first(Some(1)));
    assert_eq!(store.accepted("r1").await.expect("look-up"), first(None));
    assert_eq!(store.accepted("unknown0").await.expect("look-up"), None);
    store.close().await;
}

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

pub async fn accepted_messages_survive_close_and_reopen(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    accept_new(&*store, local("m1", "alice", 1)).await;
    accept_new(&*store, local("m2", "alice", 2)).await;
    store.close().await;
    let closed = store.accept(local("m3", "alice", 3)).await;
    assert!(matches!(closed, Err(StoreError::Closed)), "{closed:?}");
    let closed = store.user_by_handle("alice").await;
    assert!(matches!(closed, Err(StoreError::Closed)), "{closed:?}");
    drop(store);

    let store = backend.open().await;
    assert_eq!(
        store.user_by_handle("alice").await.expect("lookup"),
        Some(user("alice", 1))
    );
    let page = store
        .inbox("alice", 0, 10, usize::MAX)
        .await
        .expect("inbox");
    let ids: Vec<_> = page.iter().map(|m| (m.seq, m.id.as_str())).collect();
    assert_eq!(ids, [(1, "m1"), (2, "m2")]);
    assert_eq!(accept_new(&*store, local("m3", "alice", 3)).await, 3);
    let dup = store.accept(local("m1", "alice", 1)).await.expect("accept");
    assert!(dup.duplicate);
}

pub async fn acknowledged_writes_survive_a_drop_without_close(backend: &dyn Backend) {
    {
        let store = backend.open().await;
        register_all(&*store, &["alice"]).await;
        accept_new(&*store, local("m1", "alice", 1)).await;
    }
    let store = backend.open().await;
    assert_eq!(seqs(&*store, "alice").await, [1]);
    assert_eq!(accept_new(&*store, local("m2", "alice", 2)).await, 2);
}

pub async fn concurrent_accepts_are_read_in_order_exactly_once(backend: &dyn Backend) {
    const TASKS: usize = 16;
    const PER_TASK: usize = 200;
    const OTHERS: [&str; 4] = ["bob", "carol", "dave", "erin"];
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob", "carol", "dave", "erin"]).await;
    let writers_done = Arc::new(AtomicBool::new(false));

    // The reader pages through alice's inbox with a moving cursor. Every page must continue
    // exactly where the previous one stopped: a jump would be a gap that a later commit fills.
    let reader = {
        let store = Arc::clone(&store);
        let writers_done = Arc::clone(&writers_done);
        tokio::spawn(async move {
            let mut since = 0;
            let mut seen = Vec::new();
            loop {
                // Read the flag before polling: an empty page after every writer was
                // answered means everything committed has been seen.
                let done = writers_done.load(Ordering::Acquire);
                let page = store
                    .inbox("alice", since, 64, usize::MAX)
                    .await
                    .expect("inbox");
                for message in &page {
                    assert_eq!(message.seq, since + 1, "gap after seq {since}");
                    since = message.seq;
                    seen.push((message.id.clone(), message.seq));
                }
                if page.is_empty() {
                    if done {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };

    let writers: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                for n in 0..PER_TASK {
                    let id = format!("t{task}-n{n}");
                    let seq = accept_new(&*store, local(&id, "alice", 1)).await;
                    accepted.push(("alice", id, seq));
                    if n % 4 == 0 {
                        let other = OTHERS[(task + n) % OTHERS.len()];
                        let id = format!("t{task}-n{n}-{other}");
                        let seq = accept_new(&*store, local(&id, other, 1)).await;
                        accepted.push((other, id, seq));
                    }
                }
                accepted
            })
        })
        .collect();
    let mut by_recipient: BTreeMap<&str, Vec<(String, u64)>> = BTreeMap::new();
    for writer in writers {
        for (to, id, seq) in writer.await.expect("join") {
            by_recipient.entry(to).or_default().push((id, seq));
        }
    }
    writers_done.store(true, Ordering::Release);
    let seen = reader.await.expect("reader");

    for (to, accepted) in &mut by_recipient {
        accepted.sort_by_key(|(_, seq)| *seq);
        let got: Vec<u64> = accepted.iter().map(|(_, seq)| *seq).collect();
        let expected: Vec<u64> = (1..=u64::try_from(got.len()).expect("len")).collect();
        assert_eq!(got, expected, "{to}: seqs must be exactly 1..=N");
        let stored = store.inbox(to, 0, 10_000, usize::MAX).await.expect("inbox");
        let stored: Vec<_> = stored.into_iter().map(|m| (m.id, m.seq)).collect();
        assert_eq!(&stored, accepted, "{to}: stored rows are the accepted ones");
    }
    assert_eq!(by_recipient["alice"].len(), TASKS * PER_TASK);
    // The reader saw every accepted (id, seq) of alice exactly once, in seq order.
    assert_eq!(seen, by_recipient["alice"]);
    let distinct: HashSet<_> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), seen.len());
}

pub async fn contested_registrations_at_once_get_the_right_answers(backend: &dyn Backend) {
    let store = backend.open().await;
    // 64 distinct users, plus 8 rivals for existing handles and 8 for existing primaries, all
    // at once (sharing SQLite's group commits; racing on PostgreSQL's unique indexes). Exactly
    // one of each contested pair may win, and one failure never fails another request.
    let mut requests: Vec<UserRecord> = (0..64u8).map(|k| user(&format!("u{k}"), k)).collect();
    for k in 0..8u8 {
        requests.push(user(&format!("u{k}"), 100 + k)); // handle taken (or takes it)
        requests.push(user(&format!("rival{k}"), 8 + k)); // primary of u{8+k}
    }
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|record| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { (record.clone(), store.register(record).await) })
        })
        .collect();
    let mut created = Vec::new();
    let (mut handle_taken, mut primary_taken) = (0, 0);
    for task in tasks {
        match task.await.expect("join") {
            (record, Ok(RegisterOutcome::Created(stored))) => {
                assert_eq!(stored, record);
                created.push(record);
            }
            (_, Err(StoreError::HandleTaken { .. })) => handle_taken += 1,
            (_, Err(StoreError::PrimaryTaken { .. })) => primary_taken += 1,
            (record, other) => panic!("{}: unexpected {other:?}", record.handle),
        }
    }
    assert_eq!((created.len(), handle_taken, primary_taken), (64, 8, 8));
    for record in &created {
        let by_handle = store.user_by_handle(&record.handle).await.expect("lookup");
        assert_eq!(by_handle.as_ref(), Some(record));
        let by_primary = store
            .user_by_primary(&record.primary)
            .await
            .expect("lookup");
        assert_eq!(by_primary.as_ref(), Some(record));
    }
}

pub async fn crash_only_durability_opens_and_stores(backend: &dyn Backend) {
    let store = backend.open_crash_only().await;
    register_all(&*store, &["alice"]).await;
    assert_eq!(accept_new(&*store, local("m1", "alice", 1)).await, 1);
    store.close().await;
    store.close().await; // Idempotent.
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

pub async fn transaction_responses_first_one_wins(backend: &dyn Backend) {
    let store = backend.open().await;
    assert_eq!(
        store.txn_response("a.example", "t1").await.expect("read"),
        None
    );
    store
        .save_txn_response("a.example", "t1", "first".into(), 1)
        .await
        .expect("save");
    store
        .save_txn_response("a.example", "t1", "second".into(), 2)
        .await
        .expect("save again");
    store
        .save_txn_response("b.example", "t1", "other origin".into(), 3)
        .await
        .expect("save");
    let read = |origin: &'static str| {
        let store = &store;
        async move { store.txn_response(origin, "t1").await.expect("read") }
    };
    assert_eq!(read("a.example").await.as_deref(), Some("first"));
    assert_eq!(read("b.example").await.as_deref(), Some("other origin"));
    assert_eq!(
        store.txn_response("a.example", "t2").await.expect("read"),
        None
    );
}

pub async fn retention_forgets_old_ids_but_not_those_in_the_outbox(backend: &dyn Backend) {
    /// SPEC §8.7: `ts` + 7 days + 300 s, and `ts` may be 300 s after acceptance.
    const ID_MEMORY_MS: i64 = (7 * 24 * 3600 + 600) * 1000;
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    accept_new(&*store, local("old", "alice", 100)).await;
    accept_new(&*store, local("expired", "alice", 3_000_000)).await;
    accept_new(&*store, local("new", "alice", ID_MEMORY_MS + 10_000)).await;
    store
        .accept(remote("out", "b.example", "bob"))
        .await
        .expect("accept"); // at 1,000
    let cutoff = ID_MEMORY_MS + 5_000;
    assert_eq!(
        store
            .enforce_retention(cutoff, u64::MAX)
            .await
            .expect("retain"),
        2
    );
    assert_eq!(seqs(&*store, "alice").await, [3]);
    let accepted = |id: &'static str| {
        let store = &store;
        async move { store.accepted(id).await.expect("accepted") }
    };
    // An id is forgotten only once no envelope with it could be accepted again; until then
    // a resend of an expired message is still a duplicate. One the outbox holds stays.
    assert_eq!(accepted("old").await, None);
    let remembered = |seq| {
        Some(Accepted {
            seq,
            duplicate: true,
        })
    };
    assert_eq!(accepted("expired").await, remembered(Some(2)));
    assert_eq!(accepted("out").await, remembered(None));
    assert_eq!(accepted("new").await, remembered(Some(3)));
    // A forgotten id is a new message again, at the next seq: seqs are never reused.
    assert_eq!(
        accept_new(&*store, local("old", "alice", cutoff + 1)).await,
        4
    );
}

pub async fn finished_deliveries_and_old_transactions_are_forgotten(backend: &dyn Backend) {
    let store = backend.open().await;
    queue_remote(&*store, "b.example", &["r1", "r2", "r3"]).await;
    let finished = vec![
        ("r1".into(), Delivery::Delivered),
        (
            "r2".into(),
            Delivery::Failed {
                code: "unknown_recipient".into(),
            },
        ),
    ];
    store
        .outbox_record("b.example", finished, None)
        .await
        .expect("record");
    let now = i64::try_from(kezd::clock::now_ms()).expect("a clock after 1970");
    let response = |txn: &str| format!(r#"{{"results":[],"txn":"{txn}"}}"#);
    store
        .save_txn_response("a.example", "old", response("old"), 1_000)
        .await
        .expect("save");
    store
        .save_txn_response("a.example", "new", response("new"), now)
        .await
        .expect("save");

    // A minute ago, only the old transaction had been received: it alone goes.
    assert_eq!(
        store.forget_federation(now - 60_000).await.expect("forget"),
        1
    );
    assert_eq!(
        store.txn_response("a.example", "old").await.expect("read"),
        None
    );
    assert_eq!(
        store.txn_response("a.example", "new").await.expect("read"),
        Some(response("new"))
    );
    let status = |id| {
        let store = &store;
        async move { store.message_status(id).await.expect("status") }
    };
    assert_eq!(status("r1").await.map(|s| s.status), Some("delivered"));
    assert_eq!(status("r2").await.map(|s| s.status), Some("failed"));

    // A minute from now, both finished rows and the newer transaction are in the past; the
    // pending row stays, however old.
    assert_eq!(
        store.forget_federation(now + 60_000).await.expect("forget"),
        3
    );
    assert_eq!(status("r1").await, None);
    assert_eq!(status("r2").await, None);
    assert_eq!(status("r3").await.map(|s| s.status), Some("queued"));
    assert_eq!(
        store.txn_response("a.example", "new").await.expect("read"),
        None
    );
    let pending = store
        .outbox_pending("b.example", 0, 10)
        .await
        .expect("pending");
    assert_eq!(
        pending.into_iter().map(|i| i.id).collect::<Vec<_>>(),
        ["r3"]
    );
    assert_eq!(
        store.forget_federation(now + 60_000).await.expect("forget"),
        0
    );
    store.close().await;
}
