//! One request's path through the daemon, in order: request id → client address → client rate
//! limit (a refusal held until its `Retry-After`, refusal_hold.rs) → CORS preflight → route →
//! handler (panics caught) or the browser app's files (with their security headers) → error mapping → CORS and id headers → metrics and
//! one access-log line (naming the origin server of a federation request, and the client
//! address unless the operator keeps none). Every request, whatever happens to it, leaves
//! through the same exit, so every response is counted, logged and correctly labelled.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures_util::FutureExt;
use http::{HeaderValue, Method, Request, Response, header};
use hyper::body::Body as _;
use hyper::body::Incoming;
use kez_spec::ServerName;
use kez_spec::s2s::ServerAuth;
use tracing::Instrument;

use crate::app_headers;
use crate::body::ResponseBody;
use crate::client_addr;
use crate::context::{HandlerResult, RequestContext};
use crate::cors;
use crate::error::ApiError;
use crate::error_response::error_response;
use crate::logging;
use crate::refusal_hold;
use crate::request_id::{self, RequestId};
use crate::router::{Match, Router};
use crate::state::AppState;
use crate::web_app;

/// Route labels for requests that match no pattern: a bounded set, never the raw path.
mod label {
    /// A file of the browser app (embedded, or from the web directory).
    pub const STATIC: &str = "static";
    /// No route, no file.
    pub const UNMATCHED: &str = "unmatched";
    /// Refused before routing (client rate limit).
    pub const REFUSED: &str = "refused";
}

/// Answers one request. Never fails: every error becomes its response here.
pub async fn handle(
    state: AppState,
    router: &Router,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let request_id = RequestId::from_headers(request.headers());
    let client = client_addr::resolve(
        peer.ip(),
        request.headers(),
        &state.config().trusted_proxies,
    );
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let origin = claimed_origin(&path, request.headers());
    let span = tracing::info_span!("request", id = %request_id);

    let (route, result) = dispatch(&state, router, request, client, &request_id)
        .instrument(span.clone())
        .await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            if error.status().is_server_error() {
                span.in_scope(|| tracing::error!(error = ?error, "{error}"));
            }
            error_response(&error)
        }
    };

    if method == Method::HEAD {
        response = without_body(response);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(request_id::HEADER, value);
    }
    if cors::is_api_path(&path) {
        cors::decorate(headers);
    }
    if route == label::STATIC {
        app_headers::decorate(headers);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics().observe_request(route, status, elapsed);
    tracing::info!(
        target: "kezd::access",
        request_id = %request_id,
        method = %method,
        route,
        status,
        duration_ms = elapsed.as_secs_f64() * 1e3,
        client = logging::client_address(&state.config().log, client),
        origin = origin.as_ref().map(tracing::field::display),
        "request"
    );
    response
}

/// `HEAD` gets the status and headers `GET` would have and no body (SPEC §10, RFC 9110
/// §9.3.2). hyper drops the body itself over HTTP/1.1 but sends it over HTTP/2, where a client
/// takes data on an answer to `HEAD` for a protocol error; so the body is dropped here, and
/// its length kept in `Content-Length`. A stream is not opened: nothing would be read of it.
fn without_body(response: Response<ResponseBody>) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    parts.extensions.remove::<crate::detach::Detachable>();
    if let Some(len) = body.size_hint().exact() {
        parts
            .headers
            .entry(header::CONTENT_LENGTH)
            .or_insert(HeaderValue::from(len));
    }
    Response::from_parts(parts, crate::body::empty())
}

/// The origin server a federation request names in its `Authorization` header (SPEC §9.3),
/// for the access log: verified when the status is 2xx, only claimed otherwise.
fn claimed_origin(path: &str, headers: &http::HeaderMap) -> Option<ServerName> {
    if !path.starts_with("/v1/federation/") {
        return None;
    }
    let header = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    ServerAuth::parse(header).ok().map(|auth| auth.origin)
}

async fn dispatch(
    state: &AppState,
    router: &Router,
    request: Request<Incoming>,
    client: std::net::IpAddr,
    request_id: &RequestId,
) -> (&'static str, HandlerResult) {
    if let Err(exceeded) = state.limiters().check_client(client) {
        refusal_hold::hold(exceeded.retry_after).await;
        return (label::REFUSED, Err(exceeded.into()));
    }
    let path = request.uri().path();
    let method = request.method();

    if method == Method::OPTIONS {
        return match router.allowed(path) {
            Some((pattern, allow)) if cors::is_api_path(path) => {
                (pattern, Ok(cors::preflight(&allow)))
            }
            Some((pattern, allow)) => (pattern, Err(ApiError::MethodNotAllowed { allow })),
            None => (label::UNMATCHED, Err(ApiError::NotFound)),
        };
    }

    match router.lookup(method, path) {
        Match::Found {
            endpoint,
            pattern,
            params,
        } => {
            let (parts, body) = request.into_parts();
            let ctx = RequestContext::new(
                state.clone(),
                parts,
                body,
                params,
                client,
                request_id.clone(),
                endpoint.body_limit,
            );
            let outcome = AssertUnwindSafe((endpoint.handler)(ctx))
                .catch_unwind()
                .await;
            let result = outcome.unwrap_or_else(|panic| {
                let detail = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-text panic payload".to_owned());
                Err(ApiError::internal(format!(
                    "handler for {pattern} panicked: {detail}"
                )))
            });
            (pattern, result)
        }
        Match::MethodNotAllowed { pattern, allow } => {
            let allow = if cors::is_api_path(path) {
                cors::with_options(&allow)
            } else {
                allow
            };
            (pattern, Err(ApiError::MethodNotAllowed { allow }))
        }
        Match::NotFound => {
            let is_get = method == Method::GET || method == Method::HEAD;
            if !is_get || cors::is_api_path(path) {
                return (label::UNMATCHED, Err(ApiError::NotFound));
            }
            let served = match state.static_files() {
                Some(files) => files.serve(path).await,
                None => web_app::serve(path, request.headers()),
            };
            match served {
                Ok(response) => (label::STATIC, Ok(response)),
                Err(error) => (label::UNMATCHED, Err(error)),
            }
        }
    }
}
