//! # `POST /v1/register` (SPEC §4.1)
//!
//! A primary claims a handle here with a signed registration. The checks, in SPEC order, live in
//! `kez_spec::registration` (with the operator's reserved handles added to check 4); this
//! handler adds the per-address limit, the registration policy (check 10: open, an invitation
//! token in `KEZ-Registration-Token`, or closed) and the uniqueness the store enforces, and
//! answers 201 for a new user or 200 for an identical retry.
//!
//! The policy is checked after the signature and the timestamp, so a request nobody signed
//! cannot burn a token or learn whether one is valid; and a registration already stored is
//! answered 200 before it, so a client that retries after a lost answer needs no token (the
//! token it sent was spent by the first attempt).

use http::StatusCode;
use kez_spec::registration::{Registration, VerifiedRegistration};

use crate::body;
use crate::clock;
use crate::config::Policy;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext, users};
use crate::registration_token;
use crate::store::{RegisterOutcome, TokenSpend, UserRecord};

/// Registers a handle (SPEC §4.1): [`Store::register_with_token`].
///
/// [`Store::register_with_token`]: crate::store::Store::register_with_token
pub async fn post(mut ctx: RequestContext) -> HandlerResult {
    ctx.state().limiters().check_register(ctx.client_addr())?;
    let bytes = ctx.body_bytes().await?;
    let config = ctx.state().config();
    let now = clock::now_ms();
    let skew = u64::try_from(config.skew.registration.as_millis()).unwrap_or(u64::MAX);
    let skew = if crate::faults::on("accept_stale_registration") {
        u64::MAX
    } else if crate::faults::on("registration_window_narrow") {
        skew - 5_000
    } else {
        skew
    };
    let verified = Registration::verify_reserving(&bytes, &config.server_name, now, skew, |h| {
        config.registration.is_reserved(h)
    })?;
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let user = UserRecord {
        handle: verified.registration.handle.to_string(),
        primary: verified.registration.primary.to_string(),
        registered_at_ms: now,
        registration_json: verified.canonical.clone(),
    };
    let outcome = match admission(&ctx, now) {
        Ok(token) => ctx.state().store().register_with_token(user, token).await?,
        Err(refusal) => RegisterOutcome::Existing(stored_retry(&ctx, &verified, refusal).await?),
    };
    let (status, user) = match outcome {
        RegisterOutcome::Created(user) if crate::faults::on("register_wrong_status") => {
            (StatusCode::OK, user)
        }
        RegisterOutcome::Created(user) => (StatusCode::CREATED, user),
        RegisterOutcome::Existing(user) => (StatusCode::OK, user),
    };
    let record = users::record(ctx.state(), &user)?;
    ctx.state().remember_user(user);
    body::json(status, &record)
}

/// SPEC §4.1 check 10: the token to spend (`None` when none is needed), or the refusal a
/// registration gets unless it is already stored. A server that is open ignores a token it is
/// sent; a value that cannot be a token of this server's (two headers included: which one to
/// spend would be a guess) is refused here, a token that could be is judged by the store in
/// the transaction that spends it.
fn admission(ctx: &RequestContext, now_ms: i64) -> Result<Option<TokenSpend>, ApiError> {
    let policy = if crate::faults::on("registration_policy_ignored") {
        Policy::Open
    } else {
        ctx.state().config().registration.policy
    };
    let mut values = ctx.headers().get_all(registration_token::HEADER).iter();
    let token = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(value), None) => Some(registration_token::offered(value.as_bytes(), now_ms)),
        (Some(_), Some(_)) => Some(None),
    };
    match (policy, token) {
        (Policy::Open, _) => Ok(None),
        (Policy::Closed, _) => Err(ApiError::RegistrationClosed),
        (Policy::Token, None) => Err(ApiError::RegistrationTokenRequired),
        (Policy::Token, Some(None)) => Err(ApiError::RegistrationTokenInvalid),
        (Policy::Token, Some(Some(spend))) => Ok(Some(spend)),
    }
}

/// The stored registration `verified` repeats exactly (an idempotent retry, answered 200
/// whatever the policy), or `refusal`.
async fn stored_retry(
    ctx: &RequestContext,
    verified: &VerifiedRegistration,
    refusal: ApiError,
) -> Result<UserRecord, ApiError> {
    let handle = verified.registration.handle.as_str();
    match ctx.state().store().user_by_handle(handle).await? {
        Some(stored) if stored.registration_json == verified.canonical => Ok(stored),
        _ => Err(refusal),
    }
}
