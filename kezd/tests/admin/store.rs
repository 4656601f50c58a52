//! The store a test's server keeps its data in, so one test body runs on SQLite and on
//! PostgreSQL alike.

use crate::backend;

/// Where a server's data is kept.
#[derive(Debug, Clone, Copy)]
pub enum Store {
    /// The SQLite file in the data directory (the default).
    Sqlite,
    /// A fresh PostgreSQL database of the test's own.
    Postgres,
}

/// A store made ready for one test: the flags that put a server on it, and the PostgreSQL
/// database kept until the test ends.
pub struct Ready {
    flags: Vec<String>,
    _database: Option<backend::Postgres>,
}

impl Store {
    /// The store ready for a test; `None` when it is PostgreSQL and `KEZ_TEST_POSTGRES_URL`
    /// is unset (the test then passes without running).
    pub async fn ready(self) -> Option<Ready> {
        match self {
            Store::Sqlite => Some(Ready {
                flags: Vec::new(),
                _database: None,
            }),
            Store::Postgres => {
                let database = backend::Postgres::from_env().await?;
                // A PostgreSQL store may be shared by several instances, so kezd requires
                // the one public URL they all name.
                let flags = [
                    "--set".to_owned(),
                    format!("database_url={}", database.url()),
                    "--set".to_owned(),
                    "public_base_url=http://localhost:6969".to_owned(),
                ];
                Some(Ready {
                    flags: flags.into(),
                    _database: Some(database),
                })
            }
        }
    }
}

impl Ready {
    /// The store's flags followed by `more`, for `Target::new`.
    pub fn flags<'a>(&'a self, more: &[&'a str]) -> Vec<&'a str> {
        let mut flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        flags.extend_from_slice(more);
        flags
    }
}
