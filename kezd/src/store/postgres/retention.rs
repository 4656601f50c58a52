//! The retention policy (SPEC §8.4), and forgetting old conversations (§11), on PostgreSQL: the same bounded steps as the SQLite store,
//! each its own short transaction, so a large cleanup never holds locks that accepts wait on
//! for long. Accepts and retention touch different rows of `inbox_counters` (retention only
//! reads it), so they do not block each other at all.

use sqlx::postgres::PgPool;

use crate::store::StoreError;
use crate::store::conversations;
use crate::store::rows::{self, ID_MEMORY_MS, clamp_i64};
use crate::store::statements;

/// Rows deleted per step.
const STEP: u64 = 2_000;

/// Deletes messages received before `older_than_ms` and, per inbox, all but the newest
/// `max_per_inbox`; forgets message ids accepted [`ID_MEMORY_MS`] before `older_than_ms`,
/// except those still in the outbox. Returns how many messages were deleted.
pub(super) async fn enforce(
    pool: &PgPool,
    older_than_ms: i64,
    max_per_inbox: u64,
) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let (deleted, more) = step(pool, older_than_ms, max_per_inbox, STEP).await?;
        total += deleted;
        if !more {
            return Ok(total);
        }
    }
}

/// One step of at most `budget` deleted messages (and `budget` forgotten ids); returns the
/// count and whether more may remain.
async fn step(
    pool: &PgPool,
    older_than_ms: i64,
    max_per_inbox: u64,
    budget: u64,
) -> Result<(u64, bool), StoreError> {
    let mut tx = pool.begin().await?;
    let mut deleted = sqlx::query(
        "DELETE FROM messages WHERE (recipient, seq) IN (SELECT recipient, seq FROM messages \
         WHERE received_at < $1 ORDER BY received_at LIMIT $2)",
    )
    .bind(older_than_ms)
    .bind(clamp_i64(budget))
    .execute(&mut *tx)
    .await?
    .rows_affected();

    // An id outlives its message by ID_MEMORY_MS, so a resend is still a duplicate while the
    // envelope could be accepted again (SPEC §8.7), however short the age limit. An id still
    // in the outbox stays: its outbox row would make a re-accept fail.
    let ids_forgotten = sqlx::query(statements::FORGET_IDS)
        .bind(older_than_ms.saturating_sub(ID_MEMORY_MS))
        .bind(clamp_i64(budget))
        .execute(&mut *tx)
        .await?
        .rows_affected();

    if deleted < budget {
        let keep = clamp_i64(max_per_inbox);
        let candidates: Vec<String> = sqlx::query_scalar(statements::OVER_LIMIT_INBOXES)
            .bind(keep)
            .fetch_all(&mut *tx)
            .await?;
        for recipient in candidates {
            if deleted >= budget {
                break;
            }
            // The newest seq that is beyond the limit, if the inbox really is over it.
            let cutoff: Option<i64> = sqlx::query_scalar(statements::RETENTION_CUTOFF)
                .bind(&recipient)
                .bind(keep)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(cutoff) = cutoff else { continue };
            deleted += sqlx::query(
                "DELETE FROM messages WHERE recipient = $1 AND seq IN (SELECT seq FROM messages \
                 WHERE recipient = $1 AND seq <= $2 ORDER BY seq LIMIT $3)",
            )
            .bind(&recipient)
            .bind(cutoff)
            .bind(clamp_i64(budget - deleted))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
    }
    tx.commit().await?;
    Ok((deleted, deleted >= budget || ids_forgotten >= budget))
}

/// Forgets outbox rows that finished before `before_ms` and responses to transactions received
/// before it, in steps of [`STEP`] rows per table, each its own short transaction. Returns the
/// rows deleted.
pub(super) async fn forget_federation(pool: &PgPool, before_ms: i64) -> Result<u64, StoreError> {
    let budget = clamp_i64(STEP);
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let mut deleted = [0; 2];
        for (statement, count) in [rows::FORGET_FINISHED_OUTBOX, rows::FORGET_OLD_TXNS]
            .into_iter()
            .zip(&mut deleted)
        {
            *count = sqlx::query(statement)
                .bind(before_ms)
                .bind(budget)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        let [outbox, txns] = deleted;
        tx.commit().await?;
        total += outbox + txns;
        if outbox < STEP && txns < STEP {
            return Ok(total);
        }
    }
}

/// Forgets conversations last recorded before `before_ms` (SPEC §11), in steps of [`STEP`]
/// rows, each its own statement. Returns the rows deleted.
pub(super) async fn forget_conversations(pool: &PgPool, before_ms: i64) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let deleted = sqlx::query(conversations::FORGET)
            .bind(before_ms)
            .bind(clamp_i64(STEP))
            .execute(pool)
            .await?
            .rows_affected();
        total += deleted;
        if deleted < STEP {
            return Ok(total);
        }
    }
}
