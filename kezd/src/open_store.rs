//! Opening the configured store: what `kezd serve` does at start and `kezd admin` does when no
//! daemon runs. An SQLite file is created readable by kezd's user only (private_files.rs).

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, Database};
use crate::store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store, StoreError};

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The SQLite file could not be created (or narrowed to mode 0600).
    #[error("creating the database {path}")]
    Create {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite store did not open.
    #[error("opening the database {path}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The PostgreSQL store did not open.
    #[error("opening the PostgreSQL database (database_url)")]
    Postgres(#[source] StoreError),
}

/// Opens (and migrates) the store `config` names.
pub async fn open(config: &Config) -> Result<Arc<dyn Store>, OpenError> {
    Ok(match &config.database {
        Database::Sqlite { path } => {
            crate::private_files::sqlite_database(path).map_err(|source| OpenError::Create {
                path: path.clone(),
                source,
            })?;
            let mut options = SqliteOptions::new(path);
            options.durability = config.durability;
            Arc::new(
                SqliteStore::open(options)
                    .await
                    .map_err(|source| OpenError::Sqlite {
                        path: path.clone(),
                        source,
                    })?,
            )
        }
        Database::Postgres { url } => {
            let mut options = PostgresOptions::new(url.as_str());
            options.durability = config.durability;
            options.max_connections = config.database_max_connections.get();
            Arc::new(
                PostgresStore::open(options)
                    .await
                    .map_err(OpenError::Postgres)?,
            )
        }
    })
}
