//! Account deletion on the SQLite writer (SPEC §4.7; the shared part is `store/deletion.rs`):
//! the deletion and the tombstone check of a registration run on the one write connection,
//! so they are ordered with every accept and registration and need no lock of their own.

use sqlx::sqlite::{SqliteConnection, SqlitePool};

use crate::store::StoreError;
use crate::store::deletion::{
    self, AccountDeletion, BY_HANDLE, BY_PRIMARY, DeleteOutcome, FAIL_OUTBOX, HOLDS, INSERT,
    REMOVE_USER, SENDER_DELETED, Tombstone, TombstoneRow,
};
use crate::store::rows::UserRow;

/// Deletes the account, or reports the retry or the refusal. The caller (the writer) forgets
/// the inbox's cached counter.
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    deletion: AccountDeletion,
) -> Result<DeleteOutcome, StoreError> {
    let user: Option<UserRow> = sqlx::query_as(
        "SELECT handle, primary_key, registered_at, registration FROM users WHERE handle = $1",
    )
    .bind(&deletion.handle)
    .fetch_optional(&mut *conn)
    .await?;
    let tombstone: Option<TombstoneRow> = sqlx::query_as(BY_PRIMARY)
        .bind(&deletion.primary)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(outcome) = deletion::decide(&deletion, user, tombstone)? {
        return Ok(outcome);
    }
    for statement in REMOVE_USER {
        sqlx::query(statement)
            .bind(&deletion.handle)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(FAIL_OUTBOX)
        .bind(&deletion.address)
        .bind(SENDER_DELETED)
        .bind(deletion.deleted_at_ms)
        .execute(&mut *conn)
        .await?;
    sqlx::query(INSERT)
        .bind(&deletion.primary)
        .bind(&deletion.handle)
        .bind(deletion.deleted_at_ms)
        .bind(deletion.released_at_ms)
        .bind(&deletion.deletion_json)
        .execute(&mut *conn)
        .await?;
    Ok(DeleteOutcome::Deleted(deletion::tombstone_of(&deletion)))
}

/// Refuses a registration whose handle or primary a tombstone holds at `now_ms`.
pub(super) async fn check_registration(
    conn: &mut SqliteConnection,
    handle: &str,
    primary: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let held: (bool, bool) = sqlx::query_as(HOLDS)
        .bind(handle)
        .bind(now_ms)
        .bind(primary)
        .fetch_one(conn)
        .await?;
    deletion::check_held(held, handle, primary)
}

/// The newest tombstone holding `handle` at `now_ms`.
pub(super) async fn by_handle(
    readers: &SqlitePool,
    handle: &str,
    now_ms: i64,
) -> Result<Option<Tombstone>, StoreError> {
    let row: Option<TombstoneRow> = sqlx::query_as(BY_HANDLE)
        .bind(handle)
        .bind(now_ms)
        .fetch_optional(readers)
        .await?;
    Ok(row.map(deletion::tombstone_from_row))
}

/// The tombstone of `primary`.
pub(super) async fn by_primary(
    readers: &SqlitePool,
    primary: &str,
) -> Result<Option<Tombstone>, StoreError> {
    let row: Option<TombstoneRow> = sqlx::query_as(BY_PRIMARY)
        .bind(primary)
        .fetch_optional(readers)
        .await?;
    Ok(row.map(deletion::tombstone_from_row))
}
