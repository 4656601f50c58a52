//! What only the SQLite store must prove: its write-ahead log stays bounded while writes never
//! pause, because checkpoints beside a busy writer alone would never let the log start over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kezd::store::{NewMessage, Route, SqliteOptions, SqliteStore, Store};

use crate::cases::{accept_new, register_all};

/// Messages written in all: about 128 MiB of envelopes, thirty times the log's restart size
/// (1,000 pages of 4 KiB), so a log that never restarted would be far past what one that does
/// holds, whatever the machine's speed.
const MESSAGES: u64 = 65_536;

/// 32 accepters write 2 KB envelopes with scattered ids to one inbox, without a pause, until
/// [`MESSAGES`] are written. The log file never shrinks, so its size is the most it ever held. A
/// log that never restarted would hold everything written; restarted after each checkpoint, it
/// holds what is written between two of them (a quarter-second's worth past its restart size),
/// a small part of the whole on any machine.
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
    watcher.await.expect("watcher");
    if let Ok(meta) = std::fs::metadata(&log) {
        largest.fetch_max(meta.len(), Ordering::Relaxed);
    }

    let latest = store.latest_seq("alice").await.expect("latest");
    assert_eq!(latest, written.load(Ordering::Relaxed));
    let largest = largest.load(Ordering::Relaxed);
    // A log that never started over would hold every envelope written (and more: index pages);
    // one restarted after each checkpoint holds what is written between two of them. How much
    // that is depends on how often the checkpointer gets a core: about a quarter of the
    // envelopes on a busy two-core machine, a small part of it on an idle one. Half is the
    // bound that still tells the two cases apart.
    let envelope_bytes = written.load(Ordering::Relaxed) * 2048;
    assert!(
        largest * 2 < envelope_bytes,
        "the log grew to {largest} bytes for {envelope_bytes} bytes of envelopes"
    );
}
