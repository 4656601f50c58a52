//! What only the SQLite store must prove: its write-ahead log stays bounded while writes never
//! pause, because checkpoints beside a busy writer alone would never let the log start over;
//! being its file's only writer, it counts its commits for the readers that poll; the ids it
//! keeps in memory to skip duplicate look-ups never hide a stored id; and its id memory, kept
//! by day, finds and forgets ids by day and those it kept before.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kezd::store::{Accepted, NewMessage, Route, SqliteOptions, SqliteStore, Store};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::cases::{accept_new, key, local, register_all, remote};

/// Messages written in all: about 128 MiB of envelopes, thirty times the log's restart size
/// (1,000 pages of 4 KiB), so a log that never restarted would be far past what one that does
/// holds, whatever the machine's speed.
const MESSAGES: u64 = 65_536;

/// 32 accepters write 2 KB envelopes with scattered ids to one inbox, without a pause, until
/// [`MESSAGES`] are written. Each time the log starts over, SQLite rewrites its header with the
/// checkpoint sequence number one higher (the WAL format's bytes 12–15): counting those is
/// counting restarts, whatever the machine's speed. And the log file never shrinks, so its size
/// is the most it ever held: a log that never restarted would hold everything written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_log_restarts_under_sustained_writes() {
    const ACCEPTERS: u64 = 32;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kez.db");
    let store = Arc::new(
        SqliteStore::open(SqliteOptions::new(&path))
            .await
            .expect("open sqlite store"),
    );
    register_all(&*store, &["alice"]).await;

    let log = path.with_file_name("kez.db-wal");
    let largest = Arc::new(AtomicU64::new(0));
    let writing = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (largest, writing, log) = (largest.clone(), writing.clone(), log.clone());
        tokio::spawn(async move {
            let mut first_checkpoint = None;
            while writing.load(Ordering::Relaxed) {
                if let Ok(meta) = std::fs::metadata(&log) {
                    largest.fetch_max(meta.len(), Ordering::Relaxed);
                }
                first_checkpoint = first_checkpoint.or_else(|| checkpoint_sequence(&log));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            first_checkpoint
        })
    };
    let written = Arc::new(AtomicU64::new(0));
    let padding = "x".repeat(2048);
    let accepters: Vec<_> = (0..ACCEPTERS)
        .map(|a| {
            let (store, padding) = (store.clone(), padding.clone());
            let (writing, written) = (writing.clone(), written.clone());
            tokio::spawn(async move {
                let mut i = 0_u64;
                while writing.load(Ordering::Relaxed) {
                    // Ids spread over the whole key space, as content hashes are.
                    let n = (a << 32) | i;
                    let id = format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    let message = NewMessage {
                        envelope_json: format!(r#"{{"id":"{id}","pad":"{padding}"}}"#),
                        id,
                        sender: "zed@a.example".to_owned(),
                        route: Route::Local {
                            handle: "alice".to_owned(),
                        },
                        ts_ms: 1_000,
                        received_at_ms: 1_000,
                    };
                    accept_new(&*store, message).await;
                    written.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    // Counted in messages, not seconds, so a busy machine writes as much as an idle one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while written.load(Ordering::Relaxed) < MESSAGES {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {MESSAGES} messages written in 300 s",
            written.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    writing.store(false, Ordering::Relaxed);
    for accepter in accepters {
        accepter.await.expect("accepter");
    }
    let first_checkpoint = watcher
        .await
        .expect("watcher")
        .expect("the log was written while the watcher looked");
    if let Ok(meta) = std::fs::metadata(&log) {
        largest.fetch_max(meta.len(), Ordering::Relaxed);
    }
    let restarts = checkpoint_sequence(&log)
        .expect("the log is there")
        .wrapping_sub(first_checkpoint);

    let latest = store.latest_seq("alice").await.expect("latest");
    assert_eq!(latest, written.load(Ordering::Relaxed));
    let largest = largest.load(Ordering::Relaxed);
    // About thirty restart sizes were written: a log that restarts does so many times (how
    // many depends on how often the checkpointer gets a core), one that never restarts not at
    // all and holds every envelope (and index pages besides).
    assert!(restarts >= 2, "the log restarted {restarts} times");
    let envelope_bytes = written.load(Ordering::Relaxed) * 2048;
    assert!(
        largest < envelope_bytes,
        "the log grew to {largest} bytes for {envelope_bytes} bytes of envelopes"
    );
}

/// The checkpoint sequence number in a write-ahead log's header (big-endian bytes 12–15 of the
/// WAL format), which SQLite increments each time the log starts over.
fn checkpoint_sequence(log: &std::path::Path) -> Option<u32> {
    let header = std::fs::read(log).ok()?;
    Some(u32::from_be_bytes(header.get(12..16)?.try_into().ok()?))
}

/// The count a live stream's keep-alive compares: it moves with every committed write
/// (registration, accept, acknowledgement) and not with reads, so a stream that finds it
/// unchanged may skip its read, and one that finds it moved reads what was committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_commits_move_with_writes_and_not_with_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("kez.db")))
        .await
        .expect("open sqlite store");
    let count = || {
        store
            .local_commits()
            .expect("the SQLite store counts its commits")
    };
    let opened = count();
    register_all(&store, &["alice"]).await;
    let registered = count();
    assert!(registered > opened, "{opened} -> {registered}");

    let seq = accept_new(&store, local("m1", "alice", 1)).await;
    let accepted = count();
    assert!(accepted > registered, "{registered} -> {accepted}");
    assert_eq!(store.latest_seq("alice").await.expect("latest"), seq);
    let page = store
        .inbox("alice", 0, 10, usize::MAX)
        .await
        .expect("inbox");
    assert_eq!(page.len(), 1);
    assert_eq!(count(), accepted, "reads commit nothing");

    assert_eq!(store.ack("alice", seq).await.expect("ack"), 1);
    assert!(count() > accepted);
}

/// The writer looks up only the ids its in-memory filter cannot rule out, and after a reopen
/// that filter is read from the store while sends already arrive: every resend, of an id
/// stored before the reopen (local or remote) or accepted after it, is still answered as the
/// duplicate it is, with its first acceptance's seq, whether it comes while the filter loads
/// or after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resends_are_duplicates_while_and_after_stored_ids_load() {
    const STORED: u64 = 1_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let options = SqliteOptions::new(dir.path().join("kez.db"));
    let store = SqliteStore::open(options.clone()).await.expect("open");
    register_all(&store, &["alice"]).await;
    for i in 1..=STORED {
        let seq = accept_new(&store, local(&format!("m{i}"), "alice", 1)).await;
        assert_eq!(seq, i);
    }
    store
        .accept(remote("r1", "b.example", "bob"))
        .await
        .expect("remote");
    store.close().await;
    drop(store);

    let store = SqliteStore::open(options).await.expect("reopen");
    let duplicate = |seq| Accepted {
        seq,
        duplicate: true,
    };
    for i in 1..=STORED {
        let again = store
            .accept(local(&format!("m{i}"), "alice", 2))
            .await
            .expect("resend");
        assert_eq!(again, duplicate(Some(i)), "m{i}");
        let seq = accept_new(&store, local(&format!("n{i}"), "alice", 2)).await;
        assert_eq!(seq, STORED + i);
        let again = store
            .accept(local(&format!("n{i}"), "alice", 3))
            .await
            .expect("resend");
        assert_eq!(again, duplicate(Some(seq)), "n{i}");
    }
    let again = store
        .accept(remote("r1", "b.example", "bob"))
        .await
        .expect("remote resend");
    assert_eq!(again, duplicate(None));
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 2 * STORED);
}

/// Ids are remembered by the day of their envelope's `ts`, and those a store remembered before
/// it kept them by day (schema version 9) stay in the table they were in: both are found by
/// envelope (a resend is a duplicate with its first seq) and by id alone (the delivery status,
/// which walks every stored day), and the retention forgets both kinds once old enough, the
/// ones by day a whole day at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ids_are_found_and_forgotten_by_day_and_from_before_version_9() {
    const DAY_MS: i64 = 86_400_000;
    /// SPEC §8.7's memory of `ts` + 7 days + 300 s, with `ts` up to 300 s after acceptance.
    const ID_MEMORY_MS: i64 = (7 * 24 * 3600 + 600) * 1000;
    let dir = tempfile::tempdir().expect("tempdir");
    let options = SqliteOptions::new(dir.path().join("kez.db"));
    let store = SqliteStore::open(options.clone()).await.expect("open");
    register_all(&store, &["alice"]).await;
    store.close().await;
    drop(store);
    // An id accepted before version 9: its row moved to message_ids_v1 with the rest.
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.path().join("kez.db"))
        .connect()
        .await
        .expect("connect");
    sqlx::query(
        "INSERT INTO message_ids_v1 (id, recipient, seq, accepted_at, sender) \
         VALUES ('before', 'alice', 7, 1000, 'zed@a.example')",
    )
    .execute(&mut conn)
    .await
    .expect("row");
    sqlx::query("INSERT INTO inbox_counters (recipient, last_seq) VALUES ('alice', 7)")
        .execute(&mut conn)
        .await
        .expect("counter");
    conn.close().await.expect("close");

    let store = SqliteStore::open(options).await.expect("reopen");
    // Days 1, 3, 4 and 9, so the status look-up walks days with and without ids between them.
    let days = [
        ("day1", DAY_MS + 5),
        ("day3", 3 * DAY_MS),
        ("day4", 4 * DAY_MS + 10),
        ("day9", 9 * DAY_MS + 1),
    ];
    for (n, (id, ts)) in days.iter().enumerate() {
        let seq = accept_new(&store, local(id, "alice", *ts)).await;
        assert_eq!(seq, 8 + n as u64, "{id}");
    }
    let duplicate = |seq| Accepted {
        seq,
        duplicate: true,
    };
    let resend = |id: &str, ts_ms| NewMessage {
        ts_ms,
        ..local(id, "alice", 10 * DAY_MS)
    };
    assert_eq!(
        store.accept(resend("before", 0)).await.expect("resend"),
        duplicate(Some(7))
    );
    for (n, (id, ts)) in days.iter().enumerate() {
        assert_eq!(
            store.accept(resend(id, *ts)).await.expect("resend"),
            duplicate(Some(8 + n as u64)),
            "{id}"
        );
    }
    for id in ["before", "day1", "day3", "day4", "day9"] {
        let status = store.message_status(id).await.expect("status");
        assert_eq!(status.map(|s| s.status), Some("stored"), "{id}");
    }
    assert_eq!(store.message_status("never").await.expect("status"), None);

    // Forget what was sent ID_MEMORY_MS before 5 ms into day 4 (and, for the id from before,
    // accepted then): "before", "day1" and "day3" go; "day4", sent after that instant, stays,
    // though its day began before it; "day9" stays.
    let cutoff = 4 * DAY_MS + 5 + ID_MEMORY_MS;
    store
        .enforce_retention(cutoff, u64::MAX)
        .await
        .expect("retain");
    for (id, ts) in [("before", 0), ("day1", DAY_MS + 5), ("day3", 3 * DAY_MS)] {
        assert_eq!(
            store.accepted(&key(id, ts)).await.expect("look-up"),
            None,
            "{id}"
        );
        assert_eq!(
            store.message_status(id).await.expect("status"),
            None,
            "{id}"
        );
    }
    for (seq, (id, ts)) in [(10, days[2]), (11, days[3])] {
        assert_eq!(
            store.accepted(&key(id, ts)).await.expect("look-up"),
            Some(duplicate(Some(seq))),
            "{id}"
        );
    }
}
