//! The SQLite store against a real file: the invariants of `kezd::store` (unique handles and
//! primaries, per-inbox seqs that start at 1, never repeat and become visible in order,
//! stored-once message ids, acknowledgement and retention that delete exactly what they
//! should, durability across reopen) and the group-commit writer under concurrency.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kezd::store::{
    Accepted, NewMessage, RegisterOutcome, Route, SqliteOptions, SqliteStore, Store, StoreError,
    UserRecord,
};
use sqlx::ConnectOptions;
use tempfile::TempDir;

/// A database path two directories below the temp dir, so open must create them.
fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("state").join("db").join("kez.db")
}

async fn open_at(path: &Path) -> SqliteStore {
    SqliteStore::open(SqliteOptions::new(path))
        .await
        .expect("open store")
}

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_at(&db_path(&dir)).await;
    (dir, store)
}

/// A user whose primary is derived from `key`, so distinct keys give distinct primaries.
fn user(handle: &str, key: u8) -> UserRecord {
    let primary = format!("ed25519:{}", format!("{key:02x}").repeat(32));
    UserRecord {
        handle: handle.to_owned(),
        registration_json: format!(r#"{{"handle":"{handle}","primary":"{primary}"}}"#),
        primary,
        registered_at_ms: 1_700_000_000_000,
    }
}

fn local(id: &str, to: &str, received_at_ms: i64) -> NewMessage {
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

fn remote(id: &str, server: &str, to: &str) -> NewMessage {
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

async fn register_all(store: &SqliteStore, handles: &[&str]) {
    for (key, handle) in handles.iter().enumerate() {
        let key = u8::try_from(key + 1).expect("few users");
        store.register(user(handle, key)).await.expect("register");
    }
}

/// Accepts one new local message and returns its seq.
async fn accept_new(store: &SqliteStore, message: NewMessage) -> u64 {
    let accepted = store.accept(message).await.expect("accept");
    assert!(!accepted.duplicate, "{accepted:?}");
    accepted.seq.expect("local seq")
}

async fn seqs(store: &SqliteStore, handle: &str) -> Vec<u64> {
    let page = store.inbox(handle, 0, 10_000).await.expect("inbox");
    page.iter().map(|m| m.seq).collect()
}

#[tokio::test]
async fn register_then_look_up_by_handle_and_primary() {
    let (_dir, store) = fresh().await;
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

#[tokio::test]
async fn taken_handle_and_taken_primary_are_told_apart() {
    let (_dir, store) = fresh().await;
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

#[tokio::test]
async fn identical_registration_again_is_existing() {
    let (_dir, store) = fresh().await;
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

#[tokio::test]
async fn local_seqs_start_at_one_per_recipient() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice", "bob"]).await;
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 0);

    assert_eq!(accept_new(&store, local("a1", "alice", 1)).await, 1);
    assert_eq!(accept_new(&store, local("b1", "bob", 1)).await, 1);
    assert_eq!(accept_new(&store, local("a2", "alice", 1)).await, 2);
    assert_eq!(accept_new(&store, local("a3", "alice", 1)).await, 3);
    assert_eq!(accept_new(&store, local("b2", "bob", 1)).await, 2);

    assert_eq!(seqs(&store, "alice").await, [1, 2, 3]);
    assert_eq!(seqs(&store, "bob").await, [1, 2]);
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 3);
    assert_eq!(store.latest_seq("bob").await.expect("latest"), 2);
    assert_eq!(store.latest_seq("nobody").await.expect("latest"), 0);

    let page = store.inbox("alice", 0, 10).await.expect("inbox");
    assert_eq!(page[1].id, "a2");
    assert_eq!(page[1].received_at_ms, 1);
    assert_eq!(page[1].envelope_json, local("a2", "alice", 1).envelope_json);
}

#[tokio::test]
async fn accept_for_unknown_recipient_is_refused() {
    let (_dir, store) = fresh().await;
    let refused = store.accept(local("x", "ghost", 1)).await;
    assert!(
        matches!(&refused, Err(StoreError::UnknownRecipient { handle }) if handle == "ghost"),
        "{refused:?}"
    );
    // The refused id was not remembered: once the user exists it is accepted.
    register_all(&store, &["ghost"]).await;
    assert_eq!(accept_new(&store, local("x", "ghost", 1)).await, 1);
}

#[tokio::test]
async fn duplicate_id_reports_the_first_seq_and_is_stored_once() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice"]).await;
    accept_new(&store, local("m1", "alice", 1)).await;
    accept_new(&store, local("m2", "alice", 1)).await;

    let again = store.accept(local("m1", "alice", 9)).await.expect("accept");
    assert_eq!(
        again,
        Accepted {
            seq: Some(1),
            duplicate: true
        }
    );
    assert_eq!(seqs(&store, "alice").await, [1, 2]);
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
    assert!(seqs(&store, "alice").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_id_many_times_at_once_is_stored_once() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice"]).await;
    let store = Arc::new(store);
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
    assert_eq!(seqs(&store, "alice").await, [1]);
}

#[tokio::test]
async fn seqs_are_not_reused_after_ack_deletes_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    register_all(&store, &["alice"]).await;
    for id in ["m1", "m2", "m3"] {
        accept_new(&store, local(id, "alice", 1)).await;
    }
    assert_eq!(store.ack("alice", 3).await.expect("ack"), 3);
    assert!(seqs(&store, "alice").await.is_empty());
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 3);
    assert_eq!(accept_new(&store, local("m4", "alice", 1)).await, 4);

    // Nor after a restart, when the writer's in-memory counter starts empty.
    store.ack("alice", 4).await.expect("ack");
    store.close().await;
    let store = open_at(&path).await;
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 4);
    assert_eq!(accept_new(&store, local("m5", "alice", 1)).await, 5);
}

#[tokio::test]
async fn inbox_pages_by_since_and_limit() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice", "bob"]).await;
    for n in 1..=10 {
        accept_new(&store, local(&format!("a{n}"), "alice", n)).await;
    }
    accept_new(&store, local("b1", "bob", 1)).await;

    let page = |since, limit| {
        let store = &store;
        async move {
            let messages = store.inbox("alice", since, limit).await.expect("inbox");
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
        .inbox("alice", 4, 2)
        .await
        .expect("inbox")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["a5", "a6"]);
}

#[tokio::test]
async fn ack_deletes_exactly_through_the_seq_and_counts() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice", "bob"]).await;
    for n in 1..=6 {
        accept_new(&store, local(&format!("a{n}"), "alice", 1)).await;
    }
    accept_new(&store, local("b1", "bob", 1)).await;

    assert_eq!(store.ack("alice", 0).await.expect("ack"), 0);
    assert_eq!(store.ack("alice", 2).await.expect("ack"), 2);
    assert_eq!(seqs(&store, "alice").await, [3, 4, 5, 6]);
    assert_eq!(store.ack("alice", 2).await.expect("ack"), 0);
    assert_eq!(store.ack("alice", 4).await.expect("ack"), 2);
    assert_eq!(seqs(&store, "alice").await, [5, 6]);
    // Beyond the latest seq deletes what is there and nothing of anyone else.
    assert_eq!(store.ack("alice", u64::MAX).await.expect("ack"), 2);
    assert!(seqs(&store, "alice").await.is_empty());
    assert_eq!(seqs(&store, "bob").await, [1]);
    assert_eq!(store.ack("nobody", 10).await.expect("ack"), 0);
}

#[tokio::test]
async fn retention_by_age_deletes_only_older_messages() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice", "bob"]).await;
    // received_at: alice 100, 200, 300, 400; bob 150, 350.
    for (id, to, at) in [
        ("a1", "alice", 100),
        ("b1", "bob", 150),
        ("a2", "alice", 200),
        ("a3", "alice", 300),
        ("b2", "bob", 350),
        ("a4", "alice", 400),
    ] {
        accept_new(&store, local(id, to, at)).await;
    }
    // Strictly older than 300: a1, b1, a2.
    let deleted = store
        .enforce_retention(300, u64::MAX)
        .await
        .expect("retain");
    assert_eq!(deleted, 3);
    assert_eq!(seqs(&store, "alice").await, [3, 4]);
    assert_eq!(seqs(&store, "bob").await, [2]);
    assert_eq!(
        store
            .enforce_retention(300, u64::MAX)
            .await
            .expect("retain"),
        0
    );
    // Retention never moves the counters.
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 4);
    assert_eq!(accept_new(&store, local("a5", "alice", 500)).await, 5);
}

#[tokio::test]
async fn retention_by_count_keeps_the_newest_per_inbox() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice", "bob", "carol"]).await;
    for n in 1..=7 {
        accept_new(&store, local(&format!("a{n}"), "alice", 1_000)).await;
    }
    for n in 1..=3 {
        accept_new(&store, local(&format!("b{n}"), "bob", 1_000)).await;
    }
    accept_new(&store, local("c1", "carol", 1_000)).await;
    // A hole in alice's inbox: the limit counts stored messages, not seq distance.
    store.ack("alice", 1).await.expect("ack");

    let deleted = store.enforce_retention(0, 3).await.expect("retain");
    assert_eq!(deleted, 3); // alice 2, 3, 4
    assert_eq!(seqs(&store, "alice").await, [5, 6, 7]);
    assert_eq!(seqs(&store, "bob").await, [1, 2, 3]);
    assert_eq!(seqs(&store, "carol").await, [1]);

    // Age and count together; a message matched by both is counted once.
    accept_new(&store, local("b4", "bob", 2_000)).await;
    let deleted = store.enforce_retention(1_500, 2).await.expect("retain");
    // Age: alice 5, 6, 7, bob 1, 2, 3, carol 1 (all at 1000); then bob holds only b4.
    assert_eq!(deleted, 7);
    assert!(seqs(&store, "alice").await.is_empty());
    assert_eq!(seqs(&store, "bob").await, [4]);

    assert_eq!(store.enforce_retention(0, 0).await.expect("retain"), 1);
    assert!(seqs(&store, "bob").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retention_larger_than_one_step_finishes() {
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice", "bob"]).await;
    let store = Arc::new(store);
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
        let all = store.inbox(to, 0, 10_000).await.expect("inbox");
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
    assert_eq!(seqs(&store, "alice").await, keep[0]);
    assert_eq!(seqs(&store, "bob").await, keep[1]);
}

#[tokio::test]
async fn remote_route_goes_to_the_outbox_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    register_all(&store, &["alice"]).await;

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
    assert!(seqs(&store, "alice").await.is_empty());
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 0);
    store.close().await;

    // The outbox has no read API yet (delivery is a later issue): read the file directly.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true)
        .connect()
        .await
        .expect("connect");
    /// position, id, destination, recipient, sender, state, attempts, next_attempt_at.
    type OutboxRow = (i64, String, String, String, String, String, i64, i64);
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT position, id, destination, recipient, sender, state, attempts, \
         next_attempt_at FROM outbox ORDER BY position",
    )
    .fetch_all(&mut conn)
    .await
    .expect("outbox");
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.1.as_str(), r.2.as_str(), r.3.as_str(), r.5.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("r1", "b.example", "bob@b.example", "pending"),
            ("r2", "c.example", "carol@c.example", "pending"),
            ("r3", "b.example", "bob@b.example", "pending"),
        ]
    );
    assert!(
        rows.windows(2).all(|w| w[0].0 < w[1].0),
        "positions increase"
    );
    assert!(
        rows.iter()
            .all(|r| r.4 == "alice@kez.test" && r.6 == 0 && r.7 == 1_000)
    );
}

#[tokio::test]
async fn accepted_messages_survive_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let store = open_at(&path).await;
    register_all(&store, &["alice"]).await;
    accept_new(&store, local("m1", "alice", 1)).await;
    accept_new(&store, local("m2", "alice", 2)).await;
    store.close().await;
    let closed = store.accept(local("m3", "alice", 3)).await;
    assert!(matches!(closed, Err(StoreError::Closed)), "{closed:?}");
    let closed = store.user_by_handle("alice").await;
    assert!(matches!(closed, Err(StoreError::Closed)), "{closed:?}");
    drop(store);

    let store = open_at(&path).await;
    assert_eq!(
        store.user_by_handle("alice").await.expect("lookup"),
        Some(user("alice", 1))
    );
    let page = store.inbox("alice", 0, 10).await.expect("inbox");
    let ids: Vec<_> = page.iter().map(|m| (m.seq, m.id.as_str())).collect();
    assert_eq!(ids, [(1, "m1"), (2, "m2")]);
    assert_eq!(accept_new(&store, local("m3", "alice", 3)).await, 3);
    let dup = store.accept(local("m1", "alice", 1)).await.expect("accept");
    assert!(dup.duplicate);
}

#[tokio::test]
async fn acknowledged_writes_survive_a_drop_without_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    {
        let store = open_at(&path).await;
        register_all(&store, &["alice"]).await;
        accept_new(&store, local("m1", "alice", 1)).await;
    }
    let store = open_at(&path).await;
    assert_eq!(seqs(&store, "alice").await, [1]);
    assert_eq!(accept_new(&store, local("m2", "alice", 2)).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_accepts_are_read_in_order_exactly_once() {
    const TASKS: usize = 16;
    const PER_TASK: usize = 200;
    const OTHERS: [&str; 4] = ["bob", "carol", "dave", "erin"];
    let (_dir, store) = fresh().await;
    register_all(&store, &["alice", "bob", "carol", "dave", "erin"]).await;
    let store = Arc::new(store);
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
                let page = store.inbox("alice", since, 64).await.expect("inbox");
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
                    let seq = accept_new(&store, local(&id, "alice", 1)).await;
                    accepted.push(("alice", id, seq));
                    if n % 4 == 0 {
                        let other = OTHERS[(task + n) % OTHERS.len()];
                        let id = format!("t{task}-n{n}-{other}");
                        let seq = accept_new(&store, local(&id, other, 1)).await;
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
        let stored = store.inbox(to, 0, 10_000).await.expect("inbox");
        let stored: Vec<_> = stored.into_iter().map(|m| (m.id, m.seq)).collect();
        assert_eq!(&stored, accepted, "{to}: stored rows are the accepted ones");
    }
    assert_eq!(by_recipient["alice"].len(), TASKS * PER_TASK);
    // The reader saw every accepted (id, seq) of alice exactly once, in seq order.
    assert_eq!(seen, by_recipient["alice"]);
    let distinct: HashSet<_> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), seen.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_failing_request_does_not_fail_its_batch() {
    let (_dir, store) = fresh().await;
    let store = Arc::new(store);
    // 64 distinct users, plus 8 rivals for existing handles and 8 for existing primaries, all
    // at once so they share group commits. Exactly one of each contested pair may win.
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

#[tokio::test]
async fn crash_only_durability_opens_and_stores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = SqliteOptions::new(db_path(&dir));
    options.durability = kezd::store::Durability::CrashOnly;
    options.max_batch = 1;
    let store = SqliteStore::open(options).await.expect("open");
    register_all(&store, &["alice"]).await;
    assert_eq!(accept_new(&store, local("m1", "alice", 1)).await, 1);
    store.close().await;
    store.close().await; // Idempotent.
}
