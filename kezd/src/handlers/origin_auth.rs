//! Server credentials for federation routes (SPEC §9.3), beside the client credentials of
//! auth.rs: the origin's signed `Authorization` header, checked with the key its document
//! publishes, over the method, path, both server names, the time and the body. One function,
//! so no server-to-server route can forget a step.

use bytes::Bytes;
use kez_spec::s2s::{RequestParts, ServerAuth};

use crate::clock;
use crate::error::{ApiError, Caller};
use crate::federate::Federate;
use crate::handlers::RequestContext;

/// A request proven to come from `auth.origin`, with the body it signed.
pub struct Authenticated {
    /// The verified header: origin, destination, key and time.
    pub auth: ServerAuth,
    /// The request body, read and covered by the signature.
    pub body: Bytes,
}

/// Reads and verifies the request as its origin's: addressed to this server, in the window,
/// from an origin the operator federates with, signed with a key the origin publishes. The
/// body is read only once the key is known, and is bounded like every request's.
pub async fn verify(
    ctx: &mut RequestContext,
    federate: &Federate,
) -> Result<Authenticated, ApiError> {
    let state = ctx.state().clone();
    let header = ctx
        .header("authorization")
        .ok_or_else(|| ApiError::S2sUnauthorized {
            reason: "missing Authorization".into(),
        })?
        .to_owned();
    let auth = ServerAuth::parse(&header).map_err(server_error)?;
    let here = &state.config().server_name;
    let here = if crate::faults::on("accept_wrong_destination") {
        &auth.destination
    } else {
        here
    };
    if &auth.destination != here {
        return Err(ApiError::WrongDestination {
            destination: auth.destination.to_string(),
        });
    }
    let now_s = clock::now_secs();
    let skew = kez_spec::s2s::DEFAULT_SKEW_SECS;
    let skew = if crate::faults::on("accept_stale_s2s") {
        u64::MAX
    } else if crate::faults::on("s2s_window_narrow") {
        skew - 5
    } else {
        skew
    };
    kez_spec::clock::check_window(auth.ts, now_s, skew).map_err(server_error)?;
    if !federate.policy.permits(&auth.origin) {
        return Err(ApiError::OriginBlocked {
            origin: auth.origin.to_string(),
        });
    }
    // The origin is only a claim until its signature is checked with a key fetched from it,
    // so that fetch is a look-up on an unauthenticated client's word (SPEC §13.2).
    if federate.client.document_would_fetch(&auth.origin) {
        state
            .limiters()
            .check_remote_lookup(ctx.client_addr(), auth.origin.host())?;
    }
    let key = federate
        .client
        .origin_key(&auth.origin, &auth.key_id, auth.ts.saturating_mul(1000))
        .await
        .map_err(|e| match e {
            kez_federation::FederationError::UnknownKey { .. } => ApiError::UnknownKey {
                key_id: auth.key_id.to_string(),
            },
            other => ApiError::Unavailable {
                reason: format!("origin's keys: {other}"),
            },
        })?;
    let body = ctx.body_bytes().await?;
    let path_and_query = ctx
        .uri()
        .path_and_query()
        .map_or_else(|| ctx.path().to_owned(), |pq| pq.as_str().to_owned());
    let parts = RequestParts {
        method: ctx.method().as_str(),
        path_and_query: &path_and_query,
        body: &body,
    };
    if !crate::faults::on("skip_s2s_signature_check") {
        auth.verify(parts, here, &key, now_s, skew)
            .map_err(server_error)?;
    }
    Ok(Authenticated { auth, body })
}

/// A protocol rejection of a server's request: signature and timestamp failures are 401 for
/// a server (SPEC §10).
fn server_error(e: kez_spec::Error) -> ApiError {
    ApiError::from_spec(e, Caller::Server)
}
