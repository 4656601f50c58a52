//! # `POST /v1/register` (SPEC §4.1)
//!
//! A primary claims a handle here with a signed registration. The checks, in SPEC order, live in
//! `kez_spec::registration`; this handler adds the per-address limit and the uniqueness the
//! store enforces, and answers 201 for a new user or 200 for an identical retry.

use http::StatusCode;
use kez_spec::registration::Registration;

use crate::body;
use crate::clock;
use crate::handlers::{HandlerResult, RequestContext, users};
use crate::store::{RegisterOutcome, UserRecord};

/// Registers a handle (SPEC §4.1): [`Store::register`].
///
/// [`Store::register`]: crate::store::Store::register
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
    let verified = Registration::verify(&bytes, &config.server_name, now, skew)?;
    let user = UserRecord {
        handle: verified.registration.handle.to_string(),
        primary: verified.registration.primary.to_string(),
        registered_at_ms: i64::try_from(now).unwrap_or(i64::MAX),
        registration_json: verified.canonical,
    };
    let (status, user) = match ctx.state().store().register(user).await? {
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
