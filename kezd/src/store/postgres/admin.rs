//! The PostgreSQL side of administration (kezd/src/store/admin.rs): each write is one
//! statement on the pool, committed on its own.

use sqlx::postgres::PgPool;

use crate::store::StoreError;
use crate::store::admin::AdminWrite;

/// Runs an administration write; returns the rows changed.
pub(super) async fn apply(pool: &PgPool, write: AdminWrite) -> Result<u64, StoreError> {
    Ok(write
        .query::<sqlx::Postgres>()
        .execute(pool)
        .await?
        .rows_affected())
}
