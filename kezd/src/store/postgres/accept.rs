//! Accepting a message into PostgreSQL: one transaction per message that claims its id, takes
//! the next seq of the recipient's inbox (or queues it in the outbox) and commits.
//!
//! # Why seqs never become visible out of order (SPEC §8.2)
//!
//! Many connections accept into one inbox at once, so "assign seq, then commit" is not atomic
//! by itself: a transaction holding seq n could commit after the one holding seq n+1, and a
//! reader between the two commits would see n+1 without n. It cannot happen here because the
//! seq is taken with
//!
//! ```sql
//! INSERT INTO inbox_counters (recipient, last_seq) VALUES ($1, 1)
//! ON CONFLICT (recipient) DO UPDATE SET last_seq = inbox_counters.last_seq + 1
//! RETURNING last_seq
//! ```
//!
//! which leaves the counter row locked (FOR UPDATE strength) until the transaction ends. A
//! second accept to the same inbox blocks on that row lock and re-reads the counter only after
//! the first transaction has ended; PostgreSQL releases a transaction's row locks after its
//! commit is visible to new snapshots. So for one inbox:
//!
//! 1. T(n+1) obtains seq n+1 only after T(n) ended. If T(n) rolled back, its increment is undone
//!    too and the next accept gets n again: no gap, no reuse.
//! 2. Hence T(n) is visible before T(n+1) even has its seq, let alone commits.
//! 3. An inbox page is one statement, so one snapshot: if it contains seq n+1 it was taken
//!    after T(n+1) committed, hence after T(n) became visible, so it contains seq n as well
//!    (unless an acknowledgement or retention deleted it, which the API allows).
//!
//! The lock serialises accepts of one inbox only: different inboxes, and remote routes, never
//! wait for each other. A transaction holds at most one counter lock, so accepts cannot
//! deadlock among themselves.
//!
//! # Why the id is claimed after the seq is taken
//!
//! `message_ids` needs the seq in the same row, so the counter moves first; a duplicate then
//! rolls the whole transaction back, which also undoes the increment. Two accepts of the same
//! id queue on the counter lock (same recipient) or on the id's unique index (the `ON
//! CONFLICT DO NOTHING` waits for the other claim to commit or abort), and the loser reads
//! the committed first acceptance.

use sqlx::postgres::{PgPool, Postgres};
use sqlx::{Error, Transaction};

use crate::store::rows::seq_from_db;
use crate::store::{Accepted, Admission, NewMessage, Refusal, Route, StoreError};

/// What the transaction found.
enum Claim {
    /// The id was new and is written: commit.
    New(Accepted),
    /// The id was already accepted: roll back (undoing the counter increment) and report.
    Duplicate(Accepted),
    /// The id was new but its admission check refused it: roll back, store nothing.
    Refused(Refusal),
}

/// Durably accepts `message` (see the module doc and the `Store` invariants).
pub(super) async fn accept(
    pool: &PgPool,
    message: NewMessage,
    admission: Admission,
) -> Result<Accepted, StoreError> {
    let mut tx = pool.begin().await?;
    let claim = match &message.route {
        Route::Local { handle } => local(&mut tx, &message, handle, admission).await,
        Route::Remote { server, address } => {
            remote(&mut tx, &message, server, address, admission).await
        }
    };
    // Any error leaves the transaction to be rolled back when `tx` is dropped: nothing of a
    // failed accept is stored, not even its id.
    match claim? {
        Claim::New(accepted) => {
            tx.commit().await?;
            Ok(accepted)
        }
        // The first acceptance is committed data, and a refusal wrote nothing that commits; a
        // failing rollback (a broken connection, which PostgreSQL aborts anyway) does not
        // change the answer.
        Claim::Duplicate(accepted) => {
            roll_back(tx).await;
            Ok(accepted)
        }
        Claim::Refused(exceeded) => {
            roll_back(tx).await;
            Err(StoreError::Refused(exceeded))
        }
    }
}

async fn roll_back(tx: Transaction<'static, Postgres>) {
    if let Err(error) = tx.rollback().await {
        tracing::debug!(%error, "rollback of an accept that stores nothing");
    }
}

/// A local route: next seq under the counter's row lock, then the id, then the message.
async fn local(
    tx: &mut Transaction<'static, Postgres>,
    message: &NewMessage,
    handle: &str,
    admission: Admission,
) -> Result<Claim, StoreError> {
    let seq: i64 = match sqlx::query_scalar(
        "INSERT INTO inbox_counters (recipient, last_seq) VALUES ($1, 1) \
         ON CONFLICT (recipient) DO UPDATE SET last_seq = inbox_counters.last_seq + 1 \
         RETURNING last_seq",
    )
    .bind(handle)
    .fetch_one(&mut **tx)
    .await
    {
        Ok(seq) => seq,
        // The first message of an inbox inserts the counter row, whose foreign key on users
        // is the check that the recipient exists.
        Err(Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(StoreError::UnknownRecipient {
                handle: handle.to_owned(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(first) = claim_id(tx, message, Some(handle), Some(seq)).await? {
        return Ok(Claim::Duplicate(first));
    }
    if let Err(exceeded) = admission.check() {
        return Ok(Claim::Refused(exceeded));
    }
    sqlx::query(
        "INSERT INTO messages (recipient, seq, id, sender, received_at, envelope) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(handle)
    .bind(seq)
    .bind(&message.id)
    .bind(&message.sender)
    .bind(message.received_at_ms)
    .bind(&message.envelope_json)
    .execute(&mut **tx)
    .await?;
    Ok(Claim::New(Accepted {
        seq: Some(seq_from_db(seq)?),
        duplicate: false,
    }))
}

/// A remote route: the id, then the outbox row, due at once.
async fn remote(
    tx: &mut Transaction<'static, Postgres>,
    message: &NewMessage,
    server: &str,
    address: &str,
    admission: Admission,
) -> Result<Claim, StoreError> {
    if let Some(first) = claim_id(tx, message, None, None).await? {
        return Ok(Claim::Duplicate(first));
    }
    if let Err(exceeded) = admission.check() {
        return Ok(Claim::Refused(exceeded));
    }
    super::outbox_order::lock_destinations(tx, [server]).await?;
    sqlx::query(
        "INSERT INTO outbox (id, destination, recipient, sender, envelope, accepted_at, \
         next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&message.id)
    .bind(server)
    .bind(address)
    .bind(&message.sender)
    .bind(&message.envelope_json)
    .bind(message.received_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(Claim::New(Accepted {
        seq: None,
        duplicate: false,
    }))
}

/// Claims the message id; `Some(first acceptance)` when it was already taken. In READ
/// COMMITTED the read after a lost claim is a new snapshot, which holds the winner's row:
/// `ON CONFLICT DO NOTHING` only reports the conflict once that claim has committed.
async fn claim_id(
    tx: &mut Transaction<'static, Postgres>,
    message: &NewMessage,
    recipient: Option<&str>,
    seq: Option<i64>,
) -> Result<Option<Accepted>, StoreError> {
    let claimed = sqlx::query(
        "INSERT INTO message_ids (id, recipient, seq, accepted_at, sender) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&message.id)
    .bind(recipient)
    .bind(seq)
    .bind(message.received_at_ms)
    .bind(&message.sender)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if claimed == 1 {
        return Ok(None);
    }
    let first: Option<i64> = sqlx::query_scalar("SELECT seq FROM message_ids WHERE id = $1")
        .bind(&message.id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some(Accepted {
        seq: first.map(seq_from_db).transpose()?,
        duplicate: true,
    }))
}
