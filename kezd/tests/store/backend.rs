//! The backends the suite runs against: SQLite in a temp directory always, PostgreSQL in a
//! database of its own when `KEZ_TEST_POSTGRES_URL` is set.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kezd::store::{Durability, PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store};
use rand_core::{OsRng, RngCore};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tempfile::TempDir;

/// Where a test's store lives. Every `open` opens the same database again, so a test can
/// close a store and reopen it to check what was made durable.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Opens a store with the default options.
    async fn open(&self) -> Arc<dyn Store>;
    /// Opens a store with crash-only durability.
    async fn open_crash_only(&self) -> Arc<dyn Store>;
}

/// An SQLite file two directories below a temp dir, so open must create them.
pub struct Sqlite {
    _dir: TempDir,
    path: PathBuf,
}

impl Sqlite {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state").join("db").join("kez.db");
        Self { _dir: dir, path }
    }
}

#[async_trait]
impl Backend for Sqlite {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            SqliteStore::open(SqliteOptions::new(&self.path))
                .await
                .expect("open sqlite store"),
        )
    }

    async fn open_crash_only(&self) -> Arc<dyn Store> {
        let mut options = SqliteOptions::new(&self.path);
        options.durability = Durability::CrashOnly;
        options.max_batch = 1;
        Arc::new(SqliteStore::open(options).await.expect("open sqlite store"))
    }
}

/// The variable that turns the PostgreSQL runs on: a URL of a server where the test user may
/// create databases, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "KEZ_TEST_POSTGRES_URL";

/// A database `kez_test_<random>` created for one test and dropped (even when the test
/// panics) when this is dropped.
pub struct Postgres {
    admin: PgConnectOptions,
    name: String,
    url: String,
}

impl Postgres {
    /// `None` when the variable is unset or empty (the test then passes without running).
    /// When it is set, an unreachable server fails the test: a CI that asked for PostgreSQL
    /// must not go green without it.
    pub async fn from_env() -> Option<Self> {
        let Some(admin_url) = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|v| !v.is_empty())
        else {
            crate::skipped::skipped("PostgreSQL", POSTGRES_URL_VAR);
            return None;
        };
        let admin = PgConnectOptions::from_str(&admin_url)
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is not a PostgreSQL URL: {e}"));
        let mut nonce = [0u8; 6];
        OsRng.fill_bytes(&mut nonce);
        let name = format!("kez_test_{}", hex::encode(nonce));
        let mut conn = connect(&admin).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        conn.close().await.ok();
        let url = with_database(&admin_url, &name);
        Some(Self { admin, name, url })
    }

    /// The test database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a store with these options on the test database.
    pub async fn open_with(&self, options: PostgresOptions) -> Arc<PostgresStore> {
        Arc::new(
            PostgresStore::open(options)
                .await
                .expect("open postgres store"),
        )
    }
}

async fn connect(options: &PgConnectOptions) -> PgConnection {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!("{POSTGRES_URL_VAR} is set but PostgreSQL is unreachable: {e}"),
        Err(_) => panic!("{POSTGRES_URL_VAR} is set but PostgreSQL did not answer in 10 s"),
    }
}

/// `scheme://authority/db?query` with the database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with ://");
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

#[async_trait]
impl Backend for Postgres {
    async fn open(&self) -> Arc<dyn Store> {
        self.open_with(PostgresOptions::new(self.url())).await
    }

    async fn open_crash_only(&self) -> Arc<dyn Store> {
        let mut options = PostgresOptions::new(self.url());
        options.durability = Durability::CrashOnly;
        self.open_with(options).await
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot block on a future: a thread of
        // its own with a small runtime drops the database (FORCE ends the stores' sessions).
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut conn = PgConnection::connect_with(&admin).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
