//! The SQLite side of administration (kezd/src/store/admin.rs): the writes the group-commit
//! writer runs for `Guarded::Admin`, inside the batch's transaction, and the online backup,
//! which copies the database on a connection of its own.

use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};

use crate::store::StoreError;
use crate::store::admin::AdminWrite;

/// Runs an administration write; returns the rows changed.
pub(in crate::store) async fn apply(
    conn: &mut SqliteConnection,
    write: AdminWrite,
) -> Result<u64, StoreError> {
    Ok(write
        .query::<sqlx::Sqlite>()
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Copies the database at `database` into the new file `into` with `VACUUM INTO`: one read
/// transaction, so the copy is the committed state at one moment, taken while the writer goes
/// on (a WAL reader does not block it). The file is created first with mode 0600 (SQLite
/// fills an empty file), so the copy of every envelope is never readable by others.
pub(super) async fn backup(database: &Path, into: &Path) -> Result<(), StoreError> {
    let created = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(into)
    };
    created.map_err(|source| StoreError::CreateFile {
        path: into.to_path_buf(),
        source,
    })?;
    let copied = async {
        let mut conn = SqliteConnectOptions::new()
            .filename(database)
            .connect()
            .await?;
        sqlx::query("VACUUM INTO $1")
            .bind(into.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    if let Err(error) = copied {
        // No half-written copy is left to be mistaken for a backup.
        let _ = std::fs::remove_file(into);
        return Err(error.into());
    }
    Ok(())
}
