//! Accepting messages: per-inbox seqs that start at 1 and become visible in order,
//! stored-once message ids (one at a time, at once, in one group commit), the admission check
//! for new messages only, and the id memory.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kezd::store::{Accepted, Admission, MessageKey, Refusal, StoreError};

use super::{accept_new, key, local, register_all, remote, seqs};
use crate::backend::Backend;

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
            Err(Refusal {
                limit: "sender",
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
            matches!(&refused, Err(StoreError::Refused(e)) if e.limit == "sender"),
            "{refused:?}"
        );
    }
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    for refused in [key("m2", 2), key("r1", 1_000)] {
        let found = store.accepted(&refused).await.expect("look-up");
        assert!(found.is_none(), "{refused:?}: {found:?}");
    }
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
    let mut asked: Vec<MessageKey> = (0..2000).map(|i| key(&format!("unknown{i}"), 1)).collect();
    asked.extend([key("m1", 1), key("r1", 1_000), key("m1", 1)]);
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
    assert_eq!(
        store.accepted(&key("m1", 1)).await.expect("look-up"),
        first(Some(1))
    );
    assert_eq!(
        store.accepted(&key("r1", 1_000)).await.expect("look-up"),
        first(None)
    );
    assert_eq!(
        store.accepted(&key("unknown0", 1)).await.expect("look-up"),
        None
    );
    store.close().await;
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
