//! # `POST /v1/messages` (SPEC §8.1)
//!
//! A local user sends a signed envelope. The envelope's own signature authenticates the sender
//! (no session, no cookie); the message is committed durably — to the recipient's inbox, or to
//! the outbox for a remote recipient — before the answer, and published to live streams after.

use http::StatusCode;
use kez_spec::envelope::SignedEnvelope;
use kez_spec::{Error as SpecError, Primary};
use serde_json::{Value, json};

use crate::body;
use crate::broker::Published;
use crate::clock;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext};
use crate::state::AppState;
use crate::store::{Accepted, NewMessage, Route, StoredMessage};

/// Accepts a message for delivery.
pub async fn post(mut ctx: RequestContext) -> HandlerResult {
    let bytes = ctx.body_bytes().await?;
    let mut body = kez_spec::json::parse_object(&bytes)?;
    let to = match body.remove("to") {
        Some(Value::String(to)) => to,
        _ => return Err(ApiError::malformed("missing string member \"to\"")),
    };
    let envelope = match body.remove("envelope") {
        Some(Value::Object(map)) => SignedEnvelope::from_map(map)?,
        _ => return Err(ApiError::malformed("missing object member \"envelope\"")),
    };
    let state = ctx.state().clone();
    let config = state.config();
    let here = &config.server_name;
    let env = &envelope.envelope;
    let local = env.to.server() == here;
    let to_matches = to == env.to.to_string() || (local && to == env.to.handle().as_str());
    if !to_matches {
        return Err(ApiError::malformed(
            "\"to\" must equal envelope.to, or its handle for a local recipient",
        ));
    }
    // A message already accepted is answered as the duplicate it is right after check 4,
    // before the other checks and the rate limits (SPEC §8.1, §8.7): the stored copy passed
    // them all, and a client's retries must not use up its sender's quota.
    if let Some(first) = state.store().accepted(&envelope.id.to_string()).await? {
        return respond(&envelope, first, local, true);
    }
    if env.from.server() != here {
        return Err(SpecError::WrongServer {
            expected: here.to_string(),
            got: env.from.server().to_string(),
        }
        .into());
    }
    let sender = state.user(env.from.handle().as_str()).await?;
    let registered = sender
        .as_ref()
        .and_then(|u| Primary::parse(&u.primary).ok())
        .is_some_and(|p| p == env.from_primary);
    if !registered {
        return Err(ApiError::UnknownSender {
            sender: env.from.to_string(),
        });
    }
    if !crate::faults::on("skip_envelope_signature_check") {
        envelope.verify()?;
    }
    let now = clock::now_ms();
    let route = match admit(&state, &envelope, local, now).await {
        Ok(route) => route,
        // A resend that raced its first copy past the look-up above is still answered as the
        // duplicate it is, even when its timestamp or the rate limit now refuses it.
        Err(refusal) => {
            return match state.store().accepted(&envelope.id.to_string()).await? {
                Some(first) => respond(&envelope, first, local, true),
                None => Err(refusal),
            };
        }
    };
    let message = NewMessage {
        id: envelope.id.to_string(),
        sender: env.from.to_string(),
        route,
        envelope_json: envelope.canonical.clone(),
        received_at_ms: i64::try_from(now).unwrap_or(i64::MAX),
    };
    let accepted = state
        .metrics()
        .time_store("accept", state.store().accept(message.clone()))
        .await?;
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
        state
            .broker()
            .publish(handle, Published::new(&stored))
            .await;
    } else if !accepted.duplicate {
        state.metrics().send_accepted();
        if let Some(federate) = state.federate() {
            federate.wake.notify_one();
        }
    }
    respond(&envelope, accepted, local, accepted.duplicate)
}

/// SPEC §8.1 checks 9–11: the timestamp window, the recipient, the rate limits. Returns where
/// the message goes.
async fn admit(
    state: &AppState,
    envelope: &SignedEnvelope,
    local: bool,
    now: u64,
) -> Result<Route, ApiError> {
    let env = &envelope.envelope;
    let skew = u64::try_from(state.config().skew.envelope.as_millis()).unwrap_or(u64::MAX);
    let skew = if crate::faults::on("accept_stale_envelope") {
        u64::MAX
    } else {
        skew
    };
    kez_spec::clock::check_window(env.ts_ms, now, skew)?;
    let route = if local {
        let handle = env.to.handle().as_str();
        if state.user(handle).await?.is_none() {
            return Err(ApiError::UnknownRecipient {
                recipient: env.to.to_string(),
            });
        }
        Route::Local {
            handle: handle.to_owned(),
        }
    } else {
        Route::Remote {
            server: env.to.server().to_string(),
            address: env.to.to_string(),
        }
    };
    state.limiters().check_sender(&env.from.to_string())?;
    state.limiters().check_recipient(&env.to.to_string())?;
    state
        .limiters()
        .check_contact(&env.from.to_string(), &env.to.to_string())?;
    Ok(route)
}

/// The SPEC §8.1 answer: 201 stored, 202 queued, 200 for a duplicate.
fn respond(
    envelope: &SignedEnvelope,
    accepted: Accepted,
    local: bool,
    duplicate: bool,
) -> HandlerResult {
    let id = envelope.id.to_string();
    let mut answer = match (local, accepted.seq) {
        (true, Some(seq)) => json!({"id": id, "seq": seq, "status": "stored"}),
        _ => json!({"id": id, "status": "queued"}),
    };
    let duplicate = duplicate && !crate::faults::on("resend_not_marked_duplicate");
    let status = if duplicate {
        answer["duplicate"] = true.into();
        StatusCode::OK
    } else if local {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    body::json(status, &answer)
}
