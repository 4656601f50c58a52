//! The SQLite side of registration tokens (SPEC §4.1 check 10, kezd/src/store/tokens.rs): the
//! writes the group-commit writer runs for `Guarded::Tokens`, and the check and spending it
//! runs inside a registration's savepoint. The listing runs on the read pool (sqlite.rs).

use sqlx::SqliteConnection;

use crate::store::tokens::{self, INSERT, REVOKE, SPEND, TokenRow};
use crate::store::{NewToken, StoreError, TokenSpend};

/// A registration token write.
#[derive(Debug)]
pub(in crate::store) enum TokenWrite {
    /// Store a new token.
    Create(NewToken),
    /// Revoke the token with this id.
    Revoke(String),
}

/// Runs a token write; returns the rows changed.
pub(in crate::store) async fn apply(
    conn: &mut SqliteConnection,
    write: TokenWrite,
) -> Result<u64, StoreError> {
    let query = match &write {
        TokenWrite::Create(token) => sqlx::query(INSERT)
            .bind(&token.id)
            .bind(&token.hash)
            .bind(token.uses_allowed.map(i64::from))
            .bind(token.expires_at_ms)
            .bind(token.created_at_ms),
        TokenWrite::Revoke(id) => sqlx::query(REVOKE).bind(id),
    };
    Ok(query.execute(&mut *conn).await?.rows_affected())
}

/// Whether `token` may be spent now ([`StoreError::TokenRefused`] if not).
pub(super) async fn judge(
    conn: &mut SqliteConnection,
    token: &TokenSpend,
) -> Result<(), StoreError> {
    let row: Option<TokenRow> = sqlx::query_as(tokens::BY_HASH)
        .bind(&token.hash)
        .fetch_optional(&mut *conn)
        .await?;
    tokens::judge(row, token.now_ms)
}

/// Counts one use of `token`, in the registration's savepoint.
pub(super) async fn spend(
    conn: &mut SqliteConnection,
    token: &TokenSpend,
) -> Result<(), StoreError> {
    if crate::faults::on("token_use_not_counted") {
        return Ok(());
    }
    sqlx::query(SPEND)
        .bind(&token.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
