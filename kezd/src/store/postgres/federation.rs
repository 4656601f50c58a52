//! The PostgreSQL side of federation's storage: the outbox and delivery status, transaction
//! responses, and the claims that keep two kezd instances from delivering one destination's
//! outbox at the same time.
//!
//! # Outbox claims
//!
//! Every instance runs a delivery dispatcher that lists due destinations and delivers each in
//! one task. With a shared database, two dispatchers would list the same destination and send
//! the same messages twice: harmless for correctness (the receiver deduplicates by message
//! id, SPEC §9.4) but wasteful, and it doubles the attempt counts. So listing due destinations
//! also claims them: an upsert into `outbox_leases` that succeeds only where the lease is free,
//! expired, or already this instance's. The upsert takes the lease row's lock, so two
//! instances claiming at once queue and exactly one wins — the effect of DESIGN §3's
//! `FOR UPDATE SKIP LOCKED` claim, without holding a transaction open during the network
//! delivery. Recording outcomes renews the lease; a lease that is not renewed (its instance
//! died or stopped delivering) expires and another instance takes the destination over.
//! Losing a lease mid-delivery costs at worst a duplicate transaction, never a message.

use sqlx::postgres::PgPool;

use crate::store::rows;
use crate::store::statements;
use crate::store::{Delivery, MessageStatus, OutboxItem, StoreError};

/// The id memory of message `$1`: a local recipient's message is `stored` from its acceptance.
/// SQLite keys its id memory by day first, so it has its own (store/sqlite/stored_ids.rs).
const LOCAL_STATUS: &str = "SELECT sender, seq FROM message_ids WHERE id = $1";

/// The database's clock in Unix milliseconds, as SQL text for `concat!`: leases expire by one
/// clock for all instances.
macro_rules! db_now_ms {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
    };
}

/// Destinations with due pending work that this instance now holds the lease of.
pub(super) async fn destinations(
    pool: &PgPool,
    instance: &str,
    lease_ms: i64,
    now_ms: i64,
) -> Result<Vec<String>, StoreError> {
    // Ordered, so concurrent claimers lock lease rows in one order and cannot deadlock.
    const CLAIM: &str = concat!(
        "INSERT INTO outbox_leases (destination, holder, expires_at) \
         SELECT due.destination, $2, ",
        db_now_ms!(),
        " + $3 FROM ( \
           SELECT DISTINCT o.destination FROM outbox o \
           LEFT JOIN destinations d ON d.destination = o.destination \
           WHERE o.state = 'pending' AND o.next_attempt_at <= $1 \
           AND (d.retry_at IS NULL OR d.retry_at <= $1) \
         ) due ORDER BY due.destination \
         ON CONFLICT (destination) DO UPDATE \
         SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE outbox_leases.holder = excluded.holder \
         OR outbox_leases.expires_at <= ",
        db_now_ms!(),
        " RETURNING destination"
    );
    Ok(sqlx::query_scalar(CLAIM)
        .bind(now_ms)
        .bind(instance)
        .bind(lease_ms)
        .fetch_all(pool)
        .await?)
}

/// The oldest pending messages of a destination, in acceptance order.
pub(super) async fn pending(
    pool: &PgPool,
    destination: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<OutboxItem>, StoreError> {
    let rows: Vec<rows::OutboxRow> = sqlx::query_as(
        "SELECT position, id, sender, envelope, accepted_at, attempts, next_attempt_at \
         FROM outbox WHERE destination = $1 AND state = 'pending' AND position > $2 \
         ORDER BY position LIMIT $3",
    )
    .bind(destination)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(rows::outbox_item_from_row).collect())
}

/// Records an attempt's outcomes and the destination's backoff in one transaction, and renews
/// this instance's lease on the destination.
pub(super) async fn record(
    pool: &PgPool,
    (instance, lease_ms): (&str, i64),
    destination: &str,
    outcomes: Vec<(String, Delivery)>,
    backoff: Option<(u32, i64)>,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    match backoff {
        Some((failures, retry_at)) => sqlx::query(
            "INSERT INTO destinations (destination, failures, retry_at) VALUES ($1, $2, $3) \
             ON CONFLICT (destination) \
             DO UPDATE SET failures = excluded.failures, retry_at = excluded.retry_at",
        )
        .bind(destination)
        .bind(i64::from(failures))
        .bind(retry_at),
        None => sqlx::query("DELETE FROM destinations WHERE destination = $1").bind(destination),
    }
    .execute(&mut *tx)
    .await?;
    const UPDATE: &str = concat!(
        "UPDATE outbox SET state = $2, next_attempt_at = $3, \
         last_error = COALESCE($4, last_error), attempts = attempts + 1, \
         finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE ",
        db_now_ms!(),
        " END WHERE id = ANY($1) AND state = 'pending'"
    );
    for ((state, next, error), ids) in rows::outcome_groups(outcomes) {
        sqlx::query(UPDATE)
            .bind(&ids)
            .bind(state)
            .bind(next)
            .bind(error)
            .execute(&mut *tx)
            .await?;
    }
    const RENEW: &str = concat!(
        "UPDATE outbox_leases SET expires_at = ",
        db_now_ms!(),
        " + $3 WHERE destination = $1 AND holder = $2"
    );
    sqlx::query(RENEW)
        .bind(destination)
        .bind(instance)
        .bind(lease_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a destination's own backoff early, in one transaction (`rows::WAKE_DESTINATION`).
pub(super) async fn wake(
    pool: &PgPool,
    destination: &str,
    retry_at: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let [backoff, messages] = rows::WAKE_DESTINATION;
    let woken = sqlx::query(backoff)
        .bind(now_ms)
        .bind(destination)
        .bind(retry_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if woken > 0 {
        sqlx::query(messages)
            .bind(now_ms)
            .bind(destination)
            .bind(retry_at)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(woken > 0)
}

/// A destination's consecutive failures.
pub(super) async fn failures(pool: &PgPool, destination: &str) -> Result<u32, StoreError> {
    let failures: Option<i64> =
        sqlx::query_scalar("SELECT failures FROM destinations WHERE destination = $1")
            .bind(destination)
            .fetch_optional(pool)
            .await?;
    Ok(failures.map_or(0, |f| u32::try_from(f).unwrap_or(u32::MAX)))
}

/// A message's delivery status: from the outbox for a remote recipient, else from the id
/// memory (a local recipient's message is `stored` from its acceptance on).
pub(super) async fn status(pool: &PgPool, id: &str) -> Result<Option<MessageStatus>, StoreError> {
    let outbox: Option<rows::OutboxStatusRow> = sqlx::query_as(statements::OUTBOX_STATUS)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    if let Some(row) = outbox {
        return Ok(Some(rows::outbox_status(row)));
    }
    let local: Option<(Option<String>, Option<i64>)> = sqlx::query_as(LOCAL_STATUS)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(local.and_then(rows::local_status))
}

/// The stored response to a transaction.
pub(super) async fn txn_response(
    pool: &PgPool,
    origin: &str,
    txn_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(statements::TXN_RESPONSE)
        .bind(origin)
        .bind(txn_id)
        .fetch_optional(pool)
        .await?)
}

/// Stores a transaction's response; the first stored response wins (also against another
/// instance answering the same retried transaction at the same moment).
pub(super) async fn save_txn_response(
    pool: &PgPool,
    origin: &str,
    txn_id: &str,
    response: String,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO txns (origin, txn_id, response, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (origin, txn_id) DO NOTHING",
    )
    .bind(origin)
    .bind(txn_id)
    .bind(response)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(())
}
