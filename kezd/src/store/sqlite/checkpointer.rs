//! WAL checkpoints off the writer's path.
//!
//! Why: by default SQLite checkpoints inside the commit that takes the write-ahead log past
//! 1,000 pages, so the writer, and every caller waiting on its group commit, stalls while
//! pages are copied into the database file and that file is fsynced. At full send rates that
//! was every few dozen milliseconds, and it set the tail of the send latency. The writer's
//! connection has automatic checkpoints off; this task runs a PASSIVE checkpoint, which
//! never blocks the writer or a reader, on a connection of its own at a fixed interval, so
//! the copying happens beside the writer rather than inside its commits. Copying less often
//! also copies a page written many times (an index's last leaf) once instead of many times.
//!
//! A checkpoint beside a busy writer never ends the log, though: SQLite starts writing the log
//! from its beginning again only when a write transaction begins with every frame copied, and
//! the writer commits again while a checkpoint copies. Under sustained load the log would
//! grow without bound (every commit then extends the file, and its fsync must also write the
//! file's new size). So when the log has grown past [`RESTART_FRAMES`], the checkpointer asks
//! the writer to copy the few frames committed since, between two of its transactions
//! ([`LogRestart`]): the writer's next transaction then writes the log from the start.
//!
//! Durability is unchanged: a commit is durable once it is in the WAL (and fsynced there, by
//! the writer's flusher with full durability); a checkpoint only moves committed pages into
//! the main file, and SQLite fsyncs the log before it and the main file after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::watch;

use super::commits::Commits;

/// How often the log is checkpointed. At the highest send rates this keeps it to a few
/// thousand messages' pages. A pass is skipped when nothing was committed since one that
/// copied the whole log, so a quiet store is not touched four times a second.
const INTERVAL: Duration = Duration::from_millis(250);

/// A log this long (frames of one page each; SQLite's own automatic checkpoint threshold) is
/// restarted by the writer after the next checkpoint.
const RESTART_FRAMES: i64 = 1000;

/// The checkpointer's request to the writer to finish a checkpoint, so the log restarts.
#[derive(Debug, Clone, Default)]
pub(super) struct LogRestart(Arc<AtomicBool>);

impl LogRestart {
    fn request(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether a restart was requested since the last call.
    pub(super) fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Runs checkpoints until the store closes.
pub(super) async fn run(
    mut conn: SqliteConnection,
    restart: LogRestart,
    commits: Commits,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The commit count when a pass last copied every frame of the log.
    let mut all_copied_at = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let count = commits.get();
                if all_copied_at == Some(count) {
                    continue;
                }
                // (busy, frames in the log, frames copied into the database file)
                match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&mut conn)
                    .await
                {
                    Ok((_, log, copied)) => {
                        if log >= RESTART_FRAMES {
                            restart.request();
                        }
                        all_copied_at = (copied >= log).then_some(count);
                    }
                    Err(error) => tracing::warn!(%error, "sqlite checkpoint failed"),
                }
            }
            // Err means the store was dropped: stop as well.
            _ = shutdown.changed() => break,
        }
    }
    if let Err(error) = conn.close().await {
        tracing::debug!(%error, "closing the sqlite checkpoint connection failed");
    }
}
