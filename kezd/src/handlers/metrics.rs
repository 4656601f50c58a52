//! `GET /metrics`: the Prometheus text exposition of [`crate::metrics::Metrics`]. Outside
//! `/v1/` because it is for the operator's scraper, not for clients (operators who do not want
//! it public filter it at their proxy).

use http::StatusCode;

use crate::body;
use crate::context::{HandlerResult, RequestContext};

/// The exposition format's media type, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn get(ctx: RequestContext) -> HandlerResult {
    let text = ctx.state().metrics().render();
    Ok(body::response(
        StatusCode::OK,
        CONTENT_TYPE,
        body::full(text),
    ))
}
