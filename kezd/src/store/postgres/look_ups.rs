//! Conversation look-ups in batches: every send reads its conversation (SPEC §11) before it is
//! accepted, and on PostgreSQL one read alone costs a round trip and a transaction of its own,
//! as much as the group commit's share of the message's write (measured in
//! docs/BENCHMARKS.md, "The cluster's per-message costs"). The look-ups waiting while one
//! batch is read are read together by the next, with one statement.
//!
//! A batch reads what a single look-up would have read at about the same moment: the read is
//! made after every look-up in it was asked, and a conversation is only ever read before the
//! accept it decides, never inside its transaction, with or without batches.

use std::collections::HashMap;

use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;
use crate::store::conversations::{self, Conversation};

/// One look-up waiting for its batch.
pub(super) struct LookUp {
    pub(super) sender: String,
    pub(super) recipient: String,
    pub(super) reply: oneshot::Sender<Result<Conversation, StoreError>>,
}

/// The most look-ups read with one statement.
const MAX_BATCH: usize = 256;

/// Both directions of every pair `($1[i], $2[i])`, each row tagged with its pair's index:
/// two index probes per pair on the primary key, one direction in each half.
const BATCH: &str = "\
    SELECT k.i, c.sender, c.last_at \
    FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k(s, r, i) \
    JOIN conversations c ON c.sender = k.s AND c.recipient = k.r \
    UNION ALL \
    SELECT k.i, c.sender, c.last_at \
    FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k(s, r, i) \
    JOIN conversations c ON c.sender = k.r AND c.recipient = k.s AND k.r <> k.s";

/// Answers look-ups a batch at a time until the store is dropped.
pub(super) async fn run(pool: PgPool, mut queue: mpsc::Receiver<LookUp>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        answer(&pool, std::mem::take(&mut batch)).await;
    }
}

/// Reads one batch and answers each look-up; if the batch's statement fails, each look-up is
/// read alone so that each gets its own answer (or error).
async fn answer(pool: &PgPool, batch: Vec<LookUp>) {
    let senders: Vec<&str> = batch.iter().map(|l| l.sender.as_str()).collect();
    let recipients: Vec<&str> = batch.iter().map(|l| l.recipient.as_str()).collect();
    let rows = sqlx::query_as::<_, (i64, String, i64)>(BATCH)
        .bind(&senders)
        .bind(&recipients)
        .fetch_all(pool)
        .await;
    let mut rows = match rows {
        Ok(rows) => by_index(rows),
        Err(error) => {
            tracing::debug!(%error, size = batch.len(), "batched conversation look-up failed");
            for look_up in batch {
                let alone = one(pool, &look_up.sender, &look_up.recipient).await;
                drop(look_up.reply.send(alone));
            }
            return;
        }
    };
    for (i, look_up) in batch.into_iter().enumerate() {
        // WITH ORDINALITY counts from 1.
        let found = rows.remove(&(i + 1)).unwrap_or_default();
        let conversation = conversations::from_rows(&look_up.sender, &look_up.recipient, found);
        // A caller that went away needs no answer.
        drop(look_up.reply.send(Ok(conversation)));
    }
}

/// The rows of each pair, by its 1-based index.
fn by_index(rows: Vec<(i64, String, i64)>) -> HashMap<usize, Vec<(String, i64)>> {
    let mut by = HashMap::<usize, Vec<(String, i64)>>::new();
    for (i, sender, last_at) in rows {
        if let Ok(i) = usize::try_from(i) {
            by.entry(i).or_default().push((sender, last_at));
        }
    }
    by
}

/// One look-up alone.
pub(super) async fn one(
    pool: &PgPool,
    sender: &str,
    recipient: &str,
) -> Result<Conversation, StoreError> {
    let rows = sqlx::query_as(conversations::LOOK_UP)
        .bind(sender)
        .bind(recipient)
        .fetch_all(pool)
        .await?;
    Ok(conversations::from_rows(sender, recipient, rows))
}
