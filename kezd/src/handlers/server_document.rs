//! # `GET /.well-known/kez` (SPEC §9.2)
//!
//! The signed server document: this server's name, federation endpoint, published limits and
//! verify keys (current and retired), signed by the current key. Peers verify requests from
//! this server with it. The keys are those of the key file as it is now, so a document served
//! after `kezd keys rotate` already publishes the new key and lists the old one as retired.
//! It also says who may register here (`registration`, SPEC §4.1 check 10), so a client can
//! tell a person "this server needs an invitation" before they try.

use http::StatusCode;
use kez_spec::api::limits::{ConversationLimits, Limits, RateLimits, RetentionLimits};
use kez_spec::server_document::Published;

use crate::body;
use crate::clock;
use crate::error::ApiError;
use crate::handlers::{HandlerResult, RequestContext};
use crate::state::AppState;

/// Serves the document, signed now (SPEC §9.2). Calls no store method: the keys are
/// federation's.
pub async fn get(ctx: RequestContext) -> HandlerResult {
    let federate = ctx.state().federate().ok_or(ApiError::NotFound)?;
    let config = ctx.state().config();
    let version = format!("kezd/{}", env!("CARGO_PKG_VERSION"));
    let limits = limits(ctx.state());
    let policy = if crate::faults::on("document_registration_open") {
        crate::config::Policy::Open
    } else {
        config.registration.policy
    };
    let published = Published::new(&version, &limits).registration(policy.as_str());
    let document =
        federate
            .keys
            .current()
            .sign_document(&config.server_name, &published, clock::now_ms())?;
    body::json(StatusCode::OK, &document)
}

/// The limits this server enforces, as SPEC §9.2 publishes them.
fn limits(state: &AppState) -> Limits {
    let c = state.config();
    let n = |v: u32| u64::from(v);
    // The quotas in force, which a reload may have changed since start.
    let limiters = state.limiters();
    let rate = limiters.rates();
    Limits {
        max_envelope_bytes: len(kez_spec::envelope::MAX_BYTES),
        // SPEC §6.5: the body every client route accepts, sends and the rest alike.
        max_body_bytes: len(c.http.max_body_bytes.min(c.http.max_message_bytes).get()),
        max_txn_envelopes: len(kez_spec::api::txn::MAX_ENVELOPES),
        max_txn_bytes: len(kez_spec::api::txn::MAX_BYTES),
        inbox_page_max: n(c.inbox.page_max.get()),
        // Counted per instance: the cluster as a whole accepts `cluster_instances` times each.
        rate: RateLimits {
            client_per_minute: rate.published(rate.client_per_minute),
            register_per_hour: rate.published(rate.register_per_hour),
            sender_per_minute: rate.published(rate.sender_per_minute),
            origin_per_minute: rate.published(rate.origin_per_minute),
            recipient_per_minute: rate.published(rate.recipient_per_minute),
            recipient_strangers_per_minute: rate.published(rate.recipient_strangers_per_minute),
            first_contacts_per_hour: rate.published(rate.first_contacts_per_hour),
            remote_lookups_per_minute: rate.published(rate.remote_lookups_per_minute),
            remote_lookups_per_server_per_minute: rate
                .published(rate.remote_lookups_per_server_per_minute),
        },
        conversations: ConversationLimits {
            memory: crate::conversation::MEMORY.as_secs(),
        },
        retention: RetentionLimits {
            max_age: c.retention.max_age.as_secs(),
            max_per_inbox: c.retention.max_per_inbox.get(),
        },
    }
}

/// A size as the document publishes it.
fn len(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
