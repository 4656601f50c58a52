//! # `GET /v1/u/{handle}` and `GET /v1/by-primary/{primary}` (SPEC §4.2, §4.3)
//!
//! The handle record: who owns a handle here, with the signed registration so anyone can check
//! the claim without trusting this server's word for it. `GET /v1/u/bob@other.example` looks a
//! remote user up through this server (WebFinger and the record at their server, registration
//! verified, cached), so a browser app only ever talks to its own server.
//!
//! That look-up makes this server send requests on an unauthenticated client's word, so a
//! look-up that would go out is rationed per client address and per destination host
//! (`[rate] remote_lookups_per_minute`, `remote_lookups_per_server_per_minute`, SPEC §11,
//! §13.2): nobody can use the server to reflect requests at another host. A cached answer
//! costs nothing. Addresses whose server is an IP address in any spelling never get here:
//! like every segment that is neither a handle nor an address, they are `invalid_handle`
//! (SPEC §2.2, §4.2).

use http::StatusCode;
use kez_spec::api::handle_record::HandleRecord;
use kez_spec::{Address, Handle, Primary};
use serde_json::value::RawValue;

use crate::body;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext};
use crate::state::AppState;
use crate::store::UserRecord;

/// `GET /v1/u/{handle}`: 400 `invalid_handle` for a segment that is neither a handle nor an
/// address, 404 `unknown_handle`, 410 `account_deleted` (SPEC §4.7); with an address, the record from its server (404
/// `unknown_handle`, 429 `rate_limited` past the remote look-up limits, 503 `unavailable` when
/// it cannot be reached). A local handle:
/// [`Store::user_by_handle`].
///
/// [`Store::user_by_handle`]: crate::store::Store::user_by_handle
pub async fn by_handle(ctx: RequestContext) -> HandlerResult {
    let text: String = ctx.param("handle")?;
    let text = if crate::faults::on("lowercase_handle_in_path") {
        text.to_ascii_lowercase()
    } else {
        text
    };
    let handle = match text.split_once('@') {
        None => Handle::parse(&text)?,
        Some(_) => {
            // SPEC §4.2: one code for every segment that is neither a handle nor an address,
            // whichever part of an address-like segment is wrong.
            let address = Address::parse(&text).map_err(|e| ApiError::InvalidHandle {
                reason: e.to_string(),
            })?;
            if address.server() != &ctx.state().config().server_name {
                return remote(&ctx, &address).await;
            }
            address.handle().clone()
        }
    };
    let Some(user) = ctx.state().store().user_by_handle(handle.as_str()).await? else {
        let unknown = if crate::faults::on("wrong_error_code_unknown_handle") {
            ApiError::NotFound
        } else {
            ApiError::UnknownHandle {
                handle: handle.to_string(),
            }
        };
        return Err(missing(ctx.state(), handle.as_str(), unknown).await);
    };
    body::json(StatusCode::OK, &record(ctx.state(), &user)?)
}

/// `GET /v1/by-primary/{primary}`: 400 `invalid_primary`, 404 `unknown_primary`, 410
/// `account_deleted` for the primary of a deleted account (SPEC §4.7);
/// [`Store::user_by_primary`], then [`Store::deleted_primary`].
///
/// [`Store::user_by_primary`]: crate::store::Store::user_by_primary
/// [`Store::deleted_primary`]: crate::store::Store::deleted_primary
pub async fn by_primary(ctx: RequestContext) -> HandlerResult {
    let primary: Primary = ctx.param("primary")?;
    let primary = primary.to_string();
    let store = ctx.state().store();
    if let Some(user) = store.user_by_primary(&primary).await? {
        return body::json(StatusCode::OK, &record(ctx.state(), &user)?);
    }
    if store.deleted_primary(&primary).await?.is_some()
        && !crate::faults::on("deleted_primary_unknown")
    {
        return Err(ApiError::AccountDeleted { what: primary });
    }
    Err(ApiError::UnknownPrimary { primary })
}

/// The answer about a local `handle` no user has: 410 `account_deleted` while the tombstone
/// of a deleted account holds it (SPEC §4.7), otherwise `unknown`.
/// [`Store::deleted_handle`].
///
/// [`Store::deleted_handle`]: crate::store::Store::deleted_handle
pub async fn missing(state: &AppState, handle: &str, unknown: ApiError) -> ApiError {
    let now = i64::try_from(crate::clock::now_ms()).unwrap_or(i64::MAX);
    match state.store().deleted_handle(handle, now).await {
        Ok(Some(_)) if !crate::faults::on("deleted_handle_unknown") => ApiError::AccountDeleted {
            what: format!("{handle}@{}", state.config().server_name),
        },
        Ok(_) => unknown,
        Err(error) => error.into(),
    }
}

/// A remote user's record, as their server publishes it (verified by the federation client).
async fn remote(ctx: &RequestContext, address: &Address) -> HandlerResult {
    let unknown = || ApiError::UnknownHandle {
        handle: address.to_string(),
    };
    let federate = ctx.state().federate().ok_or_else(unknown)?;
    if !federate.policy.permits(address.server()) {
        return Err(unknown());
    }
    if federate.client.lookup_would_fetch(address) {
        ctx.state()
            .limiters()
            .check_remote_lookup(ctx.client_addr(), address.server().host())?;
    }
    match federate.client.lookup(address).await {
        Ok(user) => body::json(StatusCode::OK, &user.record),
        Err(kez_federation::FederationError::NotFound { .. }) => Err(unknown()),
        // Their server says the account was deleted; the record cached before is gone with
        // this answer, which is cached in its place (SPEC §4.7).
        Err(kez_federation::FederationError::Gone { .. }) => Err(ApiError::AccountDeleted {
            what: address.to_string(),
        }),
        Err(e) => Err(ApiError::Unavailable {
            reason: format!("looking up {address}: {e}"),
        }),
    }
}

/// The handle record of SPEC §4.2, shared with registration's response; the registration is
/// written as stored.
pub fn record(
    state: &AppState,
    user: &UserRecord,
) -> Result<HandleRecord<Box<RawValue>>, ApiError> {
    let server = &state.config().server_name;
    let mut registration_json = user.registration_json.clone();
    if crate::faults::on("record_drops_unknown_members") {
        registration_json = without_unknown_members(
            &registration_json,
            &["handle", "primary", "server", "signature", "ts", "type"],
        );
    }
    let registration = RawValue::from_string(registration_json)
        .map_err(|e| ApiError::internal(format!("stored registration is not JSON: {e}")))?;
    Ok(HandleRecord {
        handle: user.handle.clone(),
        server: server.to_string(),
        address: format!("{}@{}", user.handle, server),
        primary: user.primary.clone(),
        registered_at: u64::try_from(user.registered_at_ms).unwrap_or(0),
        registration,
    })
}

/// `json`, an object, with only the `known` members: what a server that re-serialises its own
/// model of a signed object serves (kezd's faults `record_drops_unknown_members` and
/// `envelope_served_recanonicalised`; never otherwise).
pub fn without_unknown_members(json: &str, known: &[&str]) -> String {
    let Ok(mut object) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
    else {
        return json.to_owned();
    };
    object.retain(|name, _| known.contains(&name.as_str()));
    serde_json::Value::Object(object).to_string()
}
