//! Durable storage behind one trait, so handlers know nothing of SQL and the SQLite (embedded)
//! and PostgreSQL (cluster) backends are interchangeable.
//!
//! Invariants every backend keeps (SPEC §8.2, §8.6):
//! - `accept` returns only after the message is committed with the configured durability
//!   (fsynced unless the operator chose crash-only), and routes the message to a local inbox
//!   or to the outbox in that same transaction.
//! - Inbox sequence numbers are per recipient, start at 1, strictly increase, are never reused
//!   (not even after acknowledgement deletes every row) and become visible in order: once a
//!   reader sees seq n, every seq below n that was ever assigned is already visible.
//! - A message id is stored once; accepting it again reports the first acceptance.

mod admin;
mod admission;
mod ask;
mod conversations;
mod deletion;
mod error;
mod postgres;
mod rows;
mod sqlite;
mod statements;
mod tokens;

pub use crate::durability::Durability;
pub use admin::{AdminWrite, AuditEntry, DestinationReport, ServerBlock, Suspension, UserEntry};
pub use admission::{Admission, Refusal};
pub use conversations::Conversation;
pub use deletion::{AccountDeletion, DeleteOutcome, SENDER_DELETED, Tombstone};
pub use error::StoreError;
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use tokens::{NewToken, TokenRecord, TokenRefusal, TokenSpend};

use std::collections::HashSet;
use std::path::Path;

use async_trait::async_trait;

/// A user as stored: the validated fields of a registration plus the signed object itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The local handle (SPEC §2.1), already validated.
    pub handle: String,
    /// `ed25519:<hex>` (SPEC §2.3), already validated.
    pub primary: String,
    /// When this server stored the registration, Unix milliseconds.
    pub registered_at_ms: i64,
    /// The signed registration's canonical JSON text, kept so anyone can re-verify it.
    pub registration_json: String,
}

/// The outcome of storing a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// A new user was stored.
    Created(UserRecord),
    /// This exact registration (same canonical text) was already stored: an idempotent retry.
    Existing(UserRecord),
}

/// Where an accepted message goes: decided by the handler from the envelope's `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A recipient on this server: the message gets the next seq of this handle's inbox.
    Local {
        /// The recipient's handle.
        handle: String,
    },
    /// A recipient elsewhere: the message is queued in the outbox for that server.
    Remote {
        /// The destination server name (SPEC §2.2).
        server: String,
        /// The full recipient address.
        address: String,
    },
}

impl Route {
    /// The recipient's handle for a local route; `None` for the outbox.
    pub fn local_handle(&self) -> Option<&str> {
        match self {
            Route::Local { handle } => Some(handle),
            Route::Remote { .. } => None,
        }
    }
}

/// A verified message ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Hex SHA-256 of the signed envelope's JCS bytes (SPEC §6.4): the dedupe key.
    pub id: String,
    /// The sender's address, kept for delivery status and per-sender ordering.
    pub sender: String,
    /// Where the message goes.
    pub route: Route,
    /// The signed envelope's canonical JSON text.
    pub envelope_json: String,
    /// The envelope's `ts`, Unix milliseconds: with the id, it finds the id again on SQLite
    /// (see [`MessageKey`]).
    pub ts_ms: i64,
    /// When this server accepted it, Unix milliseconds.
    pub received_at_ms: i64,
}

/// A message id with its envelope's `ts`, both known wherever an envelope is (SPEC §8.1
/// check 4, §9.4 check 2, before the duplicate check). SQLite orders its id memory by the
/// day of `ts` (store/sqlite/stored_ids.rs), so a look-up needs both; PostgreSQL uses the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageKey {
    /// Hex SHA-256 of the signed envelope's JCS bytes (SPEC §6.4).
    pub id: String,
    /// The envelope's `ts`, Unix milliseconds.
    pub ts_ms: i64,
}

impl MessageKey {
    /// The key of a parsed envelope.
    pub fn of(envelope: &kez_spec::envelope::SignedEnvelope) -> MessageKey {
        MessageKey {
            id: envelope.id.to_string(),
            // A ts is a JSON safe integer (SPEC §3.3), far below i64::MAX.
            ts_ms: i64::try_from(envelope.envelope.ts_ms).unwrap_or(i64::MAX),
        }
    }
}

/// What `accept` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The recipient's inbox seq for a local route; `None` for a remote one.
    pub seq: Option<u64>,
    /// True when this id had already been accepted; `seq` is then the first acceptance's.
    pub duplicate: bool,
}

/// One message in an inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The recipient's inbox sequence number.
    pub seq: u64,
    /// The message id (SPEC §6.4).
    pub id: String,
    /// When this server accepted it, Unix milliseconds.
    pub received_at_ms: i64,
    /// The signed envelope's canonical JSON text.
    pub envelope_json: String,
}

/// One message waiting in the outbox (SPEC §9.5–§9.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Its place in the outbox: positions increase in acceptance order.
    pub position: i64,
    /// The message id.
    pub id: String,
    /// The sender's address: ordering is per sender.
    pub sender: String,
    /// The signed envelope's canonical JSON text.
    pub envelope_json: String,
    /// When this server accepted it, Unix milliseconds: the retry window counts from here.
    pub accepted_at_ms: i64,
    /// Transactions that carried it so far.
    pub attempts: u32,
    /// When it may be sent again, Unix milliseconds.
    pub next_attempt_at_ms: i64,
}

/// What became of one outbox message after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The destination holds it (`accepted` or `duplicate`).
    Delivered,
    /// Permanently refused, or the retry window passed: the SPEC §10 code.
    Failed {
        /// Why.
        code: String,
    },
    /// Try again at `at_ms`.
    Retry {
        /// Next attempt, Unix milliseconds.
        at_ms: i64,
        /// The last error code.
        error: String,
    },
}

/// What waits in the outbox: the operator's view of outbound federation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Messages waiting to be delivered to another server.
    pub pending: u64,
    /// The destinations they wait for.
    pub destinations: u64,
    /// Destinations backing off after failed attempts (SPEC §9.6).
    pub failing: u64,
}

/// A message's delivery status (SPEC §9.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageStatus {
    /// Who sent it: only they may ask (SPEC §7.6).
    pub sender: String,
    /// `stored`, `queued`, `delivered` or `failed`.
    pub status: &'static str,
    /// Transactions that carried it (0 for a local recipient).
    pub attempts: u32,
    /// The next attempt, Unix milliseconds, while queued.
    pub next_attempt_at_ms: Option<i64>,
    /// The last error code.
    pub error: Option<String>,
}

/// The storage operations kezd needs. Every method is safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a registration; the handle and the primary are each unique, and neither may be
    /// held by a tombstone (SPEC §4.1, §4.7).
    async fn register(&self, user: UserRecord) -> Result<RegisterOutcome, StoreError> {
        self.register_with_token(user, None).await
    }
    /// Stores a registration, spending one use of `token` in the same transaction (SPEC §4.1
    /// checks 10–12 in that order, a tombstone of §4.7 judged with the handle and the primary,
    /// all after an identical stored registration, which is answered as
    /// [`RegisterOutcome::Existing`] and spends nothing): a token that cannot be spent is
    /// [`StoreError::TokenRefused`], and a registration refused for any reason spends
    /// nothing. Two registrations offering a token with one use left store one user.
    async fn register_with_token(
        &self,
        user: UserRecord,
        token: Option<TokenSpend>,
    ) -> Result<RegisterOutcome, StoreError>;
    /// Stores a new registration token (its id and hash are unique).
    async fn create_token(&self, token: NewToken) -> Result<(), StoreError>;
    /// Every registration token, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes the token with public id `id`; whether there was one.
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError>;
    /// Looks a user up by handle (SPEC §4.2).
    async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Looks a user up by primary (`ed25519:<hex>`, SPEC §4.3).
    async fn user_by_primary(&self, primary: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Deletes an account (SPEC §4.7): the user, the inbox, the pending outbound messages
    /// (failed with [`SENDER_DELETED`]), leaving a tombstone; in one durable transaction.
    /// A deletion of an account this primary already deleted is answered as the retry it is.
    async fn delete_account(&self, deletion: AccountDeletion) -> Result<DeleteOutcome, StoreError>;
    /// The newest tombstone holding `handle` at `now_ms` (SPEC §4.7).
    async fn deleted_handle(
        &self,
        handle: &str,
        now_ms: i64,
    ) -> Result<Option<Tombstone>, StoreError>;
    /// The tombstone of `primary`, which holds it for good (SPEC §4.7).
    async fn deleted_primary(&self, primary: &str) -> Result<Option<Tombstone>, StoreError>;
    /// Durably accepts a message (SPEC §8.1, §8.6; see the module invariants).
    async fn accept(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        self.accept_admitted(message, Admission::always()).await
    }
    /// Durably accepts a message if it is a duplicate (answered as one, `admission` never
    /// run) or if `admission` admits it; otherwise stores nothing and returns
    /// [`StoreError::Refused`] (SPEC §8.1 check 11, §11).
    async fn accept_admitted(
        &self,
        message: NewMessage,
        admission: Admission,
    ) -> Result<Accepted, StoreError>;
    /// The first acceptance of message `key`, if this server remembers it (SPEC §8.7): what a
    /// resend is answered with, even after the message was acknowledged.
    async fn accepted(&self, key: &MessageKey) -> Result<Option<Accepted>, StoreError>;
    /// Which of `keys` this server remembers accepting, by id: a received transaction's
    /// duplicates (SPEC §9.4) found with one look-up instead of one per envelope.
    async fn known_ids(&self, keys: &[MessageKey]) -> Result<HashSet<String>, StoreError>;
    /// Messages of `handle`'s inbox with seq > `since`, ascending: at most `limit`, and only as
    /// many as fit in `max_bytes` of envelope text — but always the first one, however large,
    /// so a reader paging on always advances. Envelopes past the byte bound are not read from
    /// the database at all (SPEC §8.2 allows the short page), so a page of large envelopes
    /// costs its bound in memory, not `limit` envelopes.
    async fn inbox(
        &self,
        handle: &str,
        since: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;
    /// The highest seq ever assigned in `handle`'s inbox (0 if none), acknowledged or not:
    /// where a live stream without a cursor starts (SPEC §8.5).
    async fn latest_seq(&self, handle: &str) -> Result<u64, StoreError>;
    /// A count that moves with every write this process commits, when this process is the
    /// store's only writer (SQLite); `None` when other processes write to it too
    /// (PostgreSQL, shared by a cluster). A reader that took the count before reading the
    /// store and finds it unchanged later knows that nothing was written in between: a live
    /// stream's keep-alive check then skips its read.
    fn local_commits(&self) -> Option<u64> {
        None
    }
    /// Deletes `handle`'s messages with seq ≤ `through`; returns how many were deleted
    /// (SPEC §8.3).
    async fn ack(&self, handle: &str, through: u64) -> Result<u64, StoreError>;
    /// Destinations with outbox messages due at `now_ms` and not backing off. A store shared by
    /// several kezd instances lists each destination to one instance at a time (a claim that
    /// expires if that instance stops delivering), so two never deliver it at once (SPEC §9.5,
    /// §9.6).
    async fn outbox_destinations(&self, now_ms: i64) -> Result<Vec<String>, StoreError>;
    /// The oldest `limit` pending messages for `destination` placed after position `after`
    /// (0 for the first), in acceptance order, due or not (a sender's due message must wait
    /// behind its earlier one that is not due, SPEC §9.5).
    async fn outbox_pending(
        &self,
        destination: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError>;
    /// Records the outcome of an attempt for each message (counting the attempt) and the
    /// destination's backoff state: `(failures, retry_at_ms)` after a failed attempt, `None`
    /// after a success, which clears it (SPEC §9.6, §9.7).
    async fn outbox_record(
        &self,
        destination: &str,
        outcomes: Vec<(String, Delivery)>,
        backoff: Option<(u32, i64)>,
    ) -> Result<(), StoreError>;
    /// The destination's consecutive failures so far (0 when it is healthy; SPEC §9.6).
    async fn destination_failures(&self, destination: &str) -> Result<u32, StoreError>;
    /// What waits in the outbox, over every destination (the metrics of SPEC §4.6).
    async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError>;
    /// Ends `destination`'s backoff now, if it still waits for `retry_at_ms`, with the
    /// messages that backoff put off; whether it did (SPEC §9.6).
    async fn outbox_wake(
        &self,
        destination: &str,
        retry_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// The delivery status of a message this server accepted from one of its users (SPEC §9.7).
    async fn message_status(&self, id: &str) -> Result<Option<MessageStatus>, StoreError>;
    /// The stored response to transaction `txn_id` from `origin` (SPEC §9.4 idempotency).
    async fn txn_response(&self, origin: &str, txn_id: &str) -> Result<Option<String>, StoreError>;
    /// Stores the response to a transaction; the first stored response wins (SPEC §9.4).
    async fn save_txn_response(
        &self,
        origin: &str,
        txn_id: &str,
        response: String,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Applies the retention policy (SPEC §8.4): deletes messages received before
    /// `older_than_ms` and, per inbox, all but the newest `max_per_inbox`. Returns the count.
    async fn enforce_retention(
        &self,
        older_than_ms: i64,
        max_per_inbox: u64,
    ) -> Result<u64, StoreError>;
    /// Forgets what federation keeps only for a while (SPEC §9.4, §9.7): outbox rows that
    /// finished (delivered or failed) before `before_ms`, with their ids, and the responses to
    /// transactions received before it. Pending rows stay however old. Returns the rows
    /// deleted.
    async fn forget_federation(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// What this server remembers of the two directions between `sender` and `recipient`
    /// (SPEC §11).
    async fn conversation(&self, sender: &str, recipient: &str)
    -> Result<Conversation, StoreError>;
    /// Records that a message from each `(sender, recipient)` was accepted at `at_ms`; a
    /// record never moves back in time (SPEC §11).
    async fn record_conversations(
        &self,
        pairs: Vec<(String, String)>,
        at_ms: i64,
    ) -> Result<(), StoreError>;
    /// Forgets the conversations last recorded before `before_ms`; returns how many (SPEC §11).
    async fn forget_conversations(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Users after handle `after` ("" for the first page), in handle order, at most `limit`,
    /// each with their suspension (`kezd admin users list`).
    async fn users_page(&self, after: &str, limit: u32) -> Result<Vec<UserEntry>, StoreError>;
    /// The user registered as `handle`, with their suspension (`kezd admin users show`).
    async fn user_entry(&self, handle: &str) -> Result<Option<UserEntry>, StoreError>;
    /// Every suspended handle: what each instance refuses (SPEC §10 `account_suspended`).
    async fn suspended_handles(&self) -> Result<Vec<String>, StoreError>;
    /// Every server blocked by an admin command (SPEC §9.9); the configuration's blocks are
    /// not stored.
    async fn server_blocks(&self) -> Result<Vec<ServerBlock>, StoreError>;
    /// Each destination with pending messages or a backoff (SPEC §9.6), for the operator.
    async fn destination_reports(&self) -> Result<Vec<DestinationReport>, StoreError>;
    /// Runs one administration write in a transaction of its own; the rows it changed.
    async fn admin_write(&self, write: AdminWrite) -> Result<u64, StoreError>;
    /// Writes a consistent copy of the whole database to the new file `into` (mode 0600),
    /// while the store keeps serving. A store that cannot (PostgreSQL: its own tools do it)
    /// returns [`StoreError::Unsupported`].
    async fn backup(&self, into: &Path) -> Result<(), StoreError>;
    /// Graceful shutdown: writes already queued are committed and answered, later calls fail
    /// with [`StoreError::Closed`], and the database is released. Calling it again does nothing.
    /// Acknowledged writes stay durable through it (SPEC §8.6).
    /// The default does nothing, for stores with nothing to release (test doubles).
    async fn close(&self) {}
}
