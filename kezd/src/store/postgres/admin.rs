//! The PostgreSQL side of administration (kezd/src/store/admin.rs): each write is one
//! statement on the pool, committed on its own.

use sqlx::postgres::PgPool;

use crate::store::StoreError;
use crate::store::admin::{AdminWrite, Param};

/// Runs an administration write; returns the rows changed.
pub(super) async fn apply(pool: &PgPool, write: AdminWrite) -> Result<u64, StoreError> {
    let (sql, params) = write.statement();
    let mut query = sqlx::query(sql);
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(text),
            Param::MaybeText(text) => query.bind(text),
            Param::Int(n) => query.bind(n),
        };
    }
    Ok(query.execute(pool).await?.rows_affected())
}
