//! # `GET /.well-known/kez` (SPEC §9.2)
//!
//! The signed server document: this server's name, federation endpoint, published limits and
//! verify keys (current and retired), signed by the current key. Peers verify requests from
//! this server with it. The keys are those of the key file as it is now, so a document served
//! after `kezd keys rotate` already publishes the new key and lists the old one as retired.

use http::StatusCode;
use serde_json::json;

use crate::body;
use crate::clock;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext};
use crate::state::AppState;

/// Serves the document, signed now (SPEC §9.2). Calls no store method: the keys are
/// federation's.
pub async fn get(ctx: RequestContext) -> HandlerResult {
    let federate = ctx.state().federate().ok_or(ApiError::NotFound)?;
    let document = kez_federation::ServerDocument::sign(
        &federate.keys.current(),
        &ctx.state().config().server_name,
        &format!("kezd/{}", env!("CARGO_PKG_VERSION")),
        limits(ctx.state()),
        clock::now_ms(),
    );
    body::json(StatusCode::OK, &document)
}

/// The limits this server enforces, as SPEC §9.2 publishes them.
fn limits(state: &AppState) -> serde_json::Value {
    let c = state.config();
    json!({
        "max_envelope_bytes": kez_spec::envelope::MAX_BYTES,
        "max_body_bytes": c.http.max_message_bytes.get(),
        "max_txn_envelopes": crate::txn_limits::MAX_ENVELOPES,
        "max_txn_bytes": crate::txn_limits::MAX_BYTES,
        "inbox_page_max": c.inbox.page_max.get(),
        "rate": {
            "client_per_minute": c.rate.client_per_minute.get(),
            "register_per_hour": c.rate.register_per_hour.get(),
            "sender_per_minute": c.rate.sender_per_minute.get(),
            "origin_per_minute": c.rate.origin_per_minute.get(),
            "recipient_per_minute": c.rate.recipient_per_minute.get(),
            "recipient_strangers_per_minute": c.rate.recipient_strangers_per_minute.get(),
            "first_contacts_per_hour": c.rate.first_contacts_per_hour.get(),
            "remote_lookups_per_minute": c.rate.remote_lookups_per_minute.get(),
            "remote_lookups_per_server_per_minute": c.rate.remote_lookups_per_server_per_minute.get(),
        },
        "conversations": {
            "memory": crate::conversation::MEMORY.as_secs(),
        },
        "retention": {
            "max_age": c.retention.max_age.as_secs(),
            "max_per_inbox": c.retention.max_per_inbox.get(),
        },
    })
}
