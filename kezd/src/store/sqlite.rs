//! The embedded backend: one SQLite file in WAL mode, one writer task doing group commit, a
//! checkpointer beside it (`checkpointer`) and a pool of read connections (DESIGN §3
//! "Durability" and "One machine, then many").
//!
//! Writes (register, accept, ack, retention) all go to the single writer task in
//! [`writer`], which batches whatever is waiting into one transaction and one fsync. Reads go
//! straight to the read pool: a WAL reader sees a snapshot of committed transactions only, and
//! because seqs are assigned by the one writer in commit order, a snapshot that contains seq
//! n+1 of an inbox contains every lower seq that is still stored (see `writer`).

mod admin;
mod checkpointer;
mod commits;
mod conversation_cache;
mod conversations;
mod deletion;
mod federation;
mod retention;
mod stored_ids;
mod tokens;
mod writer;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, QueryBuilder, SqlSafeStr};
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::admin::{
    DESTINATIONS, SERVER_BLOCKS, SUSPENDED, USER_ENTRY, USERS_PAGE, destination_report,
    server_block, user_entry,
};
use super::conversations as statements;
use super::rows::{
    MessageRow, OUTBOX_BACKLOG, UserRow, clamp_i64, first_acceptance, message_from_row,
    outbox_backlog, seq_from_db, user_from_row,
};
use super::tokens::{self as token_statements, TokenRow};
use super::{
    Accepted, AccountDeletion, AdminWrite, Admission, Conversation, DeleteOutcome, Delivery,
    DestinationReport, Durability, MessageKey, MessageStatus, NewMessage, NewToken, OutboxBacklog,
    OutboxItem, RegisterOutcome, ServerBlock, Store, StoreError, StoredMessage, TokenRecord,
    TokenSpend, Tombstone, UserEntry, UserRecord,
};
use crate::store::statements::{INBOX_PAGE, LATEST_SEQ};
use checkpointer::LogRestart;
use commits::Commits;
use conversation_cache::ConversationCache;
use conversations::ConversationWrite;
use federation::FederationWrite;
use tokens::TokenWrite;
use writer::{Flusher, ForReaders, Guarded, Request, SeenIds, Writer};

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The database file; it and its parent directory are created when missing.
    pub path: PathBuf,
    /// What a commit promises before callers are answered.
    pub durability: Durability,
    /// How many read connections serve lookups and inbox pages concurrently (at least 1).
    pub read_connections: u32,
    /// The most writes committed in one transaction (at least 1). Larger batches share one
    /// fsync among more callers; smaller ones bound the latency of a single batch.
    pub max_batch: usize,
    /// How many writes may wait for the writer before callers are held back (at least 1):
    /// the bound that turns overload into backpressure instead of memory growth.
    pub queue_capacity: usize,
    /// How long a connection waits for a lock held by another process before failing.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// Options for the database at `path` with the defaults: full durability, 4 readers,
    /// batches of up to 256 writes, a queue of 4096.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            durability: Durability::Full,
            read_connections: 4,
            max_batch: 256,
            queue_capacity: 4096,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Rows deleted per step of the federation and conversation clean-ups: each step is one writer
/// request, so accepts queued behind a large cleanup wait for one step, not for all of it.
const RETENTION_STEP: u64 = 2_000;

/// Prepared statements each connection keeps, by text. Statements whose text varies with the
/// number of rows or ids (a group's inserts, a transaction's duplicate look-up, its outcome
/// update) come in a few hundred sizes; preparing them anew each time cost about 4 % of
/// kezd's CPU at full send rates on the writer, and 1 % of a receiving server's on the
/// readers.
const CACHED_STATEMENTS: usize = 512;

/// Flushes the database's write-ahead log (`<path>-wal`) to stable storage. The file is
/// opened for each flush, so a log SQLite has replaced is never flushed through a stale handle.
fn log_flush(path: &std::path::Path) -> impl FnMut() -> std::io::Result<()> + Send + 'static {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    move || std::fs::File::open(&wal)?.sync_data()
}

/// The SQLite store. Cheap to share behind an `Arc`; every method may be called concurrently.
#[derive(Debug)]
pub struct SqliteStore {
    /// Write requests to the writer task; bounded, so callers wait when it falls behind.
    requests: mpsc::Sender<Request>,
    /// Connections for reads, opened with `query_only` so they can never write.
    readers: SqlitePool,
    /// Tells the writer to stop taking requests and finish the queued ones, and the
    /// checkpointer to stop.
    shutdown: watch::Sender<bool>,
    /// The writer and checkpointer tasks, taken by `close` to wait for them.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The database file, for backups (`admin`), which copy it on a connection of their own.
    path: PathBuf,
    /// The writer's committed transactions (commits.rs).
    commits: Commits,
    /// Conversations as last read, kept exact by the writer (conversation_cache.rs).
    conversations: Arc<ConversationCache>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database, applies the embedded migrations, and starts
    /// the writer task. Must be called inside a Tokio runtime.
    pub async fn open(options: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(parent) = options.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|source| StoreError::CreateDir {
                    path: parent.to_path_buf(),
                    source,
                })?;
        }

        // SQLite fsyncs the log only before a checkpoint; full durability adds the flusher's
        // fsync after each commit, before its answers.
        let base = SqliteConnectOptions::new()
            .filename(&options.path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            // Negative means KiB: 16 MiB of page cache per connection keeps the hot indexes
            // (users, recent inbox ranges, message ids) in memory.
            .pragma("cache_size", "-16384")
            // A group's multi-row inserts keep a statement journal (to undo a failed statement
            // alone); on disk, each one would create, write and delete a temporary file.
            .pragma("temp_store", "MEMORY");

        // Checkpoints run beside the writer, not inside its commits (checkpointer.rs); the
        // log is truncated back to 64 MiB whenever it restarts after one.
        let mut write = base
            .clone()
            .create_if_missing(true)
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", "67108864")
            .statement_cache_capacity(CACHED_STATEMENTS)
            .connect()
            .await?;
        migrator().run_direct(None, &mut write, false).await?;

        let readers = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(
                base.clone()
                    .pragma("query_only", "ON")
                    .statement_cache_capacity(CACHED_STATEMENTS),
            )
            .await?;

        let (requests, queue) = mpsc::channel(options.queue_capacity.max(1));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let checkpoints = base.clone().connect().await?;
        let restart = LogRestart::default();
        let commits = Commits::default();
        let conversations = Arc::new(ConversationCache::default());
        let flusher = match options.durability {
            Durability::Full => Some(
                Flusher::spawn(log_flush(&options.path))
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?,
            ),
            Durability::CrashOnly => None,
        };
        let writer = Writer::new(
            write,
            queue,
            restart.clone(),
            ForReaders {
                commits: commits.clone(),
                conversations: Arc::clone(&conversations),
                seen: SeenIds::load(readers.clone()),
            },
            shutdown_rx.clone(),
            options.max_batch.max(1),
            flusher,
        );
        let tasks = vec![
            tokio::spawn(writer.run()),
            tokio::spawn(checkpointer::run(
                checkpoints,
                restart,
                commits.clone(),
                shutdown_rx,
            )),
        ];
        tracing::info!(
            path = %options.path.display(),
            durability = ?options.durability,
            "sqlite store open"
        );

        Ok(Self {
            requests,
            readers,
            shutdown,
            tasks: Mutex::new(tasks),
            path: options.path,
            commits,
            conversations,
        })
    }

    /// Sends one request to the writer and waits for its answer. A writer that is gone (closed
    /// store, dead task) shows up as a failed send or a dropped reply: both are `Closed`.
    async fn write<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Request,
    ) -> Result<T, StoreError> {
        super::ask::ask(&self.requests, request).await
    }
}

/// The embedded migrations, in version order. Built by hand from `include_str!` rather than
/// with `sqlx::migrate!`, which needs sqlx's proc-macro crate (the `macros` feature) that the
/// workspace deliberately leaves out; the files are embedded in the binary either way.
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
            include_str!("../../migrations/sqlite/0001_initial.sql"),
        ),
        file(
            2,
            "federation",
            include_str!("../../migrations/sqlite/0002_federation.sql"),
        ),
        // Version 3 is PostgreSQL's outbox leases, which an SQLite store does not need.
        file(
            4,
            "federation memory",
            include_str!("../../migrations/sqlite/0004_federation_memory.sql"),
        ),
        file(
            5,
            "conversations",
            include_str!("../../migrations/sqlite/0005_conversations.sql"),
        ),
        file(
            6,
            "registration tokens",
            include_str!("../../migrations/sqlite/0006_registration_tokens.sql"),
        ),
        file(
            7,
            "account deletion",
            include_str!("../../migrations/sqlite/0007_account_deletion.sql"),
        ),
        file(
            8,
            "admin",
            include_str!("../../migrations/sqlite/0008_admin.sql"),
        ),
        file(
            9,
            "message ids by day",
            include_str!("../../migrations/sqlite/0009_message_ids_by_day.sql"),
        ),
    ])
}

#[async_trait]
impl Store for SqliteStore {
    async fn register_with_token(
        &self,
        user: UserRecord,
        token: Option<TokenSpend>,
    ) -> Result<RegisterOutcome, StoreError> {
        self.write(|reply| Request::Guarded(Guarded::Register { user, token, reply }))
            .await
    }

    async fn create_token(&self, token: NewToken) -> Result<(), StoreError> {
        let op = TokenWrite::Create(token);
        self.write(|reply| Request::Guarded(Guarded::Tokens { op, reply }))
            .await
            .map(drop)
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(token_statements::LIST)
            .fetch_all(&self.readers)
            .await?;
        rows.into_iter().map(token_statements::from_row).collect()
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let op = TokenWrite::Revoke(id.to_owned());
        let changed = self
            .write(|reply| Request::Guarded(Guarded::Tokens { op, reply }))
            .await?;
        Ok(changed > 0)
    }

    async fn delete_account(&self, deletion: AccountDeletion) -> Result<DeleteOutcome, StoreError> {
        self.write(|reply| Request::Guarded(Guarded::Delete { deletion, reply }))
            .await
    }

    async fn deleted_handle(
        &self,
        handle: &str,
        now_ms: i64,
    ) -> Result<Option<Tombstone>, StoreError> {
        deletion::by_handle(&self.readers, handle, now_ms).await
    }

    async fn deleted_primary(&self, primary: &str) -> Result<Option<Tombstone>, StoreError> {
        deletion::by_primary(&self.readers, primary).await
    }

    async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT handle, primary_key, registered_at, registration FROM users WHERE handle = ?1",
        )
        .bind(handle)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(user_from_row))
    }

    async fn user_by_primary(&self, primary: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT handle, primary_key, registered_at, registration FROM users \
             WHERE primary_key = ?1",
        )
        .bind(primary)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(user_from_row))
    }

    async fn accept_admitted(
        &self,
        message: NewMessage,
        admission: Admission,
    ) -> Result<Accepted, StoreError> {
        self.write(|reply| Request::Accept {
            message,
            admission,
            reply,
        })
        .await
    }

    async fn outbox_destinations(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        federation::destinations(&self.readers, now_ms).await
    }

    async fn outbox_pending(
        &self,
        destination: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        federation::pending(&self.readers, destination, after, limit).await
    }

    async fn outbox_record(
        &self,
        destination: &str,
        outcomes: Vec<(String, Delivery)>,
        backoff: Option<(u32, i64)>,
    ) -> Result<(), StoreError> {
        let op = FederationWrite::Outcomes {
            destination: destination.to_owned(),
            outcomes,
            backoff,
        };
        self.write(|reply| Request::Guarded(Guarded::Federation { op, reply }))
            .await
            .map(drop)
    }

    async fn destination_failures(&self, destination: &str) -> Result<u32, StoreError> {
        federation::failures(&self.readers, destination).await
    }

    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        let row = sqlx::query_as(OUTBOX_BACKLOG)
            .fetch_one(&self.readers)
            .await?;
        Ok(outbox_backlog(row))
    }

    async fn outbox_wake(
        &self,
        destination: &str,
        retry_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let op = FederationWrite::Wake {
            destination: destination.to_owned(),
            retry_at: retry_at_ms,
            now_ms,
        };
        let woken = self
            .write(|reply| Request::Guarded(Guarded::Federation { op, reply }))
            .await?;
        Ok(woken > 0)
    }

    async fn message_status(&self, id: &str) -> Result<Option<MessageStatus>, StoreError> {
        federation::status(&self.readers, id).await
    }

    async fn txn_response(&self, origin: &str, txn_id: &str) -> Result<Option<String>, StoreError> {
        federation::txn_response(&self.readers, origin, txn_id).await
    }

    /// In steps of `RETENTION_STEP` rows per table, each one writer request, so that accepts
    /// queued behind a large cleanup wait for one step.
    async fn forget_federation(&self, before_ms: i64) -> Result<u64, StoreError> {
        let budget = clamp_i64(RETENTION_STEP);
        let mut total = 0;
        loop {
            let op = FederationWrite::Forget { before_ms, budget };
            let deleted = self
                .write(|reply| Request::Guarded(Guarded::Federation { op, reply }))
                .await?;
            total += deleted;
            if deleted < RETENTION_STEP {
                return Ok(total);
            }
        }
    }

    async fn save_txn_response(
        &self,
        origin: &str,
        txn_id: &str,
        response: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let op = FederationWrite::SaveTxn {
            origin: origin.to_owned(),
            txn_id: txn_id.to_owned(),
            response,
            now_ms,
        };
        self.write(|reply| Request::Guarded(Guarded::Federation { op, reply }))
            .await
            .map(drop)
    }

    async fn conversation(
        &self,
        sender: &str,
        recipient: &str,
    ) -> Result<Conversation, StoreError> {
        let miss = match self.conversations.get(sender, recipient) {
            Ok(kept) => return Ok(kept),
            Err(miss) => miss,
        };
        let rows = sqlx::query_as(statements::LOOK_UP)
            .bind(sender)
            .bind(recipient)
            .fetch_all(&self.readers)
            .await?;
        let conversation = statements::from_rows(sender, recipient, rows);
        self.conversations
            .keep(miss, sender, recipient, conversation);
        Ok(conversation)
    }

    async fn record_conversations(
        &self,
        pairs: Vec<(String, String)>,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let op = ConversationWrite::Record { pairs, at_ms };
        self.write(|reply| Request::Guarded(Guarded::Conversations { op, reply }))
            .await
            .map(drop)
    }

    /// In steps of `RETENTION_STEP` rows, each one writer request, like the retention.
    async fn forget_conversations(&self, before_ms: i64) -> Result<u64, StoreError> {
        let budget = clamp_i64(RETENTION_STEP);
        let mut total = 0;
        loop {
            let op = ConversationWrite::Forget { before_ms, budget };
            let deleted = self
                .write(|reply| Request::Guarded(Guarded::Conversations { op, reply }))
                .await?;
            total += deleted;
            if deleted < RETENTION_STEP {
                return Ok(total);
            }
        }
    }

    async fn accepted(&self, key: &MessageKey) -> Result<Option<Accepted>, StoreError> {
        let mut query = QueryBuilder::new("");
        stored_ids::push(&mut query, [(key.id.as_str(), key.ts_ms)]);
        let found: Option<(String, Option<i64>)> =
            query.build_query_as().fetch_optional(&self.readers).await?;
        found.map(|(_, seq)| first_acceptance(seq)).transpose()
    }

    async fn known_ids(&self, keys: &[MessageKey]) -> Result<HashSet<String>, StoreError> {
        let mut known = HashSet::new();
        for chunk in keys.chunks(stored_ids::IDS_PER_STATEMENT) {
            let mut query = QueryBuilder::new("");
            stored_ids::push(&mut query, chunk.iter().map(|k| (k.id.as_str(), k.ts_ms)));
            let found: Vec<(String, Option<i64>)> =
                query.build_query_as().fetch_all(&self.readers).await?;
            known.extend(found.into_iter().map(|(id, _)| id));
        }
        Ok(known)
    }

    async fn inbox(
        &self,
        handle: &str,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let rows: Vec<MessageRow> = sqlx::query_as(INBOX_PAGE)
            .bind(handle)
            .bind(clamp_i64(since))
            .bind(i64::from(limit))
            .bind(i64::try_from(max_bytes).unwrap_or(i64::MAX))
            .fetch_all(&self.readers)
            .await?;
        rows.into_iter().map(message_from_row).collect()
    }

    async fn latest_seq(&self, handle: &str) -> Result<u64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar(LATEST_SEQ)
            .bind(handle)
            .fetch_optional(&self.readers)
            .await?;
        last.map_or(Ok(0), seq_from_db)
    }

    fn local_commits(&self) -> Option<u64> {
        // The writer task is the file's only writer (writer.rs).
        Some(self.commits.get())
    }

    async fn ack(&self, handle: &str, through: u64) -> Result<u64, StoreError> {
        let handle = handle.to_owned();
        self.write(|reply| {
            Request::Guarded(Guarded::Ack {
                handle,
                through,
                reply,
            })
        })
        .await
    }

    /// Found on a read connection, deleted by the writer in small steps (retention.rs).
    async fn enforce_retention(
        &self,
        older_than_ms: i64,
        max_per_inbox: u64,
    ) -> Result<u64, StoreError> {
        self.sweep(older_than_ms, max_per_inbox).await
    }

    async fn users_page(&self, after: &str, limit: u32) -> Result<Vec<UserEntry>, StoreError> {
        let rows = sqlx::query_as(USERS_PAGE)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await?;
        Ok(rows.into_iter().map(user_entry).collect())
    }

    async fn user_entry(&self, handle: &str) -> Result<Option<UserEntry>, StoreError> {
        let row = sqlx::query_as(USER_ENTRY)
            .bind(handle)
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.map(user_entry))
    }

    async fn suspended_handles(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(SUSPENDED)
            .fetch_all(&self.readers)
            .await?)
    }

    async fn server_blocks(&self) -> Result<Vec<ServerBlock>, StoreError> {
        let rows = sqlx::query_as(SERVER_BLOCKS)
            .fetch_all(&self.readers)
            .await?;
        Ok(rows.into_iter().map(server_block).collect())
    }

    async fn destination_reports(&self) -> Result<Vec<DestinationReport>, StoreError> {
        let rows = sqlx::query_as(DESTINATIONS)
            .fetch_all(&self.readers)
            .await?;
        Ok(rows.into_iter().map(destination_report).collect())
    }

    async fn admin_write(&self, op: AdminWrite) -> Result<u64, StoreError> {
        self.write(|reply| Request::Guarded(Guarded::Admin { op, reply }))
            .await
    }

    async fn backup(&self, into: &Path) -> Result<(), StoreError> {
        admin::backup(&self.path, into).await
    }

    /// Waits for the writer to drain its queue and close the write connection (which
    /// checkpoints the WAL), then closes the read pool. Dropping the store without `close`
    /// is safe too — an answered write is already committed — but gives no such wait.
    async fn close(&self) {
        self.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().await);
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a sqlite store task ended abnormally");
            }
        }
        self.readers.close().await;
    }
}
