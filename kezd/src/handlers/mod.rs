//! The handlers, one file per resource, and [`routes`], the table that binds them to paths.
//! Credentials are checked in one place each: `auth.rs` for clients (SPEC §7), `origin_auth.rs`
//! for servers (SPEC §9.3).
//!
//! # Writing a handler
//!
//! A handler is an `async fn(RequestContext) -> HandlerResult`. The context gives it:
//! - [`ctx.state()`](RequestContext::state): config, store, limiters, metrics, shutdown;
//! - [`ctx.param::<T>("name")`](RequestContext::param): a path parameter parsed as `T` (the
//!   parse error's `Into<ApiError>` decides the response, e.g. `invalid_handle`);
//! - [`ctx.query::<T>("name")`](RequestContext::query): a query parameter, `Ok(None)` when
//!   absent, `malformed_request` when malformed or repeated;
//! - [`ctx.header("x-kez-auth")`](RequestContext::header), [`ctx.path()`](RequestContext::path)
//!   (as received, for signed strings), [`ctx.client_addr()`](RequestContext::client_addr);
//! - [`ctx.body_bytes().await`](RequestContext::body_bytes): the body, cut off with
//!   `payload_too_large` past the route's limit.
//!
//! It answers with [`body::json`](crate::body::json) (or [`body::response`](crate::body::response)
//! with [`body::stream`](crate::body::stream) for SSE) or an [`ApiError`](crate::error::ApiError), which the service
//! turns into the SPEC §10 JSON error. `?` works on store calls (`StoreError` converts) and on
//! rate-limit checks (`limits::Exceeded` converts to `rate_limited` with `Retry-After`). A panic
//! is caught and answered as `internal`, but is still a bug.
//!
//! ```
//! use http::StatusCode;
//! use kezd::body;
//! use kezd::error::ApiError;
//! use kezd::handlers::{HandlerResult, RequestContext};
//!
//! /// `GET /v1/u/{handle}` (SPEC §4.2).
//! async fn get_user(ctx: RequestContext) -> HandlerResult {
//!     let handle: String = ctx.param("handle")?;
//!     ctx.state().limiters().check_register(ctx.client_addr())?; // any limit, for the example
//!     let user = ctx.state().store().user_by_handle(&handle).await?
//!         .ok_or(ApiError::UnknownHandle { handle })?;
//!     body::json(StatusCode::OK, &kezd::handlers::users::record(ctx.state(), &user)?)
//! }
//! ```
//!
//! # Registering a route
//!
//! Add one line to [`routes`]: `.route(Method::GET, "/v1/u/{handle}", users::get)`, or, for a
//! body limit other than `http.max_body_bytes`,
//! `.route_with_body_limit(Method::POST, "/v1/messages", config.http.max_message_bytes, messages::post)`.
//! Patterns are literal segments and `{name}` parameters; `HEAD` is served by `GET`; `OPTIONS`
//! (CORS preflight), `405` with `Allow`, and `404` for unknown paths are automatic.
//!
//! # Long-lived responses
//!
//! A stream (SSE) returns at once with a [`body::stream`](crate::body::stream) body and keeps
//! producing events; it must select on `ctx.state().shutdown().signalled()` and end when it
//! completes, hold `ctx.state().metrics().live_stream()` while open, and not outlive the
//! drain timeout.

pub mod account;
mod auth;
pub mod healthz;
pub mod inbox;
pub mod messages;
pub mod metrics;
mod origin_auth;
pub mod register;
pub mod server_document;
pub mod status;
pub mod stream;
pub mod txn;
pub mod users;
pub mod webfinger;

use http::Method;

use crate::config::Config;
use crate::router::Router;

pub use crate::context::{HandlerResult, PathParams, RequestContext};

/// The daemon's routing table.
pub fn routes(config: &Config) -> Router {
    Router::new(config.http.max_body_bytes)
        .route(Method::GET, "/v1/healthz", healthz::get)
        .route(Method::GET, "/metrics", metrics::get)
        .route(Method::POST, "/v1/register", register::post)
        .route(Method::POST, "/v1/account/delete", account::delete)
        .route(Method::GET, "/v1/u/{handle}", users::by_handle)
        .route(Method::GET, "/v1/by-primary/{primary}", users::by_primary)
        .route(Method::GET, "/.well-known/webfinger", webfinger::get)
        .route_with_body_limit(
            Method::POST,
            "/v1/messages",
            config
                .http
                .max_message_bytes
                .saturating_add(usize::from(crate::faults::on("send_body_one_byte_over"))),
            messages::post,
        )
        .route(Method::GET, "/v1/inbox/{handle}", inbox::poll)
        .route(Method::POST, "/v1/inbox/{handle}/ack", inbox::ack)
        .route(Method::GET, "/v1/inbox/{handle}/stream", stream::get)
        .route(Method::GET, "/v1/messages/{id}/status", status::get)
        .route(Method::GET, "/.well-known/kez", server_document::get)
        .route_with_body_limit(
            Method::PUT,
            "/v1/federation/txn/{txn_id}",
            std::num::NonZeroUsize::new(
                kez_spec::api::txn::MAX_BYTES
                    + usize::from(crate::faults::on("txn_body_one_byte_over")),
            )
            .unwrap_or(config.http.max_message_bytes),
            txn::put,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_builds() {
        let router = routes(&Config::default());
        assert!(router.allowed("/v1/healthz").is_some());
    }
}
