//! The PostgreSQL side of registration tokens (SPEC §4.1 check 10, kezd/src/store/tokens.rs):
//! a registration that offers a token runs in one transaction that first locks the token's
//! row (`FOR UPDATE`), so registrations offering the same token from any instance queue
//! there, each sees the uses the one before it counted, and a token with one use left admits
//! one of them. The use is counted in the transaction that stores the user, so a registration
//! that fails spends nothing.

use sqlx::PgPool;

use super::{USER_BY_HANDLE, conflict, insert_user};
use crate::store::rows::{UserRow, user_from_row};
use crate::store::tokens::{self, BY_HASH_FOR_UPDATE, INSERT, REVOKE, SPEND, TokenRow};
use crate::store::{NewToken, RegisterOutcome, StoreError, TokenRecord, TokenSpend, UserRecord};

/// Stores `user`, spending a use of `token` (the order of [`Store::register_with_token`]).
///
/// [`Store::register_with_token`]: crate::store::Store::register_with_token
pub(super) async fn register(
    pool: &PgPool,
    user: UserRecord,
    token: &TokenSpend,
) -> Result<RegisterOutcome, StoreError> {
    let mut tx = pool.begin().await?;
    let row: Option<TokenRow> = sqlx::query_as(BY_HASH_FOR_UPDATE)
        .bind(&token.hash)
        .fetch_optional(&mut *tx)
        .await?;
    let stored: Option<UserRow> = sqlx::query_as(USER_BY_HANDLE)
        .bind(&user.handle)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(stored) = stored
        .map(user_from_row)
        .filter(|s| s.registration_json == user.registration_json)
    {
        return Ok(RegisterOutcome::Existing(stored));
    }
    tokens::judge(row, token.now_ms)?;
    let inserted = insert_user(&user).execute(&mut *tx).await?.rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        return conflict(pool, user).await;
    }
    if !crate::faults::on("token_use_not_counted") {
        sqlx::query(SPEND)
            .bind(&token.hash)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(RegisterOutcome::Created(user))
}

/// Stores a new token.
pub(super) async fn create(pool: &PgPool, token: NewToken) -> Result<(), StoreError> {
    sqlx::query(INSERT)
        .bind(&token.id)
        .bind(&token.hash)
        .bind(token.uses_allowed.map(i64::from))
        .bind(token.expires_at_ms)
        .bind(token.created_at_ms)
        .execute(pool)
        .await?;
    Ok(())
}

/// Every token, oldest first.
pub(super) async fn list(pool: &PgPool) -> Result<Vec<TokenRecord>, StoreError> {
    let rows: Vec<TokenRow> = sqlx::query_as(tokens::LIST).fetch_all(pool).await?;
    rows.into_iter().map(tokens::from_row).collect()
}

/// Revokes the token `id`; whether there was one.
pub(super) async fn revoke(pool: &PgPool, id: &str) -> Result<bool, StoreError> {
    let changed = sqlx::query(REVOKE)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(changed > 0)
}
