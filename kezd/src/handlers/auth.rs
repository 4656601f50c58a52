//! Client credentials for inbox routes (SPEC §7): one function so every route answers every
//! failure — bad handle, unknown handle, malformed credential, wrong signature, out of window —
//! with the same 401, and no route can forget a step. A valid credential of a suspended
//! account is then refused with 403 `account_suspended` (SPEC §8.8): only after it verified,
//! so nobody else learns that an account is suspended.

use kez_spec::auth::{AuthRequest, Credential};
use kez_spec::{Handle, Primary};

use crate::clock;
use crate::error::ApiError;
use crate::handlers::RequestContext;

/// The handle of the path, or 401: an invalid handle must not answer differently from an
/// unknown one (SPEC §7.1).
pub fn path_handle(ctx: &RequestContext) -> Result<Handle, ApiError> {
    ctx.param::<Handle>("handle").map_err(|_| unauthorized())
}

/// Verifies `credential` (the `<ts>:<sig>` text, if any) for `request`, signed by `handle`'s
/// registered primary.
pub async fn verify(
    ctx: &RequestContext,
    handle: &Handle,
    request: AuthRequest<'_>,
    credential: Option<&str>,
) -> Result<(), ApiError> {
    let credential =
        Credential::parse(credential.ok_or_else(unauthorized)?).map_err(|_| unauthorized())?;
    let skew = ctx.state().config().skew.auth.as_secs()
        + if crate::faults::on("auth_window_wide") {
            5
        } else {
            0
        };
    // The window is checked before the store is read, so stale or replayed credentials cost
    // nothing but a parse.
    kez_spec::clock::check_window(credential.ts, clock::now_secs(), skew)
        .map_err(|_| unauthorized())?;
    let user = ctx.state().user(handle.as_str()).await?.ok_or_else(|| {
        if crate::faults::on("inbox_unknown_handle_not_found") {
            ApiError::UnknownHandle {
                handle: handle.to_string(),
            }
        } else {
            unauthorized()
        }
    })?;
    let primary = Primary::parse(&user.primary)
        .map_err(|e| ApiError::internal(format!("stored primary is invalid: {e}")))?;
    request
        .verify(&credential, &primary, clock::now_secs(), skew)
        .map_err(|_| unauthorized())?;
    refuse_suspended(ctx, handle.as_str())
}

/// 403 `account_suspended` when `handle`'s account is suspended (SPEC §8.8); to be asked only
/// once the request proved it is that user's.
pub fn refuse_suspended(ctx: &RequestContext, handle: &str) -> Result<(), ApiError> {
    if ctx.state().user_cache().is_suspended(handle) {
        return Err(ApiError::AccountSuspended {
            handle: handle.to_owned(),
        });
    }
    Ok(())
}

/// The one answer to every authentication failure.
pub fn unauthorized() -> ApiError {
    ApiError::Unauthorized {
        reason: "credential missing, malformed, expired or not valid for this request",
    }
}
