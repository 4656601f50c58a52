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
use super::stored_ids;
use super::writer::{Guarded, Request, RetentionStep};
use crate::store::StoreError;
use crate::store::rows::{ID_MEMORY_MS, clamp_i64};
use crate::store::statements::{self, forgettable_ids};

/// Rows deleted per writer request. A step's deletes, and the log pages its commit writes,
/// delay the accepts committed with it: a few hundred rows keep that to a few milliseconds.
const STEP: u16 = 256;

/// The oldest messages received before `$1`, at most `$2`: their rowids as one JSON array,
/// and how many. SQLite makes the array, so the writer's statement gets one parameter
/// whatever their number (one prepared statement).
const EXPIRED: &str = "SELECT json_group_array(rowid), COUNT(*) FROM (SELECT rowid FROM messages \
     WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)";

/// The ids stored before schema version 9 to forget (accepted before `$1`, at most `$2`), as
/// [`EXPIRED`] gives its rowids. Later ids are forgotten by day (stored_ids.rs).
const FORGETTABLE: &str = concat!(
    "SELECT json_group_array(id), COUNT(*) FROM (",
    forgettable_ids!("message_ids_v1"),
    ")"
);

impl SqliteStore {
    /// Deletes messages received before `older_than_ms` and, per inbox, all but the newest
    /// `max_per_inbox`; forgets ids whose envelope's `ts` is [`ID_MEMORY_MS`] before
    /// `older_than_ms`, a day at a time (so up to a day later), and those stored before
    /// version 9 accepted that long before it, except those still in the outbox (a resend
    /// stays a duplicate while its envelope could still be accepted: an accepted `ts` is at
    /// most 300 s after its acceptance). Without an age limit (`i64::MIN`) nothing is old
    /// enough. Returns how many messages were deleted.
    pub(super) async fn sweep(
        &self,
        older_than_ms: i64,
        max_per_inbox: u64,
    ) -> Result<u64, StoreError> {
        let mut deleted = self
            .in_steps(EXPIRED, older_than_ms, |rowids, older_than_ms| {
                RetentionStep::Expired {
                    rowids,
                    older_than_ms,
                }
            })
            .await?;
        let forget_before = older_than_ms.saturating_sub(ID_MEMORY_MS);
        self.in_steps(FORGETTABLE, forget_before, |ids, before_ms| {
            RetentionStep::ForgetIds { ids, before_ms }
        })
        .await?;
        // Days are forgotten from the front of the index, where the writer finds them itself
        // in a seek; a step ends at the end of a day, so the steps go on until one finds none.
        let before_day = stored_ids::ts_day(forget_before);
        while self
            .step(RetentionStep::ForgetDays {
                before_day,
                budget: i64::from(STEP),
            })
            .await?
            > 0
        {}

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

    /// Deletes what `candidates` finds before `before_ms` on a read connection, [`STEP`] rows
    /// a writer request (made by `step` from the JSON array and `before_ms`), until it finds
    /// fewer; returns the rows deleted.
    async fn in_steps(
        &self,
        candidates: &'static str,
        before_ms: i64,
        step: fn(String, i64) -> RetentionStep,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let (found, count): (String, i64) = sqlx::query_as(candidates)
                .bind(before_ms)
                .bind(i64::from(STEP))
                .fetch_one(&self.readers)
                .await?;
            if count == 0 {
                return Ok(deleted);
            }
            deleted += self.step(step(found, before_ms)).await?;
            if count < i64::from(STEP) {
                return Ok(deleted);
            }
        }
    }

    /// Runs one step in the writer; returns the rows it deleted.
    async fn step(&self, step: RetentionStep) -> Result<u64, StoreError> {
        self.write(|reply| Request::Guarded(Guarded::Retention { step, reply }))
            .await
    }
}
