//! `GET /v1/healthz` (SPEC §4.5): a liveness answer for load balancers and the conformance
//! suite, naming the server and the implementation version. It touches nothing, so it stays
//! fast and truthful about the process being up, even while the store is slow.

use http::StatusCode;
use kez_spec::api::health::{self, Health};

use crate::body;
use crate::context::{HandlerResult, RequestContext};

/// `GET /v1/healthz` → `{"server","status":"ok","version"}`. Calls no store method: a
/// health check answers while the store is busy.
pub async fn get(ctx: RequestContext) -> HandlerResult {
    body::json(
        StatusCode::OK,
        &Health {
            server: ctx.state().config().server_name.to_string(),
            status: health::OK.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    )
}
