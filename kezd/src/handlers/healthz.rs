//! `GET /v1/healthz` (SPEC §4.5): a liveness answer for load balancers and the conformance
//! suite, naming the server and the implementation version. It touches nothing, so it stays
//! fast and truthful about the process being up, even while the store is slow.

use http::StatusCode;
use serde::Serialize;

use crate::body;
use crate::context::{HandlerResult, RequestContext};

/// The response body.
#[derive(Debug, Serialize)]
struct Health<'a> {
    server: &'a str,
    status: &'static str,
    version: &'static str,
}

/// `GET /v1/healthz` → `{"server","status":"ok","version"}`. Calls no store method: a
/// health check answers while the store is busy.
pub async fn get(ctx: RequestContext) -> HandlerResult {
    body::json(
        StatusCode::OK,
        &Health {
            server: ctx.state().config().server_name.as_str(),
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}
