//! Accepts in groups: the consecutive accepts of a batch are written with one multi-row
//! statement per table instead of two statements per message.
//!
//! Why: each statement is a round trip to sqlx's connection thread (a channel send, a wake, a
//! reply), and those round trips, not SQLite or the fsync, bound the writer. A group of n
//! accepts costs one look-up of the ids already known and one `INSERT` per table it touches,
//! whatever n is; one `INSERT` of many rows is also several times faster inside SQLite than
//! as many single-row inserts. The look-up goes with the batch's `BEGIN`, the inserts with its
//! commit (deferred.rs): two round trips for the whole group, or one when no id of the group
//! may be stored (seen_ids.rs) and the look-up is left out.
//!
//! The answers are the ones the messages would get one at a time, in order: an id already
//! stored, or earlier in the same group, is a duplicate answered with the first acceptance's
//! seq; the others are put to their admission check and then get consecutive seqs of their
//! inboxes; a refused admission or an unknown recipient writes nothing. Any database failure fails the whole batch (nothing of it is
//! committed and every caller is told to retry).

use std::collections::HashMap;

use super::{Answer, Counter, Reply, Writer};
use crate::store::rows::{clamp_i64, seq_from_db};
use crate::store::sqlite::stored_ids;
use crate::store::{Accepted, Admission, NewMessage, Route, StoreError};

/// The most rows one statement carries (six parameters each, far below SQLite's default limit
/// of 32,766 parameters); a larger group is written in several statements.
const ROWS_PER_STATEMENT: usize = 512;

/// A new message's row, with the seq it gets when it goes to a local inbox.
struct Row<'a> {
    message: &'a NewMessage,
    seq: Option<i64>,
}

impl Writer {
    /// Accepts `group` in order and records one answer per member, also when the group fails:
    /// then every answer is replaced by the batch's failure.
    pub(super) async fn accept_group(
        &mut self,
        group: Vec<(NewMessage, Admission, Reply<Accepted>)>,
        counters: &mut HashMap<String, Counter>,
        answers: &mut Vec<Answer>,
    ) -> Result<(), sqlx::Error> {
        let mut messages = Vec::with_capacity(group.len());
        let mut admissions = Vec::with_capacity(group.len());
        let mut replies = Vec::with_capacity(group.len());
        for (message, admission, reply) in group {
            messages.push(message);
            admissions.push(admission);
            replies.push(reply);
        }
        match self.accept_all(&messages, admissions, counters).await {
            Ok(results) => {
                answers.extend(
                    replies
                        .into_iter()
                        .zip(results)
                        .map(|(reply, result)| Answer::Accept(reply, result)),
                );
                Ok(())
            }
            Err(error) => {
                answers.extend(
                    replies
                        .into_iter()
                        .map(|reply| Answer::Accept(reply, Err(StoreError::Closed))),
                );
                Err(error)
            }
        }
    }

    /// Decides every message's answer, then writes the new ones.
    async fn accept_all(
        &mut self,
        messages: &[NewMessage],
        admissions: Vec<Admission>,
        counters: &mut HashMap<String, Counter>,
    ) -> Result<Vec<Result<Accepted, StoreError>>, sqlx::Error> {
        // Every id this group could duplicate, with its first acceptance's seq; the group's own
        // new ids are added as they are given seqs.
        let mut known = self.known_ids(messages).await?;
        let mut rows = Vec::with_capacity(messages.len());
        let mut results = Vec::with_capacity(messages.len());
        for (message, admission) in messages.iter().zip(admissions) {
            if let Some(first) = known.get(message.id.as_str()) {
                results.push(Ok(Accepted {
                    seq: first.map(seq_from_db).transpose().map_err(batch_failure)?,
                    duplicate: true,
                }));
                continue;
            }
            if let Err(exceeded) = admission.check() {
                results.push(Err(StoreError::Refused(exceeded)));
                continue;
            }
            let seq = match &message.route {
                Route::Local { handle } => match self.counter(handle, counters).await {
                    Ok(counter) => {
                        let seq = counter.last + 1 + u64::from(crate::faults::on("seq_gap"));
                        counters.insert(
                            handle.clone(),
                            Counter {
                                last: seq,
                                dirty: true,
                            },
                        );
                        Some(seq)
                    }
                    Err(refusal @ StoreError::UnknownRecipient { .. }) => {
                        results.push(Err(refusal));
                        continue;
                    }
                    Err(other) => return Err(batch_failure(other)),
                },
                Route::Remote { .. } => None,
            };
            let seq_db = seq.map(clamp_i64);
            known.insert(&message.id, seq_db);
            self.seen.written(&message.id);
            rows.push(Row {
                message,
                seq: seq_db,
            });
            results.push(Ok(Accepted {
                seq,
                duplicate: false,
            }));
        }
        self.insert_rows(&rows);
        Ok(results)
    }

    /// The ids of `messages` that are already stored, with their first acceptance's seq (none
    /// for a message that went to the outbox): one statement for the ids that may be stored
    /// (seen_ids.rs), sent with whatever the transaction deferred; none when no id may be.
    async fn known_ids<'m>(
        &mut self,
        messages: &'m [NewMessage],
    ) -> Result<HashMap<&'m str, Option<i64>>, sqlx::Error> {
        let mut known = HashMap::with_capacity(messages.len());
        let maybe: Vec<&NewMessage> = messages
            .iter()
            .filter(|m| self.seen.maybe_stored(&m.id))
            .collect();
        for chunk in maybe.chunks(stored_ids::IDS_PER_STATEMENT) {
            let mut query = self
                .deferred
                .then(|q| stored_ids::push(q, chunk.iter().map(|m| (m.id.as_str(), m.ts_ms))));
            let found: Vec<(String, Option<i64>)> =
                query.build_query_as().fetch_all(&mut self.conn).await?;
            for (id, seq) in found {
                // Borrow the caller's copy of the id, so the map outlives no row.
                if let Some(message) = chunk.iter().find(|m| m.id == id) {
                    known.insert(message.id.as_str(), seq);
                }
            }
        }
        Ok(known)
    }

    /// Defers the group's new messages: the ids and inbox rows of local ones, the outbox rows
    /// of remote ones, each table with one statement per `ROWS_PER_STATEMENT` rows, sent with
    /// the commit.
    fn insert_rows(&mut self, rows: &[Row<'_>]) {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            // A remote message's id is remembered by its outbox row (stored_ids.rs).
            let local: Vec<(&Row<'_>, &str)> = chunk
                .iter()
                .filter_map(|r| Some((r, r.message.route.local_handle()?)))
                .collect();
            if !local.is_empty() {
                self.deferred.push(|q| {
                    q.push(
                        "INSERT INTO message_ids (ts_day, id, recipient, seq, accepted_at, sender) ",
                    );
                    q.push_values(&local, |mut row, (r, handle)| {
                        row.push_bind(stored_ids::ts_day(r.message.ts_ms))
                            .push_bind(r.message.id.as_str())
                            .push_bind(*handle)
                            .push_bind(r.seq)
                            .push_bind(r.message.received_at_ms)
                            .push_bind(r.message.sender.as_str());
                    });
                });
                self.deferred.push(|q| {
                    q.push(
                        "INSERT INTO messages (recipient, seq, id, sender, received_at, envelope) ",
                    );
                    q.push_values(local, |mut row, (r, handle)| {
                        row.push_bind(handle)
                            .push_bind(r.seq)
                            .push_bind(r.message.id.as_str())
                            .push_bind(r.message.sender.as_str())
                            .push_bind(r.message.received_at_ms)
                            .push_bind(r.message.envelope_json.as_str());
                    });
                });
            }

            let remote: Vec<(&NewMessage, &str, &str)> = chunk
                .iter()
                .filter_map(|r| match &r.message.route {
                    Route::Remote { server, address } => {
                        Some((r.message, server.as_str(), address.as_str()))
                    }
                    Route::Local { .. } => None,
                })
                .collect();
            if !remote.is_empty() {
                // Due at once; delivery moves next_attempt_at on failure.
                self.deferred.push(|q| {
                    q.push(
                        "INSERT INTO outbox (id, destination, recipient, sender, envelope, \
                         accepted_at, next_attempt_at) ",
                    );
                    q.push_values(remote, |mut row, (message, server, address)| {
                        row.push_bind(message.id.as_str())
                            .push_bind(server)
                            .push_bind(address)
                            .push_bind(message.sender.as_str())
                            .push_bind(message.envelope_json.as_str())
                            .push_bind(message.received_at_ms)
                            .push_bind(message.received_at_ms);
                    });
                });
            }
        }
    }
}

/// A store error that is not an answer (a corrupt seq, a failed read) fails the batch.
fn batch_failure(error: StoreError) -> sqlx::Error {
    sqlx::Error::Protocol(format!("accept failed: {error}"))
}
