//! # `GET /v1/inbox/{handle}` and `POST /v1/inbox/{handle}/ack` (SPEC §8.2, §8.3)
//!
//! Polling a page of the inbox after a cursor, and acknowledging (deleting) through a seq. Both
//! are signed by the handle's primary (SPEC §7.2, §7.5); parameters are checked before the
//! credential, as SPEC §7.1 orders.

use http::StatusCode;
use kez_spec::auth::AuthRequest;
use kez_spec::cursor::Cursor;

use kez_spec::api::ack::{AckAnswer, AckRequest};
use kez_spec::api::inbox::{ITEM_OVERHEAD, PAGE_OVERHEAD, PageWriter};

use crate::body;
use crate::broker::received_at;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext, auth};

/// A cursor query parameter: a non-negative decimal no larger than 2^53 − 1 (SPEC §8.2).
pub fn cursor(ctx: &RequestContext, name: &str) -> Result<Option<u64>, ApiError> {
    Ok(ctx.query::<Cursor>(name)?.map(|c| c.0))
}

/// Polls the inbox (SPEC §8.2): the credential's user through the user cache
/// ([`Store::user_by_handle`]), then [`Store::inbox`].
///
/// [`Store::user_by_handle`]: crate::store::Store::user_by_handle
/// [`Store::inbox`]: crate::store::Store::inbox
pub async fn poll(ctx: RequestContext) -> HandlerResult {
    let since = cursor(&ctx, "since")?.unwrap_or(0);
    let paging = &ctx.state().config().inbox;
    let limit = match cursor(&ctx, "limit")? {
        Some(0) => return Err(ApiError::malformed("limit must be at least 1")),
        Some(n) => u32::try_from(n)
            .unwrap_or(u32::MAX)
            .min(paging.page_max.get() + u32::from(crate::faults::on("page_cap_off_by_one"))),
        None => paging.page_default.get(),
    };
    let handle = auth::path_handle(&ctx)?;
    let request = AuthRequest::Poll {
        handle: &handle,
        since: if crate::faults::on("poll_ignores_cursor_signature") {
            0
        } else {
            since
        },
    };
    auth::verify(&ctx, &handle, request, ctx.header("x-kez-auth")).await?;
    let max_bytes = paging.page_max_bytes.get();
    // The envelopes read and the page built from them are both in memory until the page is
    // built: held against the budget before the store is read (a full budget answers 503 at
    // once), then only the page until hyper has written it (crate::budget).
    let mut held = ctx
        .budget()
        .try_reserve(2 * u64::try_from(max_bytes).unwrap_or(u64::MAX / 2))?;
    let messages = ctx
        .state()
        .store()
        .inbox(handle.as_str(), since, limit, max_bytes)
        .await?;
    // The store bounded the envelopes; the page's own JSON around them is bounded here, so
    // the whole body stays within `page_max_bytes` (or is one message). `next_since` is the
    // last message included: the client continues from there (SPEC §8.2).
    let mut page = PageWriter::with_capacity(
        max_bytes.min(
            messages
                .iter()
                .map(|m| m.envelope_json.len() + ITEM_OVERHEAD)
                .sum::<usize>()
                + PAGE_OVERHEAD,
        ),
    );
    let mut next_since = since;
    for message in &messages {
        if !page.is_empty() {
            let size = page.len() + message.envelope_json.len() + ITEM_OVERHEAD + PAGE_OVERHEAD;
            if size > max_bytes {
                break;
            }
        }
        // Envelopes are embedded as stored (canonical JSON), not parsed and re-serialised.
        let envelope = if crate::faults::on("envelope_served_recanonicalised") {
            std::borrow::Cow::Owned(crate::handlers::users::without_unknown_members(
                &message.envelope_json,
                &[
                    "ciphertext",
                    "from",
                    "from_primary",
                    "nonce",
                    "signature",
                    "to",
                    "ts",
                    "type",
                    "v",
                ],
            ))
        } else {
            std::borrow::Cow::Borrowed(message.envelope_json.as_str())
        };
        page.push_verified(message.seq, &message.id, received_at(message), &envelope)
            .map_err(stored_not_json)?;
        next_since = message.seq;
    }
    let next_since = if crate::faults::on("poll_wrong_next_since") {
        since
    } else {
        next_since
    };
    let page = page.finish(next_since).map_err(stored_not_json)?;
    drop(messages);
    held.shrink_to(u64::try_from(page.len()).unwrap_or(u64::MAX));
    Ok(body::response(
        StatusCode::OK,
        "application/json",
        body::full(body::reserved(page, held)),
    ))
}

/// Acknowledges (deletes) through a seq (SPEC §8.3): [`Store::ack`].
///
/// [`Store::ack`]: crate::store::Store::ack
pub async fn ack(mut ctx: RequestContext) -> HandlerResult {
    let bytes = ctx.body_bytes().await?;
    let AckRequest { through } = AckRequest::parse(&bytes)?;
    let handle = auth::path_handle(&ctx)?;
    let request = AuthRequest::Ack {
        handle: &handle,
        through,
    };
    auth::verify(&ctx, &handle, request, ctx.header("x-kez-auth")).await?;
    let through = through + u64::from(crate::faults::on("ack_deletes_one_extra"));
    let deleted = ctx.state().store().ack(handle.as_str(), through).await?;
    body::json(StatusCode::OK, &AckAnswer { deleted })
}

/// A stored envelope that is not JSON: the store is damaged, not the request.
fn stored_not_json(e: serde_json::Error) -> ApiError {
    ApiError::internal(format!("a stored envelope is not JSON: {e}"))
}
