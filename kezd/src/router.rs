//! The routing table: (method, path pattern) → handler and body limit. Patterns are segments,
//! literal or `{name}` parameters (`/v1/inbox/{handle}/stream`), matched exactly — no
//! trailing-slash or case folding, so every resource has one URL. A framework would do this,
//! but the whole table is a dozen routes and owning it keeps the request path readable.
//!
//! A parameter is the segment exactly as sent, never percent-decoded (SPEC §7.7): credentials
//! sign the path as sent, so `/v1/inbox/%61lice` must not be taken for alice's inbox; and no
//! handle, address, primary, message id or txn id has a character a client needs to escape.
//! A segment with an escape in it is simply not a valid value of its type.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::Method;

use crate::context::{HandlerResult, PathParams, RequestContext};

/// A handler as stored: any `async fn(RequestContext) -> HandlerResult`, boxed.
pub type Handler = Arc<dyn Fn(RequestContext) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// What a (method, pattern) runs.
#[derive(Clone)]
pub struct Endpoint {
    /// The handler.
    pub handler: Handler,
    /// The most body bytes this route reads.
    pub body_limit: usize,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal the request's segment byte for byte (undecoded).
    Literal(&'static str),
    /// Matches any non-empty segment; the segment as sent is the parameter.
    Param(&'static str),
}

/// A path pattern and the methods it accepts.
#[derive(Debug)]
struct Route {
    /// The pattern as written: the label of metrics and logs.
    pattern: &'static str,
    /// Parsed segments.
    segments: Vec<Segment>,
    /// Endpoints by method, in registration order.
    endpoints: Vec<(Method, Endpoint)>,
}

/// The result of looking a request up.
#[derive(Debug)]
pub enum Match<'r> {
    /// A route and method matched.
    Found {
        /// The endpoint to run.
        endpoint: &'r Endpoint,
        /// The matched pattern.
        pattern: &'static str,
        /// The path parameters, as sent.
        params: PathParams,
    },
    /// The path matched, the method did not.
    MethodNotAllowed {
        /// The matched pattern.
        pattern: &'static str,
        /// What the path accepts.
        allow: Vec<Method>,
    },
    /// No pattern matches the path.
    NotFound,
}

/// The routing table. Build it once at start; lookups are read-only.
#[derive(Debug)]
pub struct Router {
    /// Body limit of routes registered without their own.
    default_body_limit: usize,
    /// Routes in registration order; the first whose pattern matches wins.
    routes: Vec<Route>,
}

impl Router {
    /// An empty table whose routes read at most `default_body_limit` body bytes.
    pub fn new(default_body_limit: NonZeroUsize) -> Self {
        Router {
            default_body_limit: default_body_limit.get(),
            routes: Vec::new(),
        }
    }

    /// Adds `method pattern` → `handler`, with the default body limit.
    ///
    /// # Panics
    /// On a malformed pattern or a (method, pattern) registered twice: both are mistakes in
    /// the route table, found by the first test that builds it.
    pub fn route<H, F>(self, method: Method, pattern: &'static str, handler: H) -> Self
    where
        H: Fn(RequestContext) -> F + Send + Sync + 'static,
        F: Future<Output = HandlerResult> + Send + 'static,
    {
        let limit = self.default_body_limit;
        self.add(method, pattern, limit, handler)
    }

    /// Adds a route that reads up to `body_limit` bytes (e.g. `POST /v1/messages`).
    ///
    /// # Panics
    /// As [`route`](Self::route).
    pub fn route_with_body_limit<H, F>(
        self,
        method: Method,
        pattern: &'static str,
        body_limit: NonZeroUsize,
        handler: H,
    ) -> Self
    where
        H: Fn(RequestContext) -> F + Send + Sync + 'static,
        F: Future<Output = HandlerResult> + Send + 'static,
    {
        self.add(method, pattern, body_limit.get(), handler)
    }

    fn add<H, F>(mut self, method: Method, pattern: &'static str, limit: usize, handler: H) -> Self
    where
        H: Fn(RequestContext) -> F + Send + Sync + 'static,
        F: Future<Output = HandlerResult> + Send + 'static,
    {
        let endpoint = Endpoint {
            handler: Arc::new(move |ctx| handler(ctx).boxed()),
            body_limit: limit,
        };
        let segments = parse_pattern(pattern);
        if let Some(route) = self.routes.iter_mut().find(|r| r.pattern == pattern) {
            assert!(
                route.endpoints.iter().all(|(m, _)| *m != method),
                "route {method} {pattern} registered twice"
            );
            route.endpoints.push((method, endpoint));
        } else {
            self.routes.push(Route {
                pattern,
                segments,
                endpoints: vec![(method, endpoint)],
            });
        }
        self
    }

    /// Finds what `method path` runs. `HEAD` runs the `GET` endpoint when the route has no
    /// `HEAD` of its own (hyper sends no body for `HEAD`).
    pub fn lookup(&self, method: &Method, path: &str) -> Match<'_> {
        let Some((route, raw_params)) = self.find(path) else {
            return Match::NotFound;
        };
        let endpoint = route.endpoint(method).or_else(|| {
            (*method == Method::HEAD)
                .then(|| route.endpoint(&Method::GET))
                .flatten()
        });
        let Some(endpoint) = endpoint else {
            return Match::MethodNotAllowed {
                pattern: route.pattern,
                allow: route.allowed(),
            };
        };
        let mut params = PathParams::default();
        for (name, raw) in raw_params {
            params.push(name, raw.to_owned());
        }
        Match::Found {
            endpoint,
            pattern: route.pattern,
            params,
        }
    }

    /// The pattern and methods of the route matching `path`, for `OPTIONS`.
    pub fn allowed(&self, path: &str) -> Option<(&'static str, Vec<Method>)> {
        self.find(path)
            .map(|(route, _)| (route.pattern, route.allowed()))
    }

    /// Every registered (pattern, method), in registration order. The automatic `HEAD` and
    /// `OPTIONS` are not listed: this is the table as written, for the contract test that
    /// compares it with `spec/openapi.yaml`.
    pub fn endpoints(&self) -> Vec<(&'static str, Method)> {
        self.routes
            .iter()
            .flat_map(|route| {
                route
                    .endpoints
                    .iter()
                    .map(|(method, _)| (route.pattern, method.clone()))
            })
            .collect()
    }

    fn find<'p>(&self, path: &'p str) -> Option<(&Route, Vec<(&'static str, &'p str)>)> {
        let segments = split(path);
        self.routes.iter().find_map(|route| {
            if route.segments.len() != segments.len() {
                return None;
            }
            let mut params = Vec::new();
            for (pattern, actual) in route.segments.iter().zip(&segments) {
                match pattern {
                    Segment::Literal(text) if text == actual => {}
                    Segment::Param(name) if !actual.is_empty() => params.push((*name, *actual)),
                    _ => return None,
                }
            }
            Some((route, params))
        })
    }
}

impl Route {
    fn endpoint(&self, method: &Method) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, e)| e)
    }

    fn allowed(&self) -> Vec<Method> {
        let mut allow: Vec<Method> = self.endpoints.iter().map(|(m, _)| m.clone()).collect();
        if allow.contains(&Method::GET) && !allow.contains(&Method::HEAD) {
            allow.push(Method::HEAD);
        }
        allow
    }
}

/// The segments of a path: `/` has none, `/a/b` has `a` and `b`, `/a/` has `a` and ``.
fn split(path: &str) -> Vec<&str> {
    match path.strip_prefix('/') {
        Some("") | None => Vec::new(),
        Some(rest) => rest.split('/').collect(),
    }
}

fn parse_pattern(pattern: &'static str) -> Vec<Segment> {
    assert!(
        pattern.starts_with('/'),
        "pattern {pattern:?} must start with '/'"
    );
    split(pattern)
        .into_iter()
        .map(|segment| {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    !name.is_empty() && !name.contains(['{', '}']),
                    "bad parameter in {pattern:?}"
                );
                Segment::Param(name)
            } else {
                assert!(
                    !segment.is_empty() && !segment.contains(['{', '}']),
                    "bad segment {segment:?} in {pattern:?}"
                );
                Segment::Literal(segment)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;
    use http::StatusCode;

    async fn ok(_ctx: RequestContext) -> HandlerResult {
        Ok(body::response(StatusCode::OK, "text/plain", body::empty()))
    }

    fn table() -> Router {
        Router::new(NonZeroUsize::MIN)
            .route(Method::GET, "/v1/u/{handle}", ok)
            .route(Method::GET, "/v1/inbox/{handle}", ok)
            .route(Method::GET, "/v1/inbox/{handle}/stream", ok)
            .route_with_body_limit(Method::POST, "/v1/messages", NonZeroUsize::MAX, ok)
    }

    #[test]
    fn matches_literals_and_parameters() {
        let router = table();
        match router.lookup(&Method::GET, "/v1/inbox/alice/stream") {
            Match::Found {
                pattern, params, ..
            } => {
                assert_eq!(pattern, "/v1/inbox/{handle}/stream");
                assert_eq!(params.get("handle"), Some("alice"));
            }
            other => panic!("{other:?}"),
        }
        match router.lookup(&Method::GET, "/v1/u/bob@b.example:8443") {
            Match::Found { params, .. } => {
                assert_eq!(params.get("handle"), Some("bob@b.example:8443"));
            }
            other => panic!("{other:?}"),
        }
        match router.lookup(&Method::POST, "/v1/messages") {
            Match::Found { endpoint, .. } => assert_eq!(endpoint.body_limit, usize::MAX),
            other => panic!("{other:?}"),
        }
    }

    /// SPEC §7.7: a parameter is the segment as sent; an escape, well-formed or not, stays in
    /// it, for the handler's type to refuse.
    #[test]
    fn parameters_are_never_percent_decoded() {
        let router = table();
        for (path, sent) in [
            ("/v1/inbox/%61lice", "%61lice"),
            ("/v1/inbox/al%69ce/stream", "al%69ce"),
            ("/v1/u/bob%40b.example", "bob%40b.example"),
            ("/v1/u/%zz", "%zz"),
            ("/v1/u/%ff", "%ff"),
        ] {
            match router.lookup(&Method::GET, path) {
                Match::Found { params, .. } => assert_eq!(params.get("handle"), Some(sent)),
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_paths_and_wrong_methods() {
        let router = table();
        for path in [
            "/",
            "/v1/u/",
            "/v1/u",
            "/v1/u/a/b",
            "/V1/u/a",
            "/v1/messages/",
        ] {
            assert!(
                matches!(router.lookup(&Method::GET, path), Match::NotFound),
                "{path}"
            );
        }
        match router.lookup(&Method::DELETE, "/v1/u/alice") {
            Match::MethodNotAllowed { allow, .. } => {
                assert_eq!(allow, vec![Method::GET, Method::HEAD]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            router.lookup(&Method::HEAD, "/v1/u/alice"),
            Match::Found { .. }
        ));
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_routes_are_refused() {
        let _ = table().route(Method::GET, "/v1/u/{handle}", ok);
    }
}
