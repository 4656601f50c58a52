//! What only the SQLite store must prove: its write-ahead log stays bounded while writes never
//! pause, because checkpoints beside a busy writer alone would never let the log start over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kezd::store::{NewMessage, Route, SqliteOptions, SqliteStore, Store};

use crate::cases::{accept_new, register_all};

/// How long each of the two halves of the load lasts: several checkpoint intervals (250 ms).
const HALF: Duration = Duration::from_millis(1500);

/// 32 accepters write 2 KB envelopes with scattered ids to one inbox, without a pause, for two
/// equal halves. The log file never shrinks, so its size is the most it ever held. A log that
/// never restarted would hold everything written: twice as much after the second half as after
/// the first. Restarted after each checkpoint, it holds what is written between two of them,
/// the same in both halves, whatever the machine's speed.
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
            while writing.load(Ordering::Relaxed) {
                if let Ok(meta) = std::fs::metadata(&log) {
                    largest.fetch_max(meta.len(), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
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
                        received_at_ms: 1_000,
                    };
                    accept_new(&*store, message).await;
                    written.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(HALF).await;
    let first_half = largest.load(Ordering::Relaxed);
    tokio::time::sleep(HALF).await;
    writing.store(false, Ordering::Relaxed);
    for accepter in accepters {
        accepter.await.expect("accepter");
    }
    watcher.await.expect("watcher");
    if let Ok(meta) = std::fs::metadata(&log) {
        largest.fetch_max(meta.len(), Ordering::Relaxed);
    }

    let latest = store.latest_seq("alice").await.expect("latest");
    assert_eq!(latest, written.load(Ordering::Relaxed));
    let both_halves = largest.load(Ordering::Relaxed);
    // Enough was written that a log holding all of it would be far past its restart size.
    assert!(
        first_half > 8 << 20,
        "the first half left only {first_half} bytes of log"
    );
    assert!(
        both_halves * 2 < first_half * 3,
        "the log grew from {first_half} to {both_halves} bytes as writes went on"
    );
}
