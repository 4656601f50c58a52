//! Registrations (with their invitation tokens) and account deletions on PostgreSQL (SPEC
//! §4.1, §4.7; the shared part of
//! deletion is `store/deletion.rs`).
//!
//! Both run in a transaction that first takes one advisory lock, so they are serialised with
//! each other across every instance: a registration that reads no tombstone cannot commit
//! beside a deletion that writes one for the same handle or primary. Registrations are rare
//! (a per-address limit, SPEC §11), so one lock for all of them costs nothing. Accepts need no
//! such lock: a deletion removes the inbox counter row, whose lock an accept to that inbox
//! holds until it commits, and whose foreign key on `users` refuses an accept after it.

use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

use crate::store::deletion::{
    self, AccountDeletion, BY_HANDLE, BY_PRIMARY, DeleteOutcome, FAIL_OUTBOX, HOLDS, INSERT,
    REMOVE_USER, SENDER_DELETED, Tombstone, TombstoneRow,
};
use crate::store::rows::{UserRow, user_from_row};
use crate::store::tokens::{self, BY_HASH_FOR_UPDATE, SPEND, TokenRow};
use crate::store::{RegisterOutcome, StoreError, TokenSpend, UserRecord};

use super::USER_BY_HANDLE;

/// The advisory lock key of registrations and deletions ("KEZ", 7: the migration that
/// brought tombstones).
const ACCOUNTS_LOCK: i64 = 0x4b_45_5a_07;

/// A transaction holding the accounts lock.
async fn locked(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ACCOUNTS_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Stores a registration unless a user or a tombstone holds its handle or primary (checked
/// explicitly, handle first, so the error names the right conflict; the UNIQUE constraints
/// stay as the backstop), spending a use of the token it offers (the order of
/// [`Store::register_with_token`]). The token's row is locked (`FOR UPDATE`), so registrations
/// offering the same token from any instance each see the uses the one before counted, and the
/// use is counted in the transaction that stores the user: a registration that fails spends
/// nothing.
///
/// [`Store::register_with_token`]: crate::store::Store::register_with_token
pub(super) async fn register(
    pool: &PgPool,
    user: UserRecord,
    token: Option<&TokenSpend>,
) -> Result<RegisterOutcome, StoreError> {
    let mut tx = locked(pool).await?;
    let by_handle: Option<UserRow> = sqlx::query_as(USER_BY_HANDLE)
        .bind(&user.handle)
        .fetch_optional(&mut *tx)
        .await?;
    let stored = by_handle.map(user_from_row);
    if let Some(stored) = &stored
        && stored.registration_json == user.registration_json
    {
        return Ok(RegisterOutcome::Existing(stored.clone()));
    }
    if let Some(token) = token {
        let row: Option<TokenRow> = sqlx::query_as(BY_HASH_FOR_UPDATE)
            .bind(&token.hash)
            .fetch_optional(&mut *tx)
            .await?;
        tokens::judge(row, token.now_ms)?;
    }
    if stored.is_some() {
        return Err(StoreError::HandleTaken {
            handle: user.handle,
        });
    }
    let held: (bool, bool) = sqlx::query_as(HOLDS)
        .bind(&user.handle)
        .bind(user.registered_at_ms)
        .bind(&user.primary)
        .fetch_one(&mut *tx)
        .await?;
    deletion::check_held(held, &user.handle, &user.primary)?;
    let inserted = sqlx::query(
        "INSERT INTO users (handle, primary_key, registered_at, registration) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(&user.handle)
    .bind(&user.primary)
    .bind(user.registered_at_ms)
    .bind(&user.registration_json)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::PrimaryTaken {
            primary: user.primary,
        });
    }
    if let Some(token) = token
        && !crate::faults::on("token_use_not_counted")
    {
        sqlx::query(SPEND)
            .bind(&token.hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(RegisterOutcome::Created(user))
}

/// Deletes an account, or reports the retry or the refusal.
pub(super) async fn delete(
    pool: &PgPool,
    deletion: AccountDeletion,
) -> Result<DeleteOutcome, StoreError> {
    let mut tx = locked(pool).await?;
    let user: Option<UserRow> = sqlx::query_as(USER_BY_HANDLE)
        .bind(&deletion.handle)
        .fetch_optional(&mut *tx)
        .await?;
    let tombstone: Option<TombstoneRow> = sqlx::query_as(BY_PRIMARY)
        .bind(&deletion.primary)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(outcome) = deletion::decide(&deletion, user, tombstone)? {
        return Ok(outcome);
    }
    for statement in REMOVE_USER {
        sqlx::query(statement)
            .bind(&deletion.handle)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(FAIL_OUTBOX)
        .bind(&deletion.address)
        .bind(SENDER_DELETED)
        .bind(deletion.deleted_at_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(INSERT)
        .bind(&deletion.primary)
        .bind(&deletion.handle)
        .bind(deletion.deleted_at_ms)
        .bind(deletion.released_at_ms)
        .bind(&deletion.deletion_json)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(DeleteOutcome::Deleted(deletion::tombstone_of(&deletion)))
}

/// The newest tombstone holding `handle` at `now_ms`.
pub(super) async fn by_handle(
    pool: &PgPool,
    handle: &str,
    now_ms: i64,
) -> Result<Option<Tombstone>, StoreError> {
    let row: Option<TombstoneRow> = sqlx::query_as(BY_HANDLE)
        .bind(handle)
        .bind(now_ms)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(deletion::tombstone_from_row))
}

/// The tombstone of `primary`.
pub(super) async fn by_primary(
    pool: &PgPool,
    primary: &str,
) -> Result<Option<Tombstone>, StoreError> {
    let row: Option<TombstoneRow> = sqlx::query_as(BY_PRIMARY)
        .bind(primary)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(deletion::tombstone_from_row))
}
