//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics::Metrics`], of the
//! memory budget, of the broker's link and of the outbox's backlog. Outside `/v1/` because it
//! is for the operator's scraper, not for clients (operators who do not want it public filter
//! it at their proxy).

use http::StatusCode;

use crate::context::{HandlerResult, RequestContext};
use crate::{body, metrics};

/// The exposition format's media type, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics` (SPEC §4.6): the counters, and [`Store::outbox_backlog`].
///
/// [`Store::outbox_backlog`]: crate::store::Store::outbox_backlog
pub async fn get(ctx: RequestContext) -> HandlerResult {
    let state = ctx.state();
    let mut text = state.metrics().render();
    metrics::render_inflight(&mut text, state.budget());
    metrics::render_broker(
        &mut text,
        state.broker().connected(),
        state.broker().traffic(),
    );
    // Counted in the store at each scrape; without it the scrape still has everything else.
    match state.store().outbox_backlog().await {
        Ok(backlog) => metrics::render_outbox(&mut text, backlog),
        Err(error) => tracing::warn!(%error, "the outbox backlog for /metrics was not counted"),
    }
    Ok(body::response(
        StatusCode::OK,
        CONTENT_TYPE,
        body::full(text),
    ))
}
