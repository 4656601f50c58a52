//! # `GET /v1/messages/{id}/status` (SPEC §9.7, credential §7.6)
//!
//! The sender follows a message: stored locally, queued for a peer (with the next attempt and
//! the last error), delivered, or failed. Only the sender may ask.

use http::StatusCode;
use kez_spec::api::status::MessageStatus;
use kez_spec::auth::AuthRequest;
use kez_spec::{Address, MessageId};

use crate::body;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext, auth};

/// Answers a message's delivery status (SPEC §9.7): [`Store::message_status`].
///
/// [`Store::message_status`]: crate::store::Store::message_status
pub async fn get(ctx: RequestContext) -> HandlerResult {
    let id: MessageId = ctx.param("id")?;
    let unknown = || ApiError::UnknownMessage { id: id.to_string() };
    let status = ctx
        .state()
        .store()
        .message_status(&id.to_string())
        .await?
        .ok_or_else(unknown)?;
    // Only messages this server accepted from its own users have a status to show.
    let sender = Address::parse(&status.sender).map_err(|_| unknown())?;
    if sender.server() != &ctx.state().config().server_name {
        return Err(unknown());
    }
    if !crate::faults::on("status_skips_auth") {
        auth::verify(
            &ctx,
            sender.handle(),
            AuthRequest::Status { id: &id },
            ctx.header("x-kez-auth"),
        )
        .await?;
    }
    body::json(
        StatusCode::OK,
        &MessageStatus {
            id: id.to_string(),
            status: status.status.to_owned(),
            attempts: u64::from(status.attempts),
            next_attempt_at: status
                .next_attempt_at_ms
                .and_then(|t| u64::try_from(t).ok()),
            error: status.error,
        },
    )
}
