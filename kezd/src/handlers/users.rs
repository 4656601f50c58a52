//! # `GET /v1/u/{handle}` and `GET /v1/by-primary/{primary}` (SPEC §4.2, §4.3)
//!
//! The handle record: who owns a handle here, with the signed registration so anyone can check
//! the claim without trusting this server's word for it.

use http::StatusCode;
use kez_spec::{Handle, Primary};
use serde_json::{Value, json};

use crate::body;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext};
use crate::state::AppState;
use crate::store::UserRecord;

/// `GET /v1/u/{handle}`: 400 `invalid_handle`, 404 `unknown_handle`.
pub async fn by_handle(ctx: RequestContext) -> HandlerResult {
    let handle: Handle = ctx.param("handle")?;
    let user = ctx
        .state()
        .store()
        .user_by_handle(handle.as_str())
        .await?
        .ok_or_else(|| ApiError::UnknownHandle {
            handle: handle.to_string(),
        })?;
    body::json(StatusCode::OK, &record(ctx.state(), &user)?)
}

/// `GET /v1/by-primary/{primary}`: 400 `invalid_primary`, 404 `unknown_primary`.
pub async fn by_primary(ctx: RequestContext) -> HandlerResult {
    let primary: Primary = ctx.param("primary")?;
    let user = ctx
        .state()
        .store()
        .user_by_primary(&primary.to_string())
        .await?
        .ok_or_else(|| ApiError::UnknownPrimary {
            primary: primary.to_string(),
        })?;
    body::json(StatusCode::OK, &record(ctx.state(), &user)?)
}

/// The handle record of SPEC §4.2, shared with registration's response.
pub fn record(state: &AppState, user: &UserRecord) -> Result<Value, ApiError> {
    let server = &state.config().server_name;
    let registration: Value = serde_json::from_str(&user.registration_json)
        .map_err(|e| ApiError::internal(format!("stored registration is not JSON: {e}")))?;
    Ok(json!({
        "handle": user.handle,
        "server": server.as_str(),
        "address": format!("{}@{}", user.handle, server),
        "primary": user.primary,
        "registered_at": user.registered_at_ms,
        "registration": registration,
    }))
}
