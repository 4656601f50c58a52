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
//! Durability is unchanged: a commit is durable once it is in the WAL (and fsynced there with
//! `synchronous=FULL`); a checkpoint only moves committed pages into the main file.

use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::watch;

/// How often the log is checkpointed. At the highest send rates this keeps it to a few
/// thousand messages' pages; when nothing was written a checkpoint reads one header.
const INTERVAL: Duration = Duration::from_millis(250);

/// Runs checkpoints until the store closes.
pub(super) async fn run(mut conn: SqliteConnection, mut shutdown: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut conn)
                    .await
                {
                    tracing::warn!(%error, "sqlite checkpoint failed");
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
