//! # `GET /.well-known/webfinger?resource=acct:<address>` (SPEC §4.4, RFC 7033)
//!
//! How a peer or a client elsewhere resolves `alice@this.server` to her primary and record.

use http::StatusCode;
use kez_spec::Address;
use kez_spec::api::webfinger::Jrd;

use crate::body;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext};

/// Resolves an `acct:` resource to a JRD (SPEC §4.4), 410 `account_deleted` for a deleted
/// account (SPEC §4.7): [`Store::user_by_handle`].
///
/// [`Store::user_by_handle`]: crate::store::Store::user_by_handle
pub async fn get(ctx: RequestContext) -> HandlerResult {
    let resource: String = ctx
        .query("resource")?
        .ok_or_else(|| ApiError::malformed("missing query parameter resource"))?;
    let address = resource
        .strip_prefix("acct:")
        .and_then(|a| Address::parse(a).ok())
        .ok_or_else(|| ApiError::malformed("resource must be acct:<handle>@<server>"))?;
    let config = ctx.state().config();
    let unknown = || ApiError::UnknownHandle {
        handle: address.handle().to_string(),
    };
    if address.server() != &config.server_name {
        return Err(unknown());
    }
    let handle = address.handle().as_str();
    let Some(user) = ctx.state().store().user_by_handle(handle).await? else {
        // A peer learns of a deletion here, at its next lookup (SPEC §4.7).
        return Err(super::users::missing(ctx.state(), handle, unknown()).await);
    };
    let href = format!("{}/v1/u/{}", config.public_base_url.as_str(), user.handle);
    let jrd = Jrd::new(&address, href, &user.primary);
    if crate::faults::on("webfinger_wrong_content_type") {
        return body::json(StatusCode::OK, &jrd);
    }
    body::json_with_type(StatusCode::OK, &jrd, "application/jrd+json")
}
