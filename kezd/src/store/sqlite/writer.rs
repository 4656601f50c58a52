//! The group-commit writer: the only task that writes to the SQLite file.
//!
//! Why one writer: SQLite allows one writing transaction at a time anyway, and with full
//! durability every commit costs an fsync of the log (about 4.5k commits/s on the reference
//! machine). The writer takes every request waiting in its queue (up to `max_batch`), runs
//! them in ONE transaction — accepts in groups (accepts.rs), every other write inside its own
//! `SAVEPOINT`, so one failing request (a taken handle) is rolled back alone — commits once,
//! and only then answers each caller: with full durability, once the log is flushed past the
//! commit (flusher.rs), while the next batch already runs. An answer therefore always means
//! "committed with the configured durability".
//!
//! Why seqs become visible in order: seqs are assigned here, by the only writer, from a
//! per-inbox counter that only moves forward, and all seqs of one transaction become visible
//! at its commit. Transactions commit in the order the writer runs them, so seq n of an inbox
//! is committed in the same transaction as seq n+1 or an earlier one. A WAL reader sees
//! exactly the transactions committed before its snapshot, hence a reader that sees seq n+1
//! also sees seq n (unless it was deleted by an acknowledgement or retention, which the API
//! allows). The counters are cached in memory — safe because nothing else writes — and
//! persisted in `inbox_counters` in the same transaction, so a seq is never reused even when
//! acknowledgements delete every message of an inbox, or after a restart.

mod accepts;
mod deferred;
mod flusher;
mod retention;
mod seen_ids;

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::{mpsc, oneshot, watch};

use super::checkpointer::LogRestart;
use super::commits::Commits;
use super::conversation_cache::{ConversationCache, Touched};
use super::conversations::ConversationWrite;
use super::federation::FederationWrite;
use super::tokens::TokenWrite;
use crate::store::rows::{clamp_i64, seq_from_db};
use crate::store::{
    Accepted, AccountDeletion, AdminWrite, Admission, DeleteOutcome, NewMessage, RegisterOutcome,
    StoreError, TokenSpend, UserRecord,
};
use deferred::Deferred;
pub(super) use flusher::Flusher;
pub(super) use retention::RetentionStep;
pub(super) use seen_ids::SeenIds;

/// A reply channel for one write.
type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write, with the channel its caller waits on.
#[derive(Debug)]
pub(super) enum Request {
    /// Accept a message into an inbox or the outbox: written together with the accepts next
    /// to it in the batch, without a savepoint (accepts.rs).
    Accept {
        message: NewMessage,
        admission: Admission,
        reply: Reply<Accepted>,
    },
    /// Any other write, run inside a savepoint of its own.
    Guarded(Guarded),
}

/// A write whose failure is undone alone, by rolling back to its own savepoint.
#[derive(Debug)]
pub(super) enum Guarded {
    /// Store a registration, spending a use of the token it offers.
    Register {
        user: UserRecord,
        token: Option<TokenSpend>,
        reply: Reply<RegisterOutcome>,
    },
    /// Delete an account (SPEC §4.7).
    Delete {
        deletion: AccountDeletion,
        reply: Reply<DeleteOutcome>,
    },
    /// Delete an inbox's messages through a seq.
    Ack {
        handle: String,
        through: u64,
        reply: Reply<u64>,
    },
    /// A federation write (attempt outcomes, a transaction's response).
    Federation {
        op: FederationWrite,
        reply: Reply<u64>,
    },
    /// A conversation write (SPEC §11).
    Conversations {
        op: ConversationWrite,
        reply: Reply<u64>,
    },
    /// A registration token write (SPEC §4.1 check 10).
    Tokens { op: TokenWrite, reply: Reply<u64> },
    /// An administration write (`kezd admin`).
    Admin { op: AdminWrite, reply: Reply<u64> },
    /// One bounded step of a retention sweep (retention.rs).
    Retention {
        step: RetentionStep,
        reply: Reply<u64>,
    },
}

/// A computed answer, held until the batch's commit decides whether it stands.
enum Answer {
    Register(Reply<RegisterOutcome>, Result<RegisterOutcome, StoreError>),
    Delete(Reply<DeleteOutcome>, Result<DeleteOutcome, StoreError>),
    Accept(Reply<Accepted>, Result<Accepted, StoreError>),
    Count(Reply<u64>, Result<u64, StoreError>),
}

impl Answer {
    fn is_ok(&self) -> bool {
        match self {
            Answer::Register(_, r) => r.is_ok(),
            Answer::Delete(_, r) => r.is_ok(),
            Answer::Accept(_, r) => r.is_ok(),
            Answer::Count(_, r) => r.is_ok(),
        }
    }

    /// Replaces the answer with the batch's failure: when the commit fails, even an answer
    /// that was an error (a taken handle) may rest on rows that were rolled back.
    fn fail(self, error: &Arc<sqlx::Error>) -> Self {
        fn e<T>(error: &Arc<sqlx::Error>) -> Result<T, StoreError> {
            Err(StoreError::BatchFailed(Arc::clone(error)))
        }
        match self {
            Answer::Register(tx, _) => Answer::Register(tx, e(error)),
            Answer::Delete(tx, _) => Answer::Delete(tx, e(error)),
            Answer::Accept(tx, _) => Answer::Accept(tx, e(error)),
            Answer::Count(tx, _) => Answer::Count(tx, e(error)),
        }
    }

    fn send(self) {
        // A caller that stopped waiting (its request was cancelled) is not an error: the
        // write stands either way and a retry is deduplicated.
        match self {
            Answer::Register(tx, r) => drop(tx.send(r)),
            Answer::Delete(tx, r) => drop(tx.send(r)),
            Answer::Accept(tx, r) => drop(tx.send(r)),
            Answer::Count(tx, r) => drop(tx.send(r)),
        }
    }
}

impl Request {
    fn caller_gone(&self) -> bool {
        match self {
            Request::Accept { reply, .. } => reply.is_closed(),
            Request::Guarded(write) => write.caller_gone(),
        }
    }

    /// An answer for a request that never ran, to be overwritten by the batch's failure.
    fn unanswered(self) -> Answer {
        match self {
            Request::Accept { reply, .. } => Answer::Accept(reply, Err(StoreError::Closed)),
            Request::Guarded(write) => write.unanswered(),
        }
    }
}

impl Guarded {
    fn caller_gone(&self) -> bool {
        match self {
            Guarded::Register { reply, .. } => reply.is_closed(),
            Guarded::Delete { reply, .. } => reply.is_closed(),
            Guarded::Ack { reply, .. }
            | Guarded::Federation { reply, .. }
            | Guarded::Conversations { reply, .. }
            | Guarded::Tokens { reply, .. }
            | Guarded::Admin { reply, .. }
            | Guarded::Retention { reply, .. } => reply.is_closed(),
        }
    }

    fn unanswered(self) -> Answer {
        match self {
            Guarded::Register { reply, .. } => Answer::Register(reply, Err(StoreError::Closed)),
            Guarded::Delete { reply, .. } => Answer::Delete(reply, Err(StoreError::Closed)),
            Guarded::Ack { reply, .. }
            | Guarded::Federation { reply, .. }
            | Guarded::Conversations { reply, .. }
            | Guarded::Tokens { reply, .. }
            | Guarded::Admin { reply, .. }
            | Guarded::Retention { reply, .. } => Answer::Count(reply, Err(StoreError::Closed)),
        }
    }
}

/// An inbox counter as seen by the running transaction.
#[derive(Debug, Clone, Copy)]
struct Counter {
    /// The highest seq assigned, including by requests earlier in this batch.
    last: u64,
    /// Whether this batch moved it, so `inbox_counters` must be written before commit.
    dirty: bool,
}

/// The writer task's state. Owned by the task; nothing else touches the write connection.
pub(super) struct Writer {
    /// The dedicated write connection (WAL, the configured `synchronous`).
    conn: SqliteConnection,
    /// Where write requests arrive.
    requests: mpsc::Receiver<Request>,
    /// Set by the checkpointer when the log should start over (checkpointer.rs).
    restart: LogRestart,
    /// Counts each committed transaction for the readers that poll (commits.rs).
    commits: Commits,
    /// Flips to true when the store is closing.
    shutdown: watch::Receiver<bool>,
    /// The most requests committed in one transaction.
    max_batch: usize,
    /// Writes of the open transaction not yet sent to SQLite (deferred.rs).
    deferred: Deferred,
    /// Committed `last_seq` per inbox, loaded from `inbox_counters` on first use. Holds only
    /// committed values: a batch's changes are merged in after its commit succeeds.
    counters: HashMap<String, u64>,
    /// Answers committed batches once the log is flushed (flusher.rs); none when commits are
    /// answered as they return (crash-only durability).
    flusher: Option<Flusher>,
    /// The readers' conversations, told what each batch's conversation writes touched once
    /// its transaction has ended (conversation_cache.rs).
    conversations: Arc<ConversationCache>,
    /// What the running batch's conversation writes touch.
    touched: Vec<Touched>,
    /// Which ids may be stored, so that only those are looked up (seen_ids.rs).
    seen: SeenIds,
}

/// What the writer shares with the readers.
pub(super) struct ForReaders {
    /// The count of committed transactions (commits.rs).
    pub(super) commits: Commits,
    /// The conversations as last read (conversation_cache.rs).
    pub(super) conversations: Arc<ConversationCache>,
    /// The ids stored, as loaded on a read connection (seen_ids.rs).
    pub(super) seen: SeenIds,
}

/// Runs one statement that returns no rows.
async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(drop)
}

impl Writer {
    pub(super) fn new(
        conn: SqliteConnection,
        requests: mpsc::Receiver<Request>,
        restart: LogRestart,
        readers: ForReaders,
        shutdown: watch::Receiver<bool>,
        max_batch: usize,
        flusher: Option<Flusher>,
    ) -> Self {
        let ForReaders {
            commits,
            conversations,
            seen,
        } = readers;
        Self {
            conn,
            requests,
            restart,
            commits,
            shutdown,
            max_batch,
            deferred: Deferred::default(),
            counters: HashMap::new(),
            flusher,
            conversations,
            touched: Vec::new(),
            seen,
        }
    }

    /// Serves batches until the store is closed or dropped, then drains what is queued and
    /// closes the connection (which checkpoints the WAL).
    pub(super) async fn run(mut self) {
        let mut closing = false;
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            tokio::select! {
                received = self.requests.recv_many(&mut batch, self.max_batch) => {
                    if received == 0 {
                        break; // Closed and drained.
                    }
                }
                // Err means the store was dropped: close as well. Either way, refuse new
                // requests but keep serving the queued ones, whose callers are waiting.
                _ = self.shutdown.changed(), if !closing => {
                    closing = true;
                    self.requests.close();
                    continue;
                }
            }
            self.commit_batch(std::mem::take(&mut batch)).await;
            self.seen.batch_ended();
            if self.restart.take() {
                self.finish_checkpoint().await;
            }
        }
        if let Some(flusher) = self.flusher.take() {
            flusher.close().await;
        }
        if let Err(error) = self.conn.close().await {
            tracing::warn!(%error, "closing the sqlite write connection failed");
        }
    }

    /// Copies into the database file what was committed since the checkpointer's last pass
    /// (a few transactions' pages), between two transactions: the next one then writes the
    /// log from its start (checkpointer.rs). A checkpoint that cannot finish (another one
    /// running, a reader on an older snapshot) is asked for again by the checkpointer's next
    /// pass while the log stays long.
    async fn finish_checkpoint(&mut self) {
        if let Err(error) = exec(&mut self.conn, "PRAGMA wal_checkpoint(PASSIVE)").await {
            tracing::debug!(%error, "checkpoint by the writer did not run");
        }
    }

    /// Runs `requests` in one transaction and answers each caller after the commit.
    async fn commit_batch(&mut self, requests: Vec<Request>) {
        let size = requests.len();
        let mut answers = Vec::with_capacity(size);
        let mut counters = HashMap::new();
        let mut pending = requests.into_iter().peekable();

        let outcome = async {
            self.deferred.push(|q| {
                q.push("BEGIN IMMEDIATE");
            });
            while let Some(request) = pending.next() {
                if request.caller_gone() {
                    continue; // Cancelled before it ran: never acknowledged, so skip it.
                }
                match request {
                    // Consecutive accepts are written together; other requests keep their
                    // place between them.
                    Request::Accept {
                        message,
                        admission,
                        reply,
                    } => {
                        let mut group = vec![(message, admission, reply)];
                        while let Some(next) =
                            pending.next_if(|r| matches!(r, Request::Accept { .. }))
                        {
                            if let Request::Accept {
                                message,
                                admission,
                                reply,
                            } = next
                                && !reply.is_closed()
                            {
                                group.push((message, admission, reply));
                            }
                        }
                        self.accept_group(group, &mut counters, &mut answers)
                            .await?;
                    }
                    Request::Guarded(write) => {
                        self.apply(write, &mut counters, &mut answers).await?
                    }
                }
            }
            self.flush_counters(&mut counters);
            self.deferred.push(|q| {
                q.push("COMMIT");
            });
            self.flush().await
        }
        .await;

        // Committed, or about to be rolled back (which readers never saw): either way what
        // readers can see is final, and it must be before any answer, since a caller told
        // its conversation was recorded may look it up next.
        for touched in self.touched.drain(..) {
            self.conversations.written(touched);
        }
        match outcome {
            Ok(()) => {
                self.commits.count();
                for (recipient, counter) in counters {
                    self.counters.insert(recipient, counter.last);
                }
                tracing::trace!(size, "group commit");
                match &self.flusher {
                    Some(flusher) => flusher.answer_when_flushed(answers),
                    None => answers.into_iter().for_each(Answer::send),
                }
            }
            Err(error) => {
                tracing::error!(%error, size, "group commit failed; the batch is rolled back");
                // Whatever was not sent is part of what is rolled back.
                drop(self.deferred.take());
                // The transaction may already be gone (SQLite rolls back by itself on some
                // I/O errors); a failing ROLLBACK then changes nothing.
                if let Err(rollback) = exec(&mut self.conn, "ROLLBACK").await {
                    tracing::debug!(%rollback, "rollback after a failed batch");
                }
                let error = Arc::new(error);
                for answer in answers {
                    answer.fail(&error).send();
                }
                for request in pending {
                    request.unanswered().fail(&error).send();
                }
            }
        }
    }

    /// Writes the counters this batch moved to `inbox_counters`: once per inbox per batch
    /// rather than once per message, in the same transaction as the messages (deferred:
    /// sent with the next statement or the commit).
    ///
    /// One statement for all of them, so that a batch's query text depends on how many
    /// inboxes it touched, not on which: the writer's prepared statements are found by text.
    fn flush_counters(&mut self, counters: &mut HashMap<String, Counter>) {
        let dirty: Vec<(&str, i64)> = counters
            .iter_mut()
            .filter(|(_, c)| c.dirty)
            .map(|(recipient, counter)| {
                counter.dirty = false;
                (recipient.as_str(), clamp_i64(counter.last))
            })
            .collect();
        if dirty.is_empty() || crate::faults::on("seq_counter_not_persisted") {
            return;
        }
        self.deferred.push(|q| {
            q.push("INSERT INTO inbox_counters (recipient, last_seq) ");
            q.push_values(dirty, |mut row, (recipient, last)| {
                row.push_bind(recipient).push_bind(last);
            });
            q.push(" ON CONFLICT (recipient) DO UPDATE SET last_seq = excluded.last_seq");
        });
    }

    /// Sends the deferred writes, if any, before a statement that does not go with them.
    async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        self.deferred
            .take()
            .build()
            .execute(&mut self.conn)
            .await
            .map(drop)
    }

    /// Runs one request inside its own savepoint and records its answer. An `Err` is a failure
    /// of the transaction itself (the savepoint could not be taken or undone): the whole
    /// batch must be abandoned. The answer is recorded first, so the caller is answered anyway.
    async fn apply(
        &mut self,
        request: Guarded,
        counters: &mut HashMap<String, Counter>,
        answers: &mut Vec<Answer>,
    ) -> Result<(), sqlx::Error> {
        if matches!(request, Guarded::Delete { .. }) {
            // A deletion removes the counter row, which must not be written back after it.
            self.flush_counters(counters);
        }
        // What the request does runs after what the batch deferred, and on its own.
        let flushed = self.flush().await;
        if let Err(error) = match flushed {
            Ok(()) => exec(&mut self.conn, "SAVEPOINT request").await,
            Err(error) => Err(error),
        } {
            answers.push(request.unanswered());
            return Err(error);
        }
        let answer = match request {
            Guarded::Register { user, token, reply } => {
                Answer::Register(reply, self.register(user, token).await)
            }
            Guarded::Delete { deletion, reply } => {
                // An accept after it, in this batch or a later one, finds no counter and no
                // user: unknown recipient.
                counters.remove(&deletion.handle);
                self.counters.remove(&deletion.handle);
                Answer::Delete(
                    reply,
                    super::deletion::apply(&mut self.conn, deletion).await,
                )
            }
            Guarded::Ack {
                handle,
                through,
                reply,
            } => Answer::Count(reply, self.ack(&handle, through).await),
            Guarded::Federation { op, reply } => {
                Answer::Count(reply, super::federation::apply(&mut self.conn, op).await)
            }
            Guarded::Conversations { op, reply } => {
                self.touched.push(op.touched());
                Answer::Count(reply, super::conversations::apply(&mut self.conn, op).await)
            }
            Guarded::Tokens { op, reply } => {
                Answer::Count(reply, super::tokens::apply(&mut self.conn, op).await)
            }
            Guarded::Admin { op, reply } => {
                Answer::Count(reply, super::admin::apply(&mut self.conn, op).await)
            }
            Guarded::Retention { step, reply } => Answer::Count(reply, self.retention(step).await),
        };
        let ok = answer.is_ok();
        answers.push(answer);
        if !ok {
            // Undo whatever the failed request wrote; the rest of the batch goes on.
            exec(&mut self.conn, "ROLLBACK TO request").await?;
        }
        exec(&mut self.conn, "RELEASE request").await
    }

    /// Stores a registration unless it offers a token that cannot be spent or its handle or
    /// primary is taken (SPEC §4.1 checks 10–12), then spends the token. Checked explicitly
    /// rather than by catching UNIQUE violations, so the error names the right conflict; the
    /// UNIQUE constraints stay as the backstop. The only writer runs this, so no other
    /// registration can spend the token between the check and the spending.
    async fn register(
        &mut self,
        user: UserRecord,
        token: Option<TokenSpend>,
    ) -> Result<RegisterOutcome, StoreError> {
        let by_handle: Option<(String, String, i64, String)> = sqlx::query_as(
            "SELECT handle, primary_key, registered_at, registration FROM users WHERE handle = ?1",
        )
        .bind(&user.handle)
        .fetch_optional(&mut self.conn)
        .await?;
        let stored = by_handle.map(super::user_from_row);
        if let Some(stored) = &stored
            && stored.registration_json == user.registration_json
        {
            return Ok(RegisterOutcome::Existing(stored.clone()));
        }
        if let Some(token) = &token {
            super::tokens::judge(&mut self.conn, token).await?;
        }
        if stored.is_some() {
            return Err(StoreError::HandleTaken {
                handle: user.handle,
            });
        }
        super::deletion::check_registration(
            &mut self.conn,
            &user.handle,
            &user.primary,
            user.registered_at_ms,
        )
        .await?;
        let primary_taken: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE primary_key = ?1)")
                .bind(&user.primary)
                .fetch_one(&mut self.conn)
                .await?;
        if primary_taken {
            return Err(StoreError::PrimaryTaken {
                primary: user.primary,
            });
        }
        sqlx::query(
            "INSERT INTO users (handle, primary_key, registered_at, registration) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&user.handle)
        .bind(&user.primary)
        .bind(user.registered_at_ms)
        .bind(&user.registration_json)
        .execute(&mut self.conn)
        .await?;
        if let Some(token) = &token {
            super::tokens::spend(&mut self.conn, token).await?;
        }
        Ok(RegisterOutcome::Created(user))
    }

    /// The inbox counter as this transaction sees it, loaded on first use. An inbox without a
    /// counter row must belong to a registered user; this is also where an unknown recipient
    /// is reported (the foreign key on `messages` is the backstop).
    async fn counter(
        &mut self,
        handle: &str,
        counters: &mut HashMap<String, Counter>,
    ) -> Result<Counter, StoreError> {
        if let Some(counter) = counters.get(handle) {
            return Ok(*counter);
        }
        if crate::faults::on("seq_reused_after_ack") {
            self.flush().await?;
            let highest: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE recipient = ?1",
            )
            .bind(handle)
            .fetch_one(&mut self.conn)
            .await?;
            let counter = Counter {
                last: seq_from_db(highest)?,
                dirty: true,
            };
            counters.insert(handle.to_owned(), counter);
            return Ok(counter);
        }
        let last = match self.counters.get(handle) {
            Some(last) => *last,
            None => {
                // Read inside the transaction, after what it deferred.
                self.flush().await?;
                let stored: Option<i64> =
                    sqlx::query_scalar("SELECT last_seq FROM inbox_counters WHERE recipient = ?1")
                        .bind(handle)
                        .fetch_optional(&mut self.conn)
                        .await?;
                match stored {
                    Some(last) => seq_from_db(last)?,
                    None => {
                        let known: bool = sqlx::query_scalar(
                            "SELECT EXISTS (SELECT 1 FROM users WHERE handle = ?1)",
                        )
                        .bind(handle)
                        .fetch_one(&mut self.conn)
                        .await?;
                        if !known {
                            return Err(StoreError::UnknownRecipient {
                                handle: handle.to_owned(),
                            });
                        }
                        0
                    }
                }
            }
        };
        let counter = Counter { last, dirty: false };
        counters.insert(handle.to_owned(), counter);
        Ok(counter)
    }

    /// Deletes an inbox's messages with seq ≤ `through`. The counter is untouched, so the
    /// next accept continues after the highest seq ever assigned.
    async fn ack(&mut self, handle: &str, through: u64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM messages WHERE recipient = ?1 AND seq <= ?2")
            .bind(handle)
            .bind(clamp_i64(through))
            .execute(&mut self.conn)
            .await?;
        if crate::faults::on("ack_forgets_message_ids") {
            sqlx::query("DELETE FROM message_ids WHERE recipient = ?1 AND seq <= ?2")
                .bind(handle)
                .bind(clamp_i64(through))
                .execute(&mut self.conn)
                .await?;
        }
        Ok(done.rows_affected())
    }
}
