//! # `PUT /v1/federation/txn/{txn_id}` (SPEC §9.3–§9.5)
//!
//! Receiving envelopes from another server. The request is authenticated as the origin server
//! (its signed `Authorization` header, checked with the key its document publishes); each
//! envelope is then checked on its own — sent by a user of that origin, with the primary the
//! origin publishes for them, signed, for a local recipient, in its window, within limits —
//! and answered on its own, so one bad envelope never fails the batch. The answer is stored
//! under (origin, txn id) and replayed verbatim when the origin retries.
//!
//! What one origin can make this server hold is bounded: its transactions in flight are
//! capped from the moment its signature is verified (txn_slots.rs; before that a body is
//! bounded like every request's, by the memory budget and the body deadline), and its senders
//! are looked up together within one bound (senders.rs).

mod senders;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use http::StatusCode;
use kez_spec::ServerName;
use kez_spec::api::txn::{TxnResult, TxnResults, TxnStatus, is_valid_txn_id};
use kez_spec::api::txn_body::{TxnBody, TxnElement};
use kez_spec::envelope::SignedEnvelope;
use serde_json::Value;

use crate::body;
use crate::broker::Published;
use crate::clock;
use crate::conversation::{self, Conversation};
use crate::error::ApiError;
use crate::federate::outbox;
use crate::federate::txn_slots::Refused;
use crate::handlers::origin_auth::{self, Authenticated};
use crate::handlers::{HandlerResult, RequestContext};
use crate::limits::Send;
use crate::state::AppState;
use crate::store::{MessageKey, NewMessage, Route, StoredMessage};
use kez_spec::api::txn::{ENVELOPE_FUTURE_MS, ENVELOPE_PAST_MS, MAX_ENVELOPES};

/// `Retry-After` of a transaction refused because too many are in flight: long enough that an
/// origin does not spin on the refusal, short next to a look-up timeout, which is what holds
/// the places it waits for.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Receives a transaction, in SPEC §9.3–§9.5's order: the origin proven (origin_auth.rs), a place
/// in flight taken, a retry answered from [`Store::txn_response`], the envelopes judged one by one
/// (duplicates found with [`Store::known_ids`], senders looked up, recipients through the user
/// cache, [`Store::conversation`] for the limits counted), the accepted ones stored with
/// [`Store::accept`] and their conversations with [`Store::record_conversations`], and the answer
/// kept with [`Store::save_txn_response`].
///
/// [`Store::txn_response`]: crate::store::Store::txn_response
/// [`Store::known_ids`]: crate::store::Store::known_ids
/// [`Store::conversation`]: crate::store::Store::conversation
/// [`Store::accept`]: crate::store::Store::accept
/// [`Store::record_conversations`]: crate::store::Store::record_conversations
/// [`Store::save_txn_response`]: crate::store::Store::save_txn_response
pub async fn put(mut ctx: RequestContext) -> HandlerResult {
    let state = ctx.state().clone();
    let federate = state.federate().ok_or(ApiError::NotFound)?.clone();
    let txn_id: String = ctx.param("txn_id")?;
    if !is_valid_txn_id(&txn_id) {
        return Err(ApiError::malformed(
            "txn id must be 1-64 of [A-Za-z0-9._-], and not . or ..",
        ));
    }
    // §9.3: the request is the origin's, signed for this server.
    let Authenticated { auth, body: bytes } = origin_auth::verify(&mut ctx, &federate).await?;
    // Taken once the origin is proven, so no party can spend another origin's share; until
    // then the body is bounded like every request's (the memory budget, the body deadline).
    // Held until the answer is written, whichever way this function returns.
    let _slot = federate
        .txn_slots
        .try_take(auth.origin.as_str())
        .map_err(busy)?;

    let origin = auth.origin.to_string();
    // A signed request shows the origin is up: a backoff of ours from it ends now.
    outbox::origin_is_up(&federate, state.store().as_ref(), &origin).await;
    // §9.4: a retried transaction is answered as it was the first time.
    let stored = state.store().txn_response(&origin, &txn_id).await?;
    if let Some(stored) = stored.filter(|_| !crate::faults::on("txn_replay_reprocesses")) {
        return Ok(body::response(
            StatusCode::OK,
            "application/json",
            body::full(stored),
        ));
    }
    // Every envelope parsed, and so named by its id, first, so the duplicates are found with
    // one store look-up for the whole transaction.
    let envelopes: Vec<Received> = parse_body(&bytes, &auth.origin)?
        .into_iter()
        .map(|element| Received::parse(&state, element))
        .collect();
    // An element that did not parse has no ts to look its id up by, and could not be a
    // duplicate: its id, the hash of its bytes, is no parsed envelope's.
    let keys: Vec<MessageKey> = envelopes
        .iter()
        .filter_map(|r| r.envelope.as_ref().ok().map(MessageKey::of))
        .collect();
    let known = state.store().known_ids(&keys).await?;
    let settings = &state.config().federation;
    let senders = senders::look_up(
        &federate.client,
        to_look_up(&envelopes, &known, &auth.origin),
        settings.sender_lookup_concurrency.get(),
        settings.request_timeout,
    )
    .await;
    let mut receiver = Receiver {
        state: &state,
        origin: &auth.origin,
        senders,
        deferred: HashMap::new(),
        conversations: HashMap::new(),
        now_ms: clock::now_ms(),
    };
    // §9.4: each envelope judged on its own, so one bad envelope never fails the batch.
    let mut judged = Vec::with_capacity(envelopes.len());
    for received in envelopes {
        let verdict = match known.contains(&received.id) {
            true if crate::faults::on("txn_duplicate_after_window")
                && !receiver.in_window(&received) =>
            {
                Verdict::Rejected("stale_timestamp")
            }
            true => Verdict::Duplicate,
            false => receiver.judge(&received).await?,
        };
        judged.push((received.id, verdict));
    }
    let results = receiver.store_accepted(judged).await?;
    // §9.4: the answer is kept, for the origin's retries.
    let response = serde_json::to_string(&TxnResults { results })
        .map_err(|e| ApiError::internal(format!("transaction results: {e}")))?;
    let now_ms = i64::try_from(clock::now_ms()).unwrap_or(i64::MAX);
    state
        .store()
        .save_txn_response(&origin, &txn_id, response.clone(), now_ms)
        .await?;
    Ok(body::response(
        StatusCode::OK,
        "application/json",
        body::full(response),
    ))
}

/// The answer when no place is free: the origin comes back later (SPEC §9.4, §9.6).
fn busy(refused: Refused) -> ApiError {
    match refused {
        Refused::Origin => ApiError::RateLimited {
            limit: "transactions in flight per origin",
            retry_after: BUSY_RETRY_AFTER,
        },
        Refused::Total => ApiError::Overloaded {
            what: "transactions in flight",
            retry_after: BUSY_RETRY_AFTER,
        },
    }
}

/// The distinct senders whose envelopes reach check 5 (SPEC §9.4): new, parsed, within the
/// size limit, and of the origin.
fn to_look_up(
    envelopes: &[Received],
    known: &HashSet<String>,
    origin: &ServerName,
) -> Vec<kez_spec::Address> {
    let mut seen = HashSet::new();
    envelopes
        .iter()
        .filter(|r| r.size <= max_envelope_bytes() && !known.contains(&r.id))
        .filter_map(|r| r.envelope.as_ref().ok())
        .map(|envelope| &envelope.envelope.from)
        .filter(|from| from.server() == origin && seen.insert(from.to_string()))
        .cloned()
        .collect()
}

/// Check 1's limit on an envelope's JCS bytes (SPEC §6.5), which two faults move by a byte.
fn max_envelope_bytes() -> usize {
    kez_spec::envelope::MAX_BYTES - usize::from(crate::faults::on("envelope_limit_off_by_one"))
        + usize::from(crate::faults::on("txn_envelope_one_byte_over"))
}

/// The body's envelopes, after its shape and the origin are checked.
fn parse_body(bytes: &[u8], origin: &ServerName) -> Result<Vec<Value>, ApiError> {
    let body = TxnBody::parse(bytes)?;
    if body.origin != origin.as_str() && !crate::faults::on("ignore_body_origin") {
        return Err(ApiError::malformed(format!(
            "body origin {} differs from the Authorization origin",
            body.origin
        )));
    }
    if body.envelopes.len() > MAX_ENVELOPES && !crate::faults::on("txn_accepts_too_many_envelopes")
    {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_ENVELOPES,
        });
    }
    Ok(body.envelopes)
}

/// One element of a transaction's `envelopes`, parsed once (federation's [`TxnElement`]), and
/// whether the primary of its sender was decoded here: a sender seen before is not decoded
/// again.
struct Received {
    id: String,
    size: usize,
    /// The envelope, or the code it is rejected with.
    envelope: Result<SignedEnvelope, &'static str>,
    /// Whether its sender's primary was decoded here, not found among the known ones.
    decoded: bool,
}

impl Received {
    fn parse(state: &AppState, element: Value) -> Received {
        let decoded = Cell::new(false);
        let known = |text: &str| {
            let known = state.known_primary(text);
            decoded.set(known.is_none());
            known
        };
        let element = TxnElement::parse(element, known);
        Received {
            id: element.id.to_string(),
            size: element.size,
            decoded: decoded.get() && element.envelope.is_ok(),
            envelope: element.envelope,
        }
    }
}

/// One transaction's per-envelope processing.
struct Receiver<'a> {
    state: &'a AppState,
    origin: &'a ServerName,
    /// What the origin said about each sender looked up (check 5).
    senders: HashMap<String, senders::Sender>,
    /// Senders with a deferred envelope in this transaction, and what it was told: their
    /// later envelopes are deferred the same way so order holds (SPEC §9.4).
    deferred: HashMap<String, (String, u64)>,
    /// Conversations looked up for this transaction's envelopes, `(sender, recipient)`, as
    /// they stand after its envelopes admitted so far: a sender's second envelope to a
    /// recipient is no first contact, though neither is stored yet (SPEC §11).
    conversations: HashMap<(String, String), Conversation>,
    now_ms: u64,
}

/// A per-envelope verdict before it is written out.
enum Verdict {
    /// Passed every check: to be stored with the transaction's other accepted envelopes, and
    /// its conversation `(sender, recipient)` recorded when that is due.
    Store(Box<NewMessage>, Option<(String, String)>),
    Duplicate,
    Rejected(&'static str),
    Deferred(String, u64),
}

impl Receiver<'_> {
    /// Stores every envelope that passed, all at once so they share the store's group
    /// commits instead of waiting for one fsync each; they are handed to the store in
    /// transaction order, which keeps each sender's order (SPEC §9.5). Then publishes them and
    /// writes each envelope's result (SPEC §9.4).
    async fn store_accepted(
        &self,
        judged: Vec<(String, Verdict)>,
    ) -> Result<Vec<TxnResult>, ApiError> {
        let store = self.state.store();
        let accepts = judged.iter().filter_map(|(_, verdict)| match verdict {
            Verdict::Store(message, _) => Some(store.accept((**message).clone())),
            _ => None,
        });
        let mut stored = futures_util::future::join_all(accepts).await.into_iter();
        let mut results = Vec::with_capacity(judged.len());
        let mut conversations = Vec::new();
        for (id, verdict) in judged {
            results.push(match verdict {
                Verdict::Store(message, record) => {
                    let accepted = stored
                        .next()
                        .ok_or_else(|| ApiError::internal("an accept went missing"))??;
                    match accepted.seq.filter(|_| !accepted.duplicate) {
                        Some(seq) => {
                            conversations.extend(record);
                            self.publish(*message, seq).await;
                            TxnResult::plain(id, TxnStatus::Accepted)
                        }
                        None => TxnResult::plain(id, TxnStatus::Duplicate),
                    }
                }
                Verdict::Duplicate => TxnResult::plain(id, TxnStatus::Duplicate),
                Verdict::Rejected(code) => TxnResult::rejected(id, code),
                Verdict::Deferred(code, secs) => TxnResult::deferred(id, &code, secs),
            });
        }
        let now_ms = i64::try_from(self.now_ms).unwrap_or(i64::MAX);
        let state = self.state;
        conversation::record(
            state.store().as_ref(),
            state.metrics(),
            conversations,
            now_ms,
        )
        .await;
        Ok(results)
    }

    /// Announces a stored message to its recipient's live streams.
    async fn publish(&self, message: NewMessage, seq: u64) {
        let Route::Local { handle } = &message.route else {
            return;
        };
        self.state.metrics().send_accepted();
        let stored = StoredMessage {
            seq,
            id: message.id.clone(),
            received_at_ms: message.received_at_ms,
            envelope_json: message.envelope_json.clone(),
        };
        match Published::new(&stored) {
            Ok(published) => self.state.broker().publish(handle, published).await,
            // Streams find the message in the store at their next read: it is durable.
            Err(error) => tracing::warn!(%error, "a stored message could not be published"),
        }
    }

    /// Checks one envelope that is not a duplicate (SPEC §9.4). An `Err` is a failure of this
    /// server (the store), which fails the transaction so the origin retries it.
    async fn judge(&mut self, received: &Received) -> Result<Verdict, ApiError> {
        if received.size > max_envelope_bytes() {
            return Ok(Verdict::Rejected("payload_too_large"));
        }
        let envelope = match &received.envelope {
            Ok(envelope) => envelope,
            Err(code) => return Ok(Verdict::Rejected(code)),
        };
        let env = &envelope.envelope;
        if env.from.server() != self.origin && !crate::faults::on("ignore_origin_mismatch") {
            return Ok(Verdict::Rejected("sender_not_of_origin"));
        }
        let sender = env.from.to_string();
        if let Some((code, secs)) = self
            .deferred
            .get(&sender)
            .filter(|_| !crate::faults::on("defer_only_limited_envelope"))
        {
            return Ok(Verdict::Deferred(code.clone(), *secs));
        }
        match self.senders.get(&sender) {
            Some(senders::Sender::Publishes(primary)) if *primary == env.from_primary => {}
            Some(senders::Sender::Publishes(_) | senders::Sender::Unknown) => {
                return Ok(Verdict::Rejected("unknown_sender"));
            }
            Some(senders::Sender::Unreachable { retry_after }) => {
                let secs = *retry_after;
                return Ok(self.defer(sender, "unavailable", secs));
            }
            // Every sender reaching this check was looked up: a miss is a bug here.
            None => return Err(ApiError::internal("a sender was not looked up")),
        }
        if let Err(e) = envelope.verify() {
            return Ok(Verdict::Rejected(e.code()));
        }
        if received.decoded {
            self.state.remember_primary(env.from_primary);
        }
        let here = &self.state.config().server_name;
        let recipient = env.to.handle().as_str();
        if env.to.server() != here {
            return Ok(Verdict::Rejected("unknown_recipient"));
        }
        if self.state.user(recipient).await?.is_none() {
            let unknown = ApiError::UnknownRecipient {
                recipient: env.to.to_string(),
            };
            // 410 `account_deleted` for a deleted recipient (SPEC §4.7), as its code alone.
            let refusal = crate::handlers::users::missing(self.state, recipient, unknown).await;
            return match refusal {
                ApiError::AccountDeleted { .. } => Ok(Verdict::Rejected("account_deleted")),
                ApiError::UnknownRecipient { .. } => Ok(Verdict::Rejected("unknown_recipient")),
                failure => Err(failure),
            };
        }
        if !self.in_window(received) {
            return Ok(Verdict::Rejected("stale_timestamp"));
        }
        let pair = (sender.clone(), env.to.to_string());
        let conversation = match self.conversations.get(&pair) {
            Some(conversation) => *conversation,
            None => {
                let look_up = self.state.store().conversation(&pair.0, &pair.1);
                self.state
                    .metrics()
                    .time_store("conversation", look_up)
                    .await?
            }
        };
        let limited = self.state.limiters().admit_send(&Send {
            sender: &pair.0,
            recipient: &pair.1,
            conversation,
            origin: Some(self.origin.as_str()),
        });
        if let Err(exceeded) = limited {
            let secs = crate::error::retry_after_secs(exceeded.retry_after);
            return Ok(self.defer(sender, "rate_limited", secs));
        }
        let now_ms = i64::try_from(self.now_ms).unwrap_or(i64::MAX);
        let record = conversation.needs_record(now_ms).then(|| pair.clone());
        let admitted = Conversation {
            sent_ms: Some(now_ms),
            ..conversation
        };
        self.conversations.insert(pair, admitted);
        let MessageKey { id, ts_ms } = MessageKey::of(envelope);
        let message = NewMessage {
            id,
            sender,
            route: Route::Local {
                handle: recipient.to_owned(),
            },
            envelope_json: envelope.canonical.clone(),
            ts_ms,
            received_at_ms: i64::try_from(self.now_ms).unwrap_or(i64::MAX),
        };
        Ok(Verdict::Store(Box::new(message), record))
    }

    /// Check 8 (SPEC §9.4): `now − 7 days ≤ ts ≤ now + 300 s`. An element that is not an
    /// envelope has no `ts` and is judged by the earlier checks.
    fn in_window(&self, received: &Received) -> bool {
        let Ok(envelope) = &received.envelope else {
            return true;
        };
        let past = ENVELOPE_PAST_MS
            - if crate::faults::on("txn_envelope_past_narrow") {
                5_000
            } else {
                0
            };
        let future = ENVELOPE_FUTURE_MS
            + if crate::faults::on("txn_envelope_future_wide") {
                5_000
            } else {
                0
            };
        kez_spec::clock::check_range(envelope.envelope.ts_ms, self.now_ms, past, future).is_ok()
    }

    fn defer(&mut self, sender: String, code: &str, secs: u64) -> Verdict {
        self.deferred.insert(sender, (code.to_owned(), secs));
        Verdict::Deferred(code.to_owned(), secs)
    }
}
