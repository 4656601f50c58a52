//! What a handler receives: the shared state, the request's method, URI and headers, the
//! path parameters (as sent, never decoded: SPEC §7.7), the client's address, the request id, and the body behind a
//! reader that enforces the route's limit. Parameters and query values parse straight into
//! the handler's own types, so a handler never holds an unchecked string it could forget to
//! validate.

use std::fmt::Display;
use std::net::IpAddr;
use std::str::FromStr;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Response, Uri};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::budget::{Budget, Reservation};
use crate::error::ApiError;
use crate::percent;
use crate::request_body::{self, ReadRules};
use crate::request_id::RequestId;
use crate::state::AppState;

/// What every handler returns.
pub type HandlerResult = Result<Response<ResponseBody>, ApiError>;

/// Path parameters by name, each the segment as sent (never percent-decoded), in pattern
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(&'static str, String)>);

impl PathParams {
    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn push(&mut self, name: &'static str, value: String) {
        self.0.push((name, value));
    }
}

/// One request, as a handler sees it.
#[derive(Debug)]
pub struct RequestContext {
    /// The daemon's shared state.
    state: AppState,
    /// Method, URI, version, headers.
    parts: Parts,
    /// Path parameters, as sent.
    params: PathParams,
    /// The client's address (forwarded only from trusted proxies).
    client: IpAddr,
    /// This request's id, also in the response and the log.
    request_id: RequestId,
    /// The body, until read.
    body: Option<Incoming>,
    /// The route's body limit.
    body_limit: usize,
    /// The budget's hold on the body once read: the bytes stay counted until the handler
    /// is done with the request.
    body_reservation: Option<Reservation>,
}

impl RequestContext {
    pub(crate) fn new(
        state: AppState,
        parts: Parts,
        body: Incoming,
        params: PathParams,
        client: IpAddr,
        request_id: RequestId,
        body_limit: usize,
    ) -> Self {
        RequestContext {
            state,
            parts,
            params,
            client,
            request_id,
            body: Some(body),
            body_limit,
            body_reservation: None,
        }
    }

    /// The shared state: config, store, limiters, metrics, shutdown.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.parts.uri
    }

    /// The path, still percent-encoded, exactly as received (what auth strings sign).
    pub fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// A header's value as text; `None` when absent or not visible ASCII (such a value can
    /// never be a valid KEZ credential or cursor, so "absent" is the right reading).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name)?.to_str().ok()
    }

    /// The memory budget as this client sees it: what it holds counts against the total and
    /// against its address's share ([`crate::budget`]).
    pub fn budget(&self) -> Budget {
        let prefix = self.state.config().http.ipv6_prefix_len;
        self.state
            .budget()
            .for_client(crate::client_addr::group(self.client, prefix))
    }

    /// The client's address, for per-address limits and logs.
    pub fn client_addr(&self) -> IpAddr {
        self.client
    }

    /// This request's id.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// Path parameter `name`, parsed as `T`. The parse error becomes the response, so a
    /// handle type whose error maps to `invalid_handle` answers exactly that.
    ///
    /// A name absent from the route's pattern is a bug in the handler: `internal`.
    pub fn param<T>(&self, name: &str) -> Result<T, ApiError>
    where
        T: FromStr,
        T::Err: Into<ApiError>,
    {
        let value = self
            .params
            .get(name)
            .ok_or_else(|| ApiError::internal(format!("route has no path parameter {name:?}")))?;
        if crate::faults::on("percent_decode_paths") {
            let decoded = crate::percent::decode(value, false).unwrap_or_else(|_| value.to_owned());
            return decoded.parse().map_err(Into::into);
        }
        value.parse().map_err(Into::into)
    }

    /// Every path parameter, as sent.
    pub fn params(&self) -> &PathParams {
        &self.params
    }

    /// Query parameter `name`, decoded (`+` is a space) and parsed as `T`; `None` when absent.
    /// A malformed escape, a value that does not parse, or the name given twice (which one
    /// would be signed?) is `malformed_request`.
    pub fn query<T>(&self, name: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let Some(query) = self.parts.uri.query() else {
            return Ok(None);
        };
        let mut found = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded_name = percent::decode(raw_name, true)
                .map_err(|e| ApiError::malformed(format!("query: {e}")))?;
            if decoded_name != name {
                continue;
            }
            if found.is_some() {
                if crate::faults::on("repeated_query_first_wins") {
                    break;
                }
                return Err(ApiError::malformed(format!(
                    "query parameter {name} is repeated"
                )));
            }
            found = Some(
                percent::decode(raw_value, true)
                    .map_err(|e| ApiError::malformed(format!("query parameter {name}: {e}")))?,
            );
        }
        found
            .map(|text| {
                text.parse::<T>()
                    .map_err(|e| ApiError::malformed(format!("query parameter {name}: {e}")))
            })
            .transpose()
    }

    /// The route's body limit in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Reads the whole body by [`crate::request_body`]: `payload_too_large` as soon as it
    /// passes the route's limit, `request_timeout` when it arrives too slowly, `unavailable`
    /// when the memory budget is full or the daemon stops. The body can be read once; a second
    /// call is a handler bug (`internal`).
    pub async fn body_bytes(&mut self) -> Result<Bytes, ApiError> {
        let body = self
            .body
            .take()
            .ok_or_else(|| ApiError::internal("request body read twice"))?;
        let rules = ReadRules::new(&self.state.config().http, self.body_limit);
        let stop = self.state.shutdown().signalled();
        let read = request_body::read(body, rules, &self.budget(), stop).await?;
        self.body_reservation = Some(read.reservation);
        Ok(read.bytes)
    }
}
