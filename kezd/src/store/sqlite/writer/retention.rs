//! The writer's part of the retention sweep (SPEC §8.4, §8.7): deleting what a read
//! connection found to delete, a bounded step per request.
//!
//! Why the finding is not done here: the writer is the only one that writes, so every accept
//! waits for whatever it runs. Searching a large store (every inbox's counter against the
//! limit, the oldest messages by age) held it for tens to hundreds of milliseconds per sweep
//! on a store of 100,000 inboxes; a read connection now searches, on a snapshot, and the
//! writer only deletes the rows it is given, each step checking again the condition that
//! made a row a candidate, so a row that changed since the snapshot is left alone. The
//! oldest day of ids is the exception: it is the front of its index, found in one seek.

use super::Writer;
use crate::store::StoreError;

/// One bounded step of a retention sweep, planned on a read connection (store/sqlite/retention.rs).
#[derive(Debug)]
pub(in crate::store::sqlite) enum RetentionStep {
    /// Messages a reader found received before `older_than_ms`, by rowid (a JSON array).
    Expired { rowids: String, older_than_ms: i64 },
    /// Ids stored before schema version 9 that a reader found accepted before `before_ms` and
    /// absent from the outbox (a JSON array of ids).
    ForgetIds { ids: String, before_ms: i64 },
    /// At most `budget` ids of the oldest day stored, if it is before `before_day`
    /// (stored_ids.rs): found by the writer, at the front of the index, in one seek.
    ForgetDays { before_day: i64, budget: i64 },
    /// The oldest messages of `recipient`'s inbox through seq `cutoff`, at most `budget`: seqs
    /// only grow and acknowledgements delete from the oldest, so what was beyond the limit on
    /// the reader's snapshot still is.
    OverLimit {
        recipient: String,
        cutoff: i64,
        budget: i64,
    },
}

impl Writer {
    /// Runs one step; returns how many rows it deleted.
    pub(super) async fn retention(&mut self, step: RetentionStep) -> Result<u64, StoreError> {
        let done = match step {
            RetentionStep::Expired {
                rowids,
                older_than_ms,
            } => {
                sqlx::query(
                    "DELETE FROM messages WHERE rowid IN (SELECT value FROM json_each(?1)) \
                     AND received_at < ?2",
                )
                .bind(rowids)
                .bind(older_than_ms)
                .execute(&mut self.conn)
                .await?
            }
            // An id still pending in the outbox stays: its outbox row would make a re-accept
            // fail. A remote accept cannot add one meanwhile (the id is known, so it is a
            // duplicate), but the check is as cheap as it is certain.
            RetentionStep::ForgetIds { ids, before_ms } => {
                sqlx::query(
                    "DELETE FROM message_ids_v1 WHERE id IN (SELECT value FROM json_each(?1)) \
                     AND accepted_at < ?2 \
                     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = message_ids_v1.id)",
                )
                .bind(ids)
                .bind(before_ms)
                .execute(&mut self.conn)
                .await?
            }
            // Only local ids are stored by day (the outbox remembers remote ones), so none of
            // these is in the outbox.
            RetentionStep::ForgetDays { before_day, budget } => {
                sqlx::query(
                    "DELETE FROM message_ids \
                     WHERE ts_day = (SELECT MIN(ts_day) FROM message_ids) AND ts_day < ?1 \
                     AND id IN (SELECT id FROM message_ids \
                       WHERE ts_day = (SELECT MIN(ts_day) FROM message_ids) ORDER BY id LIMIT ?2)",
                )
                .bind(before_day)
                .bind(budget)
                .execute(&mut self.conn)
                .await?
            }
            RetentionStep::OverLimit {
                recipient,
                cutoff,
                budget,
            } => {
                sqlx::query(
                    "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages \
                     WHERE recipient = ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3)",
                )
                .bind(recipient)
                .bind(cutoff)
                .bind(budget)
                .execute(&mut self.conn)
                .await?
            }
        };
        Ok(done.rows_affected())
    }
}
