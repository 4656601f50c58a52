//! `database_url` and `durability`: where the data lives and what a commit promises.

use std::fmt;
use std::path::{Path, PathBuf};

use super::ConfigError;
use super::checks::invalid;
use super::secrets::redact_password;
use crate::durability::Durability;

/// Where the data lives, parsed from `database_url`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (`sqlite://path` or `sqlite:path`), created when missing.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL database (`postgres://` or `postgresql://`), shared by every kezd of a
    /// cluster; kezd applies its migrations at start.
    Postgres {
        /// The connection URL as given, options included.
        url: String,
    },
}

impl fmt::Debug for Database {
    /// A PostgreSQL URL may carry a password: debug output (which can reach logs) shows the
    /// URL without it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Database::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &redact_password(url))
                .finish(),
        }
    }
}

impl fmt::Display for Database {
    /// The URL without its password, fit for the log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.to_url()))
    }
}

impl Database {
    /// The given `database_url`, or `kezd.db` in `data_dir`.
    pub(super) fn from_raw(raw: Option<String>, data_dir: &Path) -> Result<Self, ConfigError> {
        match raw {
            Some(url) => Database::parse(&url).map_err(|e| invalid("database_url", e)),
            None => Ok(Database::Sqlite {
                path: data_dir.join("kezd.db"),
            }),
        }
    }

    /// Parses `database_url`.
    pub(super) fn parse(url: &str) -> Result<Self, &'static str> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // sqlx's own parser, so a URL accepted here is one the store can open.
            <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
                .map_err(|_| "is not a valid postgres:// URL")?;
            return Ok(Database::Postgres {
                url: url.to_owned(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or("must be a sqlite: URL (sqlite://path/to/kezd.db) or a postgres:// URL")?;
        if path.is_empty() {
            return Err("names no file");
        }
        if path.contains('?') {
            return Err("must not carry options: kezd sets them (see `durability`)");
        }
        Ok(Database::Sqlite { path: path.into() })
    }

    /// The URL it was parsed from.
    pub(super) fn to_url(&self) -> String {
        match self {
            Database::Sqlite { path } => format!("sqlite://{}", path.display()),
            Database::Postgres { url } => url.clone(),
        }
    }
}

/// Parses `durability`.
pub(super) fn durability(text: &str) -> Result<Durability, ConfigError> {
    match text {
        "full" => Ok(Durability::Full),
        "crash_only" => Ok(Durability::CrashOnly),
        _ => Err(invalid("durability", "must be \"full\" or \"crash_only\"")),
    }
}

/// `durability` as written in the file.
pub(super) fn durability_name(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => "full",
        Durability::CrashOnly => "crash_only",
    }
}
