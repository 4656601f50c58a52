//! The PostgreSQL side of the operator's registration tokens (SPEC §4.1 check 10,
//! kezd/src/store/tokens.rs): creating, listing and revoking them. Spending one is part of the
//! registration (`accounts.rs`).

use sqlx::PgPool;

use crate::store::tokens::{self, INSERT, REVOKE, TokenRow};
use crate::store::{NewToken, StoreError, TokenRecord};

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
