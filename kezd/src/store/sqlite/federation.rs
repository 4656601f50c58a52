//! The SQLite side of federation's storage: reading the outbox and delivery status from the
//! read pool, and the writes (attempt outcomes, transaction responses) that the group-commit
//! writer runs for `Guarded::Federation`.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use crate::store::rows;
use crate::store::statements;
use crate::store::{Delivery, MessageStatus, OutboxItem, StoreError};

/// A federation write, run by the writer inside the batch's transaction.
#[derive(Debug)]
pub(in crate::store) enum FederationWrite {
    /// Outcomes of one delivery attempt, and the destination's backoff after it.
    Outcomes {
        destination: String,
        outcomes: Vec<(String, Delivery)>,
        backoff: Option<(u32, i64)>,
    },
    /// A destination's own backoff ended early (`rows::WAKE_DESTINATION`).
    Wake {
        destination: String,
        retry_at: i64,
        now_ms: i64,
    },
    /// One bounded step of forgetting finished outbox rows and old transaction responses.
    Forget { before_ms: i64, budget: i64 },
    /// The response to a received transaction.
    SaveTxn {
        origin: String,
        txn_id: String,
        response: String,
        now_ms: i64,
    },
}

/// Runs a federation write; returns the rows changed (for `Wake`, the destinations woken).
pub(in crate::store) async fn apply(
    conn: &mut SqliteConnection,
    write: FederationWrite,
) -> Result<u64, StoreError> {
    match write {
        FederationWrite::Outcomes {
            destination,
            outcomes,
            backoff,
        } => {
            let now = i64::try_from(crate::clock::now_ms()).unwrap_or(i64::MAX);
            let mut changed = match backoff {
                Some((failures, retry_at)) => sqlx::query(
                    "INSERT INTO destinations (destination, failures, retry_at) \
                     VALUES (?1, ?2, ?3) ON CONFLICT (destination) \
                     DO UPDATE SET failures = ?2, retry_at = ?3",
                )
                .bind(&destination)
                .bind(i64::from(failures))
                .bind(retry_at),
                None => sqlx::query("DELETE FROM destinations WHERE destination = ?1")
                    .bind(&destination),
            }
            .execute(&mut *conn)
            .await?
            .rows_affected();
            for ((state, next, error), ids) in rows::outcome_groups(outcomes) {
                // Far below SQLite's limit of 32,766 parameters per statement.
                for chunk in ids.chunks(1024) {
                    let mut update = QueryBuilder::<Sqlite>::new("UPDATE outbox SET state = ");
                    update
                        .push_bind(state)
                        .push(", next_attempt_at = ")
                        .push_bind(next)
                        .push(", last_error = COALESCE(")
                        .push_bind(error.as_deref())
                        .push(", last_error), finished_at = ")
                        .push_bind((state != "pending").then_some(now))
                        .push(", attempts = attempts + 1 ")
                        .push("WHERE state = 'pending' AND id IN (");
                    let mut list = update.separated(", ");
                    for id in chunk {
                        list.push_bind(id.as_str());
                    }
                    update.push(")");
                    changed += update.build().execute(&mut *conn).await?.rows_affected();
                }
            }
            Ok(changed)
        }
        FederationWrite::Wake {
            destination,
            retry_at,
            now_ms,
        } => {
            let [backoff, messages] = rows::WAKE_DESTINATION;
            let woken = sqlx::query(backoff)
                .bind(now_ms)
                .bind(&destination)
                .bind(retry_at)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if woken > 0 {
                sqlx::query(messages)
                    .bind(now_ms)
                    .bind(&destination)
                    .bind(retry_at)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(woken)
        }
        FederationWrite::Forget { before_ms, budget } => {
            let mut deleted = 0;
            for statement in [rows::FORGET_FINISHED_OUTBOX, rows::FORGET_OLD_TXNS] {
                deleted += sqlx::query(statement)
                    .bind(before_ms)
                    .bind(budget)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            }
            Ok(deleted)
        }
        FederationWrite::SaveTxn {
            origin,
            txn_id,
            response,
            now_ms,
        } => Ok(sqlx::query(
            "INSERT INTO txns (origin, txn_id, response, received_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (origin, txn_id) DO NOTHING",
        )
        .bind(origin)
        .bind(txn_id)
        .bind(response)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected()),
    }
}

/// Destinations with due pending work.
pub(in crate::store) async fn destinations(
    pool: &SqlitePool,
    now_ms: i64,
) -> Result<Vec<String>, StoreError> {
    // The dispatcher asks on every queued send, and a backlog can hold many thousands of
    // pending rows: the distinct destinations are walked one index seek at a time on
    // `outbox_pending (destination, position)`, so the cost follows the number of
    // destinations, not of queued messages.
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE pending(destination) AS ( \
           SELECT MIN(destination) FROM outbox WHERE state = 'pending' \
           UNION ALL \
           SELECT (SELECT MIN(destination) FROM outbox \
                   WHERE state = 'pending' AND destination > pending.destination) \
           FROM pending WHERE pending.destination IS NOT NULL) \
         SELECT p.destination FROM pending p \
         LEFT JOIN destinations d ON d.destination = p.destination \
         WHERE p.destination IS NOT NULL \
         AND (d.retry_at IS NULL OR d.retry_at <= ?1) \
         AND EXISTS (SELECT 1 FROM outbox o WHERE o.destination = p.destination \
                     AND o.state = 'pending' AND o.next_attempt_at <= ?1)",
    )
    .bind(now_ms)
    .fetch_all(pool)
    .await?)
}

/// A destination's consecutive failures.
pub(in crate::store) async fn failures(
    pool: &SqlitePool,
    destination: &str,
) -> Result<u32, StoreError> {
    let failures: Option<i64> =
        sqlx::query_scalar("SELECT failures FROM destinations WHERE destination = ?1")
            .bind(destination)
            .fetch_optional(pool)
            .await?;
    Ok(failures.map_or(0, |f| u32::try_from(f).unwrap_or(u32::MAX)))
}

/// The oldest pending messages of a destination.
pub(in crate::store) async fn pending(
    pool: &SqlitePool,
    destination: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<OutboxItem>, StoreError> {
    let rows: Vec<rows::OutboxRow> = sqlx::query_as(
        "SELECT position, id, sender, envelope, accepted_at, attempts, next_attempt_at \
         FROM outbox WHERE destination = ?1 AND state = 'pending' AND position > ?2 \
         ORDER BY position LIMIT ?3",
    )
    .bind(destination)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(rows::outbox_item_from_row).collect())
}

/// A message's delivery status: from the outbox for a remote recipient, else from the id
/// memory (a local recipient's message is `stored` from its acceptance on).
pub(in crate::store) async fn status(
    pool: &SqlitePool,
    id: &str,
) -> Result<Option<MessageStatus>, StoreError> {
    let outbox: Option<rows::OutboxStatusRow> = sqlx::query_as(statements::OUTBOX_STATUS)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    if let Some(row) = outbox {
        return Ok(Some(rows::outbox_status(row)));
    }
    let local: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as(super::stored_ids::LOCAL_STATUS)
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(local.and_then(rows::local_status))
}

/// The stored response to a transaction.
pub(in crate::store) async fn txn_response(
    pool: &SqlitePool,
    origin: &str,
    txn_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(statements::TXN_RESPONSE)
        .bind(origin)
        .bind(txn_id)
        .fetch_optional(pool)
        .await?)
}
