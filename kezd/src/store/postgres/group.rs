//! Accepts in groups: each instance's accepts are written a group at a time, in one
//! transaction with one statement per table, instead of one transaction per message.
//!
//! # Why
//!
//! A local accept holds its recipient's `inbox_counters` row lock until it commits (that is
//! what keeps seqs visible in order, see [`accept`](super::accept)), so accepts to one inbox
//! run one after another across every instance, each paying its statements' round trips and a
//! commit flush while the others wait: about 800 per second per inbox here, however many
//! connections. A group takes each of its recipients' locks once for all of its messages.
//!
//! # How a group is written
//!
//! 1. `SELECT … ORDER BY recipient FOR UPDATE` locks the group's counters in one order, so
//!    groups of different instances never deadlock.
//! 2. Only if a counter row is missing (an inbox's first group): the transaction is rolled
//!    back, the missing rows are created (only for registered users) and committed at once,
//!    and step 1 runs again in a new transaction. Creating them inside would lock new rows
//!    before the sorted locking and could deadlock with another group. A recipient still
//!    without a counter row is not registered and its messages are refused.
//! 3. The group's ids already stored are read. Holding a recipient's lock, nothing else can
//!    accept a message to it, so for local messages the answer cannot change before commit.
//! 4. Each message in order: a known id (or one earlier in the group) is a duplicate; a new one
//!    passes its admission check and takes the next seq.
//! 5. The ids, the inbox rows and the counters are written with one statement (`UNNEST` of
//!    arrays in data-modifying `WITH` parts), the outbox rows with one more when there are
//!    any, and the transaction commits. The outbox rows' destinations are locked first, so
//!    that their positions commit in order ([`outbox_order`](super::outbox_order)).
//!
//! A group of local messages whose counters exist is thus five round trips (`BEGIN`, lock,
//! known ids, write, `COMMIT`) and one transaction, whatever its size.
//!
//! A remote message has no lock: another instance may claim its id between 3 and 5, which the
//! id insert (`ON CONFLICT DO NOTHING RETURNING id`) reveals, and it is then answered as the
//! duplicate it became. Anything unexpected (an error, a local id claimed elsewhere) rolls the
//! group back, and its messages are accepted one at a time by [`accept`](super::accept), with
//! the admission checks that already ran keeping their outcome.

use std::collections::{HashMap, HashSet};

use sqlx::Transaction;
use sqlx::postgres::{PgPool, Postgres};
use tokio::sync::{mpsc, oneshot, watch};

use super::accept;
use crate::store::rows::{clamp_i64, seq_from_db};
use crate::store::{Accepted, Admission, NewMessage, Route, StoreError};

/// One accept waiting for its group.
pub(super) struct Pending {
    pub(super) message: NewMessage,
    pub(super) admission: Admission,
    pub(super) reply: oneshot::Sender<Result<Accepted, StoreError>>,
}

/// The most accepts written in one transaction.
const MAX_GROUP: usize = 256;

/// Writes groups until the store closes, then the accepts still queued.
pub(super) async fn run(
    pool: PgPool,
    mut queue: mpsc::Receiver<Pending>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut closing = false;
    loop {
        tokio::select! {
            received = queue.recv_many(&mut group, MAX_GROUP) => {
                if received == 0 {
                    break; // Closed and drained.
                }
            }
            // Err means the store was dropped. Either way refuse new accepts but write the
            // queued ones, whose callers are waiting.
            _ = shutdown.changed(), if !closing => {
                closing = true;
                queue.close();
                continue;
            }
        }
        write(&pool, std::mem::take(&mut group)).await;
    }
}

/// How one member of a group was decided.
enum Outcome {
    /// Final: answered as is.
    Answer(Result<Accepted, StoreError>),
    /// New, admitted, written with this seq (none for the outbox) if the group commits.
    Written(Option<u64>),
}

/// Writes one group and answers every member.
async fn write(pool: &PgPool, group: Vec<Pending>) {
    // Callers that stopped waiting were never acknowledged: leave their messages out.
    let group: Vec<Pending> = group.into_iter().filter(|p| !p.reply.is_closed()).collect();
    if group.is_empty() {
        return;
    }
    let mut messages = Vec::with_capacity(group.len());
    let mut admissions = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    for pending in group {
        messages.push(pending.message);
        admissions.push(Some(pending.admission));
        replies.push(pending.reply);
    }
    match write_group(pool, &messages, &mut admissions).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let answer = match outcome {
                    Outcome::Answer(answer) => answer,
                    Outcome::Written(seq) => Ok(Accepted {
                        seq,
                        duplicate: false,
                    }),
                };
                // A caller that went away meanwhile is not an error: the write stands.
                drop(reply.send(answer));
            }
        }
        Err(error) => {
            tracing::warn!(%error, size = messages.len(), "group accept rolled back; accepting one at a time");
            for ((message, admission), reply) in messages.into_iter().zip(admissions).zip(replies) {
                // An admission that ran already passed (a refusal is not an error of the
                // group): the message is admitted. One that never ran runs now.
                let admission = admission.unwrap_or_else(Admission::always);
                drop(reply.send(accept::accept(pool, message, admission).await));
            }
        }
    }
}

/// The group's transaction (steps 1–5 of the module doc). On `Err` nothing was written, and
/// the admissions that ran and passed are `None` in `admissions` (a refusal is kept).
async fn write_group(
    pool: &PgPool,
    messages: &[NewMessage],
    admissions: &mut [Option<Admission>],
) -> Result<Vec<Outcome>, StoreError> {
    let mut recipients: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.route.local_handle())
        .collect();
    recipients.sort_unstable();
    recipients.dedup();
    let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();

    let mut tx = pool.begin().await?;
    let mut counters = lock_counters(&mut tx, &recipients).await?;
    if counters.len() < recipients.len() {
        // An inbox's first group (or a recipient not registered): step 2, then the locks
        // again, in a new transaction.
        tx.rollback().await?;
        create_counters(pool, &recipients).await?;
        tx = pool.begin().await?;
        counters = lock_counters(&mut tx, &recipients).await?;
    }
    let mut known = known_ids(&mut tx, &ids).await?;
    let (mut outcomes, moved) = decide(messages, admissions, &mut counters, &mut known)?;
    let moved: Vec<(&str, i64)> = moved
        .iter()
        .filter_map(|handle| counters.get(handle).map(|last| (handle.as_str(), *last)))
        .collect();
    write_rows(&mut tx, messages, &mut outcomes, &moved).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Step 2: the counter rows of the group's registered recipients, created and committed
/// outside the group's transaction (only when one is missing).
async fn create_counters(pool: &PgPool, recipients: &[&str]) -> Result<(), StoreError> {
    if recipients.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO inbox_counters (recipient, last_seq) \
         SELECT handle, 0 FROM users WHERE handle = ANY($1) \
         ON CONFLICT (recipient) DO NOTHING",
    )
    .bind(recipients)
    .execute(pool)
    .await?;
    Ok(())
}

/// Step 1: the recipients' counters, locked in one order; a recipient without one is not
/// registered.
async fn lock_counters(
    tx: &mut Transaction<'_, Postgres>,
    recipients: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    if recipients.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(sqlx::query_as::<_, (String, i64)>(
        "SELECT recipient, last_seq FROM inbox_counters WHERE recipient = ANY($1) \
         ORDER BY recipient FOR UPDATE",
    )
    .bind(recipients)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect())
}

/// Step 3: the group's ids already stored, with their seq.
async fn known_ids(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[&str],
) -> Result<HashMap<String, Option<i64>>, StoreError> {
    Ok(sqlx::query_as::<_, (String, Option<i64>)>(
        "SELECT id, seq FROM message_ids WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect())
}

/// Step 4: each message in order is a duplicate, refused, or written with the next seq of its
/// inbox; returns the outcomes and the recipients whose counters moved.
fn decide(
    messages: &[NewMessage],
    admissions: &mut [Option<Admission>],
    counters: &mut HashMap<String, i64>,
    known: &mut HashMap<String, Option<i64>>,
) -> Result<(Vec<Outcome>, HashSet<String>), StoreError> {
    let mut outcomes = Vec::with_capacity(messages.len());
    let mut moved = HashSet::new();
    for (message, admission) in messages.iter().zip(admissions.iter_mut()) {
        if let Some(first) = known.get(&message.id) {
            let seq = first.map(seq_from_db).transpose()?;
            outcomes.push(Outcome::Answer(Ok(Accepted {
                seq,
                duplicate: true,
            })));
            continue;
        }
        let seq = match &message.route {
            Route::Local { handle } => match counters.get_mut(handle) {
                Some(last) => Some(last),
                None => {
                    outcomes.push(Outcome::Answer(Err(StoreError::UnknownRecipient {
                        handle: handle.clone(),
                    })));
                    continue;
                }
            },
            Route::Remote { .. } => None,
        };
        // Taken out as it runs: on a rollback, `write` knows which ones passed.
        if let Some(Err(exceeded)) = admission.take().map(Admission::check) {
            *admission = Some(Admission::new(move || Err(exceeded)));
            outcomes.push(Outcome::Answer(Err(StoreError::Refused(exceeded))));
            continue;
        }
        let seq = seq.map(|last| {
            *last += 1;
            *last
        });
        if let (Some(_), Route::Local { handle }) = (seq, &message.route) {
            moved.insert(handle.clone());
        }
        known.insert(message.id.clone(), seq);
        outcomes.push(Outcome::Written(seq.map(seq_from_db).transpose()?));
    }
    Ok((outcomes, moved))
}

/// Step 5: the ids claimed, the inbox rows and the counters written with one statement, then
/// the outbox rows of the claimed remote ids. A remote id another instance claimed meanwhile
/// turns its outcome into a duplicate.
async fn write_rows(
    tx: &mut Transaction<'_, Postgres>,
    messages: &[NewMessage],
    outcomes: &mut [Outcome],
    moved: &[(&str, i64)],
) -> Result<(), StoreError> {
    let rows: Vec<(&NewMessage, Option<i64>)> = messages
        .iter()
        .zip(outcomes.iter())
        .filter_map(|(m, o)| match o {
            Outcome::Written(seq) => Some((m, seq.map(clamp_i64))),
            Outcome::Answer(_) => None,
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let claimed = claim_and_write(tx, &rows, moved).await?;
    let mut outbox = Vec::new();
    for (message, _) in &rows {
        match (&message.route, claimed.contains(&message.id)) {
            (Route::Local { .. }, true) | (Route::Remote { .. }, false) => {}
            (Route::Remote { server, address }, true) => {
                outbox.push((*message, server.as_str(), address.as_str()));
            }
            // Held by its recipient's lock, a local id cannot be claimed elsewhere; its inbox
            // row, already written, goes with the rollback.
            (Route::Local { .. }, false) => {
                return Err(StoreError::Database(sqlx::Error::Protocol(format!(
                    "message id {} was claimed outside its recipient's lock",
                    message.id
                ))));
            }
        }
    }
    // A remote id claimed by another instance meanwhile is that instance's message now.
    for (outcome, message) in outcomes.iter_mut().zip(messages) {
        if matches!(outcome, Outcome::Written(None)) && !claimed.contains(&message.id) {
            *outcome = Outcome::Answer(Ok(Accepted {
                seq: None,
                duplicate: true,
            }));
        }
    }
    insert_outbox(tx, &outbox).await
}

/// One statement, one round trip: claims the rows' ids (in sorted order), writes the local
/// rows' inbox rows and each moved recipient's last seq; returns the ids this group claimed.
/// Every data-modifying part of a `WITH` runs to completion whether or not the result reads
/// it, all in the group's transaction.
async fn claim_and_write(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[(&NewMessage, Option<i64>)],
    moved: &[(&str, i64)],
) -> Result<HashSet<String>, StoreError> {
    // Ids are claimed in sorted order: two groups claiming the same remote ids in different
    // orders could each wait for the other's uncommitted claim.
    let mut by_id = rows.to_vec();
    by_id.sort_unstable_by(|x, y| x.0.id.cmp(&y.0.id));
    let inbox: Vec<(&NewMessage, &str, Option<i64>)> = rows
        .iter()
        .filter_map(|(m, seq)| m.route.local_handle().map(|h| (*m, h, *seq)))
        .collect();
    Ok(sqlx::query_scalar::<_, String>(
        "WITH claimed AS (\
           INSERT INTO message_ids (id, recipient, seq, accepted_at, sender) \
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[]) \
           ON CONFLICT (id) DO NOTHING RETURNING id), \
         inbox AS (\
           INSERT INTO messages (recipient, seq, id, sender, received_at, envelope) \
           SELECT * FROM UNNEST($6::text[], $7::int8[], $8::text[], $9::text[], $10::int8[], \
           $11::text[])), \
         counters AS (\
           UPDATE inbox_counters AS c SET last_seq = v.last \
           FROM UNNEST($12::text[], $13::int8[]) AS v(recipient, last) \
           WHERE c.recipient = v.recipient) \
         SELECT id FROM claimed",
    )
    .bind(by_id.iter().map(|(m, _)| m.id.as_str()).collect::<Vec<_>>())
    .bind(
        by_id
            .iter()
            .map(|(m, _)| m.route.local_handle())
            .collect::<Vec<_>>(),
    )
    .bind(by_id.iter().map(|(_, seq)| *seq).collect::<Vec<_>>())
    .bind(
        by_id
            .iter()
            .map(|(m, _)| m.received_at_ms)
            .collect::<Vec<_>>(),
    )
    .bind(
        by_id
            .iter()
            .map(|(m, _)| m.sender.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(inbox.iter().map(|(_, h, _)| *h).collect::<Vec<_>>())
    .bind(inbox.iter().map(|(_, _, seq)| *seq).collect::<Vec<_>>())
    .bind(
        inbox
            .iter()
            .map(|(m, _, _)| m.id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        inbox
            .iter()
            .map(|(m, _, _)| m.sender.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        inbox
            .iter()
            .map(|(m, _, _)| m.received_at_ms)
            .collect::<Vec<_>>(),
    )
    .bind(
        inbox
            .iter()
            .map(|(m, _, _)| m.envelope_json.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(moved.iter().map(|(h, _)| *h).collect::<Vec<_>>())
    .bind(moved.iter().map(|(_, last)| *last).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect())
}

/// Writes the outbox rows: `(message, destination, recipient)`.
async fn insert_outbox(
    tx: &mut Transaction<'_, Postgres>,
    outbox: &[(&NewMessage, &str, &str)],
) -> Result<(), StoreError> {
    if outbox.is_empty() {
        return Ok(());
    }
    super::outbox_order::lock_destinations(tx, outbox.iter().map(|(_, d, _)| *d)).await?;
    // Due at once; delivery moves next_attempt_at on failure.
    sqlx::query(
        "INSERT INTO outbox (id, destination, recipient, sender, envelope, accepted_at, \
         next_attempt_at) SELECT i, d, r, s, e, a, a FROM UNNEST($1::text[], $2::text[], \
         $3::text[], $4::text[], $5::text[], $6::int8[]) AS t(i, d, r, s, e, a)",
    )
    .bind(
        outbox
            .iter()
            .map(|(m, _, _)| m.id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(outbox.iter().map(|(_, d, _)| *d).collect::<Vec<_>>())
    .bind(outbox.iter().map(|(_, _, r)| *r).collect::<Vec<_>>())
    .bind(
        outbox
            .iter()
            .map(|(m, _, _)| m.sender.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        outbox
            .iter()
            .map(|(m, _, _)| m.envelope_json.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        outbox
            .iter()
            .map(|(m, _, _)| m.received_at_ms)
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
