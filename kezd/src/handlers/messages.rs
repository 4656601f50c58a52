//! # `POST /v1/messages` (SPEC §8.1)
//!
//! A local user sends a signed envelope. The envelope's own signature authenticates the sender
//! (no session, no cookie); the message is committed durably — to the recipient's inbox, or to
//! the outbox for a remote recipient — before the answer, and published to live streams after.

use std::cell::Cell;

use http::StatusCode;
use kez_spec::Error as SpecError;
use kez_spec::api::send::{SendAnswer, SendRequest, SendStatus};
use kez_spec::envelope::{Envelope, EnvelopeHeader, SignedEnvelope};

use crate::body;
use crate::broker::Published;
use crate::clock;
use crate::conversation::{self, Conversation};
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext};
use crate::limits::Send;
use crate::state::AppState;
use crate::store::{Accepted, Admission, MessageKey, NewMessage, Route, StoredMessage};

/// Accepts a message for delivery (SPEC §8.1): the sender and recipient through the user
/// cache ([`Store::user_by_handle`]), [`Store::conversation`], then [`Store::accept_admitted`]
/// ([`Store::accepted`] for a resend out of its window) and [`Store::record_conversations`].
///
/// [`Store::user_by_handle`]: crate::store::Store::user_by_handle
/// [`Store::conversation`]: crate::store::Store::conversation
/// [`Store::accept_admitted`]: crate::store::Store::accept_admitted
/// [`Store::accepted`]: crate::store::Store::accepted
/// [`Store::record_conversations`]: crate::store::Store::record_conversations
pub async fn post(mut ctx: RequestContext) -> HandlerResult {
    let bytes = ctx.body_bytes().await.map_err(|e| match e {
        ApiError::PayloadTooLarge { .. } if crate::faults::on("send_body_too_large_400") => {
            ApiError::malformed("the body is too large")
        }
        e => e,
    })?;
    let state = ctx.state().clone();
    let Parsed {
        header,
        local,
        decoded,
    } = parse(&state, &bytes)?;
    // SPEC §8.1: a message already accepted is answered as the duplicate it is right after
    // check 4, without the later checks or rate-limit accounting. The store finds duplicates
    // as it writes (and runs the rate limits only for new messages), so the id is looked up
    // here only when checks 5–10 refuse: the stored copy of a duplicate passed them all.
    // Checks 5 and 6 judge the header alone, before the signature's shape (check 7).
    let envelope = match check_sender(&state, &header.envelope).await {
        Ok(()) => header.into_signed().map_err(|(error, _)| error)?,
        Err(refusal) => {
            return match header.into_signed() {
                Ok(envelope) => duplicate_or(&state, &envelope, local, refusal).await,
                // An envelope whose signature member is malformed was never accepted.
                Err(_) => Err(refusal),
            };
        }
    };
    let env = &envelope.envelope;
    let now = clock::now_ms();
    let route = match check(&state, &envelope, local, now).await {
        Ok(route) => {
            if decoded {
                state.remember_primary(env.from_primary);
            }
            route
        }
        Err(refusal) => return duplicate_or(&state, &envelope, local, refusal).await,
    };
    let MessageKey { id, ts_ms } = MessageKey::of(&envelope);
    let message = NewMessage {
        id,
        sender: env.from.to_string(),
        route,
        envelope_json: envelope.canonical.clone(),
        ts_ms,
        received_at_ms: i64::try_from(now).unwrap_or(i64::MAX),
    };
    let (from, to) = (env.from.to_string(), env.to.to_string());
    // Which limits check 11 counts the send against (SPEC §11).
    let conversation = state
        .metrics()
        .time_store("conversation", state.store().conversation(&from, &to))
        .await?;
    let admission = admission(&state, &from, &to, conversation);
    let accepted = state
        .metrics()
        .time_store(
            "accept",
            state.store().accept_admitted(message.clone(), admission),
        )
        .await?;
    if !accepted.duplicate && conversation.needs_record(message.received_at_ms) {
        conversation::record(
            state.store().as_ref(),
            state.metrics(),
            vec![(from, to)],
            message.received_at_ms,
        )
        .await;
    }
    if let (Some(seq), false, Route::Local { handle }) =
        (accepted.seq, accepted.duplicate, &message.route)
    {
        state.metrics().send_accepted();
        let stored = StoredMessage {
            seq,
            id: message.id,
            received_at_ms: message.received_at_ms,
            envelope_json: message.envelope_json,
        };
        match Published::new(&stored) {
            Ok(published) => state.broker().publish(handle, published).await,
            // Streams find the message in the store at their next read: it is durable.
            Err(error) => tracing::warn!(%error, "a stored message could not be published"),
        }
    } else if !accepted.duplicate {
        state.metrics().send_accepted();
        if let Some(federate) = state.federate() {
            federate.wake.notify_one();
        }
    }
    respond(&envelope, accepted, local, accepted.duplicate)
}

/// A send body with its envelope's header checked (SPEC §8.1 checks 2–4).
struct Parsed {
    /// The envelope, its signature member not read yet.
    header: EnvelopeHeader,
    /// Whether the recipient is on this server.
    local: bool,
    /// Whether the sender's primary was decoded here, not found among the known ones.
    decoded: bool,
}

/// SPEC §8.1 checks 2–4: strict JSON, the envelope's type, version and header members, and
/// the `to` rule.
fn parse(state: &AppState, bytes: &[u8]) -> Result<Parsed, ApiError> {
    let SendRequest { to, envelope } = SendRequest::parse(bytes)?;
    // A sender's primary decoded for an earlier send is not decoded again.
    let decoded = Cell::new(false);
    let header = EnvelopeHeader::try_from_map_with_known(envelope, |text| {
        let known = state.known_primary(text);
        decoded.set(known.is_none());
        known
    })
    .map_err(|(error, _)| error)?;
    let env = &header.envelope;
    let local = env.to.server() == &state.config().server_name;
    let to_matches = to == env.to.to_string() || (local && to == env.to.handle().as_str());
    if !to_matches && !crate::faults::on("send_ignores_body_to") {
        return Err(ApiError::malformed(
            "\"to\" must equal envelope.to, or its handle for a local recipient",
        ));
    }
    Ok(Parsed {
        header,
        local,
        decoded: decoded.get(),
    })
}

/// The answer to a send refused by checks 5–10: the duplicate it is, if its id was accepted
/// before, otherwise the refusal.
async fn duplicate_or(
    state: &AppState,
    envelope: &SignedEnvelope,
    local: bool,
    refusal: ApiError,
) -> HandlerResult {
    if crate::faults::on("resend_refused_by_later_checks") {
        return Err(refusal);
    }
    match state.store().accepted(&MessageKey::of(envelope)).await? {
        Some(first) => respond(envelope, first, local, true),
        None => Err(refusal),
    }
}

/// SPEC §8.1 checks 5–6: the sender is this server's and registered with the envelope's
/// primary.
async fn check_sender(state: &AppState, env: &Envelope) -> Result<(), ApiError> {
    let here = &state.config().server_name;
    if env.from.server() != here {
        return Err(SpecError::WrongServer {
            expected: here.to_string(),
            got: env.from.server().to_string(),
        }
        .into());
    }
    // Stored primaries are the canonical text of a parsed Primary (SPEC §2.3), so comparing
    // text is exact and spares decoding the stored key's point on every send.
    let sender = state.user(env.from.handle().as_str()).await?;
    let registered = sender.is_some_and(|u| u.primary == env.from_primary.to_string());
    if registered {
        Ok(())
    } else {
        Err(ApiError::UnknownSender {
            sender: env.from.to_string(),
        })
    }
}

/// SPEC §8.1 checks 8–10: the signature, the timestamp window, (§8.8) a suspended sender,
/// the recipient (410 `account_deleted` for a deleted one, SPEC §4.7). Returns where the
/// message goes.
async fn check(
    state: &AppState,
    envelope: &SignedEnvelope,
    local: bool,
    now: u64,
) -> Result<Route, ApiError> {
    let env = &envelope.envelope;
    if !crate::faults::on("skip_envelope_signature_check") {
        envelope.verify()?;
    }
    let skew = u64::try_from(state.config().skew.envelope.as_millis()).unwrap_or(u64::MAX);
    let skew = if crate::faults::on("accept_stale_envelope") {
        u64::MAX
    } else if crate::faults::on("send_window_wide") {
        skew + 5_000
    } else {
        skew
    };
    kez_spec::clock::check_window(env.ts_ms, now, skew)?;
    // SPEC §8.8: once the signature proved the sender, a suspended one is refused.
    let sender = env.from.handle().as_str();
    if state.user_cache().is_suspended(sender) {
        return Err(ApiError::AccountSuspended {
            handle: sender.to_owned(),
        });
    }
    if !local {
        return Ok(Route::Remote {
            server: env.to.server().to_string(),
            address: env.to.to_string(),
        });
    }
    let handle = env.to.handle().as_str();
    if state.user(handle).await?.is_none() {
        let unknown = ApiError::UnknownRecipient {
            recipient: env.to.to_string(),
        };
        if crate::faults::on("send_to_deleted_unknown") {
            return Err(unknown);
        }
        return Err(crate::handlers::users::missing(state, handle, unknown).await);
    }
    Ok(Route::Local {
        handle: handle.to_owned(),
    })
}

/// Check 11 (SPEC §11), run by the store once it knows the message is new.
fn admission(state: &AppState, from: &str, to: &str, conversation: Conversation) -> Admission {
    let state = state.clone();
    let (from, to) = (from.to_owned(), to.to_owned());
    Admission::new(move || {
        state
            .limiters()
            .admit_send(&Send {
                sender: &from,
                recipient: &to,
                conversation,
                origin: None,
            })
            .map_err(Into::into)
    })
}

/// The SPEC §8.1 answer: 201 stored, 202 queued, 200 for a duplicate.
fn respond(
    envelope: &SignedEnvelope,
    accepted: Accepted,
    local: bool,
    duplicate: bool,
) -> HandlerResult {
    let (seq, stored) = match (local, accepted.seq) {
        (true, Some(seq)) => (Some(seq), SendStatus::Stored),
        _ => (None, SendStatus::Queued),
    };
    let duplicate = duplicate && !crate::faults::on("resend_not_marked_duplicate");
    let answer = SendAnswer {
        id: envelope.id.to_string(),
        seq,
        status: stored,
        duplicate: duplicate.then_some(true),
    };
    let status = if duplicate {
        StatusCode::OK
    } else if local {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    body::json(status, &answer)
}
