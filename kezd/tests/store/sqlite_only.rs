//! What only the SQLite store must prove: its write-ahead log stays bounded while writes never
//! pause, because checkpoints beside a busy writer alone would never let the log start over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kezd::store::{NewMessage, Route, SqliteOptions, SqliteStore, Store};

use crate::cases::{accept_new, register_all};

/// 32 accepters write 2 KB envelopes with scattered ids to one inbox, without a pause. Each
/// message dirties about three pages of the log (its row, its id's leaf, the indexes), so a
/// log that never restarted would pass 60 MiB; restarted after each checkpoint, it holds what
/// is written between two of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_log_restarts_under_sustained_writes() {
    const ACCEPTERS: u64 = 32;
    const PER_ACCEPTER: u64 = 200;
    const BOUND: u64 = 24 << 20;
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
        let (largest, writing) = (largest.clone(), writing.clone());
        tokio::spawn(async move {
            while writing.load(Ordering::Relaxed) {
                if let Ok(meta) = std::fs::metadata(&log) {
                    largest.fetch_max(meta.len(), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let padding = "x".repeat(2048);
    let accepters: Vec<_> = (0..ACCEPTERS)
        .map(|a| {
            let (store, padding) = (store.clone(), padding.clone());
            tokio::spawn(async move {
                for i in 0..PER_ACCEPTER {
                    let n = a * PER_ACCEPTER + i;
                    // Ids spread over the whole key space, as content hashes are.
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
                }
            })
        })
        .collect();
    for accepter in accepters {
        accepter.await.expect("accepter");
    }
    writing.store(false, Ordering::Relaxed);
    watcher.await.expect("watcher");

    let latest = store.latest_seq("alice").await.expect("latest");
    assert_eq!(latest, ACCEPTERS * PER_ACCEPTER);
    let largest = largest.load(Ordering::Relaxed);
    assert!(largest > 0, "the log file was never seen");
    assert!(
        largest < BOUND,
        "the log reached {largest} bytes while writes went on (bound {BOUND})"
    );
}
