//! The cluster backend: one PostgreSQL database shared by every kezd instance, reached through
//! a connection pool (DESIGN §3 "One machine, then many"). Behaviour is the SQLite store's,
//! proven by the one store test suite both run (`kezd/tests/store`).
//!
//! Unlike SQLite there is no single writer: many connections of many processes write at once,
//! so every invariant of [`crate::store`] is kept by the database itself, each in one
//! transaction:
//! - **Seqs in order.** The accept of a local message takes the recipient's `inbox_counters`
//!   row lock with the increment and holds it until commit, so one inbox's accepts commit in
//!   seq order and a reader never sees seq n+1 before seq n (the full argument is in
//!   [`accept`]).
//! - **Stored once.** `message_ids` is claimed with `INSERT … ON CONFLICT DO NOTHING`, which
//!   waits for a concurrent claim of the same id to commit or abort; a lost claim reads the
//!   first acceptance back.
//! - **Outbox with the accept.** A remote message's id claim and its outbox row commit together.
//! - **Durability.** `accept` answers after `COMMIT` returns, which with PostgreSQL's default
//!   `synchronous_commit = on` means the commit record is flushed (SPEC §8.6). Crash-only
//!   durability sets `synchronous_commit = off` on each connection, the documented weaker mode.
//!
//! Accepts go through a group writer per instance ([`group`]): a recipient's counter lock is
//! held from the increment to the commit, so accepts to one inbox cannot overlap, and writing
//! them a group per transaction is what lets one inbox take more than one commit's worth of
//! messages at a time. Every other operation runs on the pool directly; the instances'
//! writers run side by side, serialised only where their groups share a recipient.

mod accept;
mod accounts;
mod admin;
mod federation;
mod group;
mod look_ups;
mod outbox_order;
mod retention;
mod tokens;

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, SqlSafeStr};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;

use super::admin::{
    DESTINATIONS, SERVER_BLOCKS, SUSPENDED, USER_ENTRY, USERS_PAGE, destination_report,
    server_block, user_entry,
};
use super::ask::ask;
use super::conversations;
use super::rows::{
    MessageRow, OUTBOX_BACKLOG, UserRow, clamp_i64, first_acceptance, message_from_row,
    outbox_backlog, seq_from_db, user_from_row,
};
use super::{
    Accepted, AccountDeletion, AdminWrite, Admission, Conversation, DeleteOutcome, Delivery,
    DestinationReport, Durability, MessageKey, MessageStatus, NewMessage, NewToken, OutboxBacklog,
    OutboxItem, RegisterOutcome, ServerBlock, Store, StoreError, StoredMessage, TokenRecord,
    TokenSpend, Tombstone, UserEntry, UserRecord,
};
use crate::store::statements;

/// Accepts that may wait for the group writer before callers are held back: overload becomes
/// backpressure, not memory growth.
const ACCEPT_QUEUE: usize = 4096;

/// How to open a [`PostgresStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// `postgres://user[:password]@host[:port]/database[?options]`.
    pub url: String,
    /// What a commit promises before callers are answered.
    pub durability: Durability,
    /// The pool's connections (at least 1): the most statements this instance runs at once.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long a destination's outbox stays claimed by this instance after it last touched
    /// it; another instance takes the destination over only after that (see `federation`).
    pub outbox_lease: Duration,
}

impl PostgresOptions {
    /// Options for the database at `url` with the defaults: full durability, 16 connections,
    /// a 10 s acquire timeout, a 60 s outbox lease.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            durability: Durability::Full,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            outbox_lease: Duration::from_secs(60),
        }
    }
}

/// The PostgreSQL store. Cheap to share behind an `Arc`; every method may be called
/// concurrently, from this process and from other kezd processes on the same database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// Accepts waiting for this instance's group writer (`group`).
    accepts: mpsc::Sender<group::Pending>,
    /// Conversation look-ups waiting for their batch (`look_ups`).
    look_ups: mpsc::Sender<look_ups::LookUp>,
    /// Tells the group writer to write what is queued and stop.
    shutdown: watch::Sender<bool>,
    /// The group writer, taken by `close` to wait for it.
    writer: Mutex<Option<JoinHandle<()>>>,
    /// This instance's name in `outbox_leases`: random per open, so a restarted instance does
    /// not inherit the leases of its previous life (they simply expire).
    instance: String,
    /// The lease length in milliseconds.
    lease_ms: i64,
}

impl PostgresStore {
    /// Connects, applies the embedded migrations (under PostgreSQL's migration lock, so
    /// instances starting together apply them once), and opens the pool.
    pub async fn open(options: PostgresOptions) -> Result<Self, StoreError> {
        let mut connect = PgConnectOptions::from_str(&options.url)?
            // Statements are logged by kezd's own spans when needed; sqlx's per-statement INFO
            // lines would flood the log at message rate.
            .disable_statement_logging();
        if options.durability == Durability::CrashOnly {
            connect = connect.options([("synchronous_commit", "off")]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        migrator().run(&pool).await?;
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        tracing::info!(durability = ?options.durability, "postgres store open");
        let (accepts, queue) = mpsc::channel(ACCEPT_QUEUE);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let writer = tokio::spawn(group::run(pool.clone(), queue, shutdown_rx));
        // Ends when the store is dropped, which drops the sender.
        let (look_ups, look_up_queue) = mpsc::channel(ACCEPT_QUEUE);
        tokio::spawn(look_ups::run(pool.clone(), look_up_queue));
        Ok(Self {
            pool,
            accepts,
            look_ups,
            shutdown,
            writer: Mutex::new(Some(writer)),
            instance: hex::encode(nonce),
            lease_ms: i64::try_from(options.outbox_lease.as_millis()).unwrap_or(i64::MAX),
        })
    }

    /// The pool, for tests and tools that inspect the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The embedded migrations, in version order, built from `include_str!` like SQLite's (the
/// workspace leaves out sqlx's macros). Same versions and meaning as the SQLite files, plus
/// the outbox leases that only a multi-process store needs.
fn migrator() -> Migrator {
    let file = |version, description: &'static str, sql: &'static str| {
        Migration::new(
            version,
            description.into(),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(vec![
        file(
            1,
            "initial",
            include_str!("../../migrations/postgres/0001_initial.sql"),
        ),
        file(
            2,
            "federation",
            include_str!("../../migrations/postgres/0002_federation.sql"),
        ),
        file(
            3,
            "outbox leases",
            include_str!("../../migrations/postgres/0003_outbox_leases.sql"),
        ),
        file(
            4,
            "federation memory",
            include_str!("../../migrations/postgres/0004_federation_memory.sql"),
        ),
        file(
            5,
            "conversations",
            include_str!("../../migrations/postgres/0005_conversations.sql"),
        ),
        file(
            6,
            "registration tokens",
            include_str!("../../migrations/postgres/0006_registration_tokens.sql"),
        ),
        file(
            7,
            "account deletion",
            include_str!("../../migrations/postgres/0007_account_deletion.sql"),
        ),
        file(
            8,
            "admin",
            include_str!("../../migrations/postgres/0008_admin.sql"),
        ),
    ])
}

const USER_BY_HANDLE: &str =
    "SELECT handle, primary_key, registered_at, registration FROM users WHERE handle = $1";

#[async_trait]
impl Store for PostgresStore {
    async fn register_with_token(
        &self,
        user: UserRecord,
        token: Option<TokenSpend>,
    ) -> Result<RegisterOutcome, StoreError> {
        accounts::register(&self.pool, user, token.as_ref()).await
    }

    async fn create_token(&self, token: NewToken) -> Result<(), StoreError> {
        tokens::create(&self.pool, token).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        tokens::list(&self.pool).await
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        tokens::revoke(&self.pool, id).await
    }

    async fn delete_account(&self, deletion: AccountDeletion) -> Result<DeleteOutcome, StoreError> {
        accounts::delete(&self.pool, deletion).await
    }

    async fn deleted_handle(
        &self,
        handle: &str,
        now_ms: i64,
    ) -> Result<Option<Tombstone>, StoreError> {
        accounts::by_handle(&self.pool, handle, now_ms).await
    }

    async fn deleted_primary(&self, primary: &str) -> Result<Option<Tombstone>, StoreError> {
        accounts::by_primary(&self.pool, primary).await
    }

    async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(USER_BY_HANDLE)
            .bind(handle)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(user_from_row))
    }

    async fn user_by_primary(&self, primary: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT handle, primary_key, registered_at, registration FROM users \
             WHERE primary_key = $1",
        )
        .bind(primary)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(user_from_row))
    }

    async fn accept_admitted(
        &self,
        message: NewMessage,
        admission: Admission,
    ) -> Result<Accepted, StoreError> {
        ask(&self.accepts, |reply| group::Pending {
            message,
            admission,
            reply,
        })
        .await
    }

    async fn accepted(&self, key: &MessageKey) -> Result<Option<Accepted>, StoreError> {
        let seq: Option<Option<i64>> =
            sqlx::query_scalar("SELECT seq FROM message_ids WHERE id = $1")
                .bind(&key.id)
                .fetch_optional(&self.pool)
                .await?;
        seq.map(first_acceptance).transpose()
    }

    async fn known_ids(&self, keys: &[MessageKey]) -> Result<HashSet<String>, StoreError> {
        let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        let found: Vec<String> =
            sqlx::query_scalar("SELECT id FROM message_ids WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(found.into_iter().collect())
    }

    async fn inbox(
        &self,
        handle: &str,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        // With seqs committed in order (see `accept`), the one snapshot of the statement is a
        // prefix of the committed seqs.
        let rows: Vec<MessageRow> = sqlx::query_as(statements::INBOX_PAGE)
            .bind(handle)
            .bind(clamp_i64(since))
            .bind(i64::from(limit))
            .bind(i64::try_from(max_bytes).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(message_from_row).collect()
    }

    async fn latest_seq(&self, handle: &str) -> Result<u64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar(statements::LATEST_SEQ)
            .bind(handle)
            .fetch_optional(&self.pool)
            .await?;
        last.map_or(Ok(0), seq_from_db)
    }

    /// The counter is untouched, so the next accept continues after the highest seq ever
    /// assigned.
    async fn ack(&self, handle: &str, through: u64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM messages WHERE recipient = $1 AND seq <= $2")
            .bind(handle)
            .bind(clamp_i64(through))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn outbox_destinations(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        federation::destinations(&self.pool, &self.instance, self.lease_ms, now_ms).await
    }

    async fn outbox_pending(
        &self,
        destination: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        federation::pending(&self.pool, destination, after, limit).await
    }

    async fn outbox_record(
        &self,
        destination: &str,
        outcomes: Vec<(String, Delivery)>,
        backoff: Option<(u32, i64)>,
    ) -> Result<(), StoreError> {
        federation::record(
            &self.pool,
            (&self.instance, self.lease_ms),
            destination,
            outcomes,
            backoff,
        )
        .await
    }

    async fn destination_failures(&self, destination: &str) -> Result<u32, StoreError> {
        federation::failures(&self.pool, destination).await
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        let row = sqlx::query_as(OUTBOX_BACKLOG).fetch_one(&self.pool).await?;
        Ok(outbox_backlog(row))
    }

    async fn outbox_wake(
        &self,
        destination: &str,
        retry_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        federation::wake(&self.pool, destination, retry_at_ms, now_ms).await
    }

    async fn message_status(&self, id: &str) -> Result<Option<MessageStatus>, StoreError> {
        federation::status(&self.pool, id).await
    }

    async fn txn_response(&self, origin: &str, txn_id: &str) -> Result<Option<String>, StoreError> {
        federation::txn_response(&self.pool, origin, txn_id).await
    }

    async fn save_txn_response(
        &self,
        origin: &str,
        txn_id: &str,
        response: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        federation::save_txn_response(&self.pool, origin, txn_id, response, now_ms).await
    }

    async fn enforce_retention(
        &self,
        older_than_ms: i64,
        max_per_inbox: u64,
    ) -> Result<u64, StoreError> {
        retention::enforce(&self.pool, older_than_ms, max_per_inbox).await
    }

    async fn forget_federation(&self, before_ms: i64) -> Result<u64, StoreError> {
        retention::forget_federation(&self.pool, before_ms).await
    }

    async fn conversation(
        &self,
        sender: &str,
        recipient: &str,
    ) -> Result<Conversation, StoreError> {
        ask(&self.look_ups, |reply| look_ups::LookUp {
            sender: sender.to_owned(),
            recipient: recipient.to_owned(),
            reply,
        })
        .await
    }

    /// One transaction, the pairs in sorted order so that two concurrent records lock their
    /// common rows in the same order and cannot deadlock.
    async fn record_conversations(
        &self,
        mut pairs: Vec<(String, String)>,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        pairs.sort_unstable();
        pairs.dedup();
        let mut tx = self.pool.begin().await?;
        for (sender, recipient) in &pairs {
            sqlx::query(conversations::RECORD)
                .bind(sender)
                .bind(recipient)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn forget_conversations(&self, before_ms: i64) -> Result<u64, StoreError> {
        retention::forget_conversations(&self.pool, before_ms).await
    }

    async fn users_page(&self, after: &str, limit: u32) -> Result<Vec<UserEntry>, StoreError> {
        let rows = sqlx::query_as(USERS_PAGE)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(user_entry).collect())
    }

    async fn user_entry(&self, handle: &str) -> Result<Option<UserEntry>, StoreError> {
        let row = sqlx::query_as(USER_ENTRY)
            .bind(handle)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(user_entry))
    }

    async fn suspended_handles(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SUSPENDED).fetch_all(&self.pool).await?)
    }

    async fn server_blocks(&self) -> Result<Vec<ServerBlock>, StoreError> {
        let rows = sqlx::query_as(SERVER_BLOCKS).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(server_block).collect())
    }

    async fn destination_reports(&self) -> Result<Vec<DestinationReport>, StoreError> {
        let rows = sqlx::query_as(DESTINATIONS).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(destination_report).collect())
    }

    async fn admin_write(&self, write: AdminWrite) -> Result<u64, StoreError> {
        admin::apply(&self.pool, write).await
    }

    /// PostgreSQL's own tools copy a live database consistently, with the server's
    /// credentials and options, better than kezd could.
    async fn backup(&self, _into: &Path) -> Result<(), StoreError> {
        Err(StoreError::Unsupported(
            "a PostgreSQL store is backed up with PostgreSQL's tools: \
             pg_dump --format=custom --file=FILE DATABASE_URL (a consistent copy of the live \
             database; restore with pg_restore)",
        ))
    }

    /// Waits for the connections in use to be returned (so statements in flight finish and
    /// are answered), then closes every connection; later calls fail with `Closed`.
    async fn close(&self) {
        self.shutdown.send_replace(true);
        let writer = self.writer.lock().await.take();
        if let Some(writer) = writer
            && let Err(error) = writer.await
        {
            tracing::error!(%error, "postgres group writer ended abnormally");
        }
        self.pool.close().await;
    }
}
