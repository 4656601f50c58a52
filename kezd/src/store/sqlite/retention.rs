//! The retention sweep on SQLite (SPEC §8.4, §8.7): what to delete is found on a read
//! connection, and the writer is sent only the deletes, a small step per request.
//!
//! Why: every accept waits for whatever the single writer runs (writer.rs). When the writer
//! also searched (the oldest messages by age, every inbox that ever passed the limit), a sweep
//! of a store with 100,000 inboxes held it for up to half a second, and sends queued behind
//! it. A reader's snapshot may be a little behind the writer; each step checks again what made
//! a row a candidate (writer/retention.rs), so the sweep deletes nothing that should stay, and
//! what arrives meanwhile is left for the next sweep.

use super::SqliteStore;
use super::writer::{Guarded, Request, RetentionStep};
use crate::store::StoreError;
use crate::store::rows::{ID_MEMORY_MS, clamp_i64};
use crate::store::statements;

/// Rows deleted per writer request. A step's deletes, and the log pages its commit writes,
/// delay the accepts committed with it: a few hundred rows keep that to a few milliseconds.
const STEP: u16 = 256;

/// The oldest messages received before `$1`, by rowid, at most `$2`.
const EXPIRED: &str =
    "SELECT rowid FROM messages WHERE received_at < ?1 ORDER BY received_at LIMIT ?2";

impl SqliteStore {
    /// Deletes messages received before `older_than_ms` and, per inbox, all but the newest
    /// `max_per_inbox`; forgets ids accepted [`ID_MEMORY_MS`] before `older_than_ms` (a resend
    /// stays a duplicate while its envelope could still be accepted), except those still in
    /// the outbox. Without an age limit (`i64::MIN`) nothing is old enough. Returns how many
    /// messages were deleted.
    pub(super) async fn sweep(
        &self,
        older_than_ms: i64,
        max_per_inbox: u64,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let rowids: Vec<i64> = sqlx::query_scalar(EXPIRED)
                .bind(older_than_ms)
                .bind(i64::from(STEP))
                .fetch_all(&self.readers)
                .await?;
            if rowids.is_empty() {
                break;
            }
            let found = rowids.len();
            let rowids = json_array(&rowids)?;
            deleted += self
                .step(RetentionStep::Expired {
                    rowids,
                    older_than_ms,
                })
                .await?;
            if found < usize::from(STEP) {
                break;
            }
        }
        self.forget_ids(older_than_ms.saturating_sub(ID_MEMORY_MS))
            .await?;

        let keep = clamp_i64(max_per_inbox);
        let over: Vec<String> = sqlx::query_scalar(statements::OVER_LIMIT_INBOXES)
            .bind(keep)
            .fetch_all(&self.readers)
            .await?;
        for recipient in over {
            // The newest seq beyond the limit, if the inbox is (still) over it.
            let cutoff: Option<i64> = sqlx::query_scalar(statements::RETENTION_CUTOFF)
                .bind(&recipient)
                .bind(keep)
                .fetch_optional(&self.readers)
                .await?;
            let Some(cutoff) = cutoff else { continue };
            loop {
                let done = self
                    .step(RetentionStep::OverLimit {
                        recipient: recipient.clone(),
                        cutoff,
                        budget: i64::from(STEP),
                    })
                    .await?;
                deleted += done;
                if done < u64::from(STEP) {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    /// Forgets the ids accepted before `before_ms` that no outbox row holds.
    async fn forget_ids(&self, before_ms: i64) -> Result<(), StoreError> {
        loop {
            let ids: Vec<String> = sqlx::query_scalar(statements::FORGETTABLE_IDS)
                .bind(before_ms)
                .bind(i64::from(STEP))
                .fetch_all(&self.readers)
                .await?;
            if ids.is_empty() {
                return Ok(());
            }
            let found = ids.len();
            let ids = json_array(&ids)?;
            self.step(RetentionStep::ForgetIds { ids, before_ms })
                .await?;
            if found < usize::from(STEP) {
                return Ok(());
            }
        }
    }

    /// Runs one step in the writer; returns the rows it deleted.
    async fn step(&self, step: RetentionStep) -> Result<u64, StoreError> {
        self.write(|reply| Request::Guarded(Guarded::Retention { step, reply }))
            .await
    }
}

/// The candidates as one JSON array: one parameter, whatever their number, so the writer's
/// statement text (and its prepared statement) is always the same.
fn json_array<T: serde::Serialize>(items: &[T]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::Database(sqlx::Error::Encode(e.into())))
}
