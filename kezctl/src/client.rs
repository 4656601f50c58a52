//! HTTP calls to a KEZ server's client API (SPEC §4, §8, §9.7; `spec/openapi.yaml`), with
//! typed errors. A server's refusal keeps its SPEC §10 code and gets a sentence a person can
//! act on; the server's own `message` is kept for detail but never interpreted (SPEC §10).
//! Bodies are parsed strictly (SPEC §3.3) and read with a size cap: a server is a network
//! peer, not a trusted component.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kez_federation::discovery::Discovery;
use kez_federation::resolve::{GuardedResolver, Mode};
use kez_federation::ssrf::AddressPolicy;

use kez_spec::api::ack::{AckAnswer, AckRequest};
use kez_spec::api::inbox::{InboxItem, InboxPage};
use kez_spec::api::send::{SendAnswer, SendRequest, SendStatus};
use kez_spec::auth::Credential;
use kez_spec::{Address, Handle, MessageId, Primary, ServerName};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The largest response body read (an inbox page of 100 envelopes of at most 256 KiB each
/// fits; anything bigger is not a KEZ answer).
const MAX_BODY: usize = 32 << 20;
/// The header carrying client credentials (SPEC §7.2).
const AUTH_HEADER: &str = "x-kez-auth";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection (DNS, refused, TLS handshake, certificate).
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why, with the causes (a certificate problem shows here).
        reason: String,
    },
    /// No answer in time.
    #[error("{url} did not answer within {secs} s")]
    Timeout {
        /// What was asked.
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// The server answered with a SPEC §10 error.
    #[error("{}", explain(.code, .status, .retry_after))]
    Api {
        /// HTTP status.
        status: u16,
        /// The stable code.
        code: String,
        /// The server's text, for detail only.
        message: String,
        /// `Retry-After` seconds, on 429/503.
        retry_after: Option<u64>,
    },
    /// The answer is not what SPEC says (not JSON, wrong shape, too big).
    #[error("unexpected answer from {url}: {reason}")]
    Protocol {
        /// What was asked.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The CA file given with --ca-file is unusable.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The server URL is not usable.
    #[error("invalid server URL {0:?}: use http://host:port or https://host")]
    BadUrl(String),
}

impl ClientError {
    /// The SPEC §10 code when the server refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// True when the server understood and refused (4xx), as opposed to being unreachable or
    /// failing (5xx, network).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Api { status, .. } if *status < 500)
            || matches!(self, ClientError::BadUrl(_) | ClientError::CaFile { .. })
    }
}

/// The sentence shown for a refusal. Codes are matched, never the server's text.
fn explain(code: &str, status: &u16, retry_after: &Option<u64>) -> String {
    let text = match code {
        "handle_taken" => "that handle is already registered on this server; choose another",
        "primary_taken" => {
            "this identity is already registered on this server under another handle \
             (one handle per key and server)"
        }
        "registration_closed" => {
            "this server is not taking new registrations; ask its operator, or register on \
             another server"
        }
        "registration_token_required" => {
            "this server needs an invitation token: ask its operator for one and pass it with \
             --token (or KEZ_INVITE_TOKEN)"
        }
        "registration_token_invalid" => {
            "this server did not accept the invitation token (unknown, revoked, expired or \
             used up): check it, or ask its operator for a new one"
        }
        "handle_reserved" => {
            "that handle is reserved (role names such as admin, support or postmaster); \
             choose another"
        }
        "invalid_handle" => {
            "that is not a valid handle: 1-32 characters of a-z 0-9 . _ -, starting and ending \
             with a letter or digit"
        }
        "wrong_server" => {
            "this server has another name than the address's server part: check the address \
             and --server (`kezctl doctor` shows the server's name)"
        }
        "stale_timestamp" => {
            "this computer's clock and the server's differ by more than the protocol allows \
             (5 minutes for registration and sending): set the clock right (NTP) and retry"
        }
        "unauthorized" => {
            "the server refused this identity's credential: it may not be registered there, or \
             the clocks differ by more than 60 s"
        }
        "unknown_handle" => "no such handle on that server",
        "unknown_primary" => "no handle is registered for that key on that server",
        "unknown_recipient" => "the recipient does not exist on its server",
        "unknown_sender" => {
            "the server does not know this identity as the sender: register it there first"
        }
        "unknown_message" => "the server has no message with that id from this identity",
        "account_suspended" => {
            "this account is suspended by its server's operator: messages to it are still kept; \
             ask the operator"
        }
        "rate_limited" => "the server's rate limit was reached; wait and retry",
        "payload_too_large" => "the message is too large (at most 256 KiB on the wire)",
        "invalid_signature" | "malformed_signature" | "unsupported_alg" => {
            "the server refused the signature (a bug in kezctl or a damaged key)"
        }
        "invalid_address" => "that is not a valid address (handle@server)",
        "invalid_primary" => "that is not a valid primary (ed25519:<64 hex>)",
        "unavailable" => "the server is temporarily unavailable; retry later",
        "internal" => "the server failed internally; retry later or tell its operator",
        "not_found" => "the server does not offer this endpoint (an older or other server?)",
        _ => "the server refused the request",
    };
    let mut out = format!("{text} (server answered {status} {code})");
    if let Some(secs) = retry_after {
        out.push_str(&format!("; retry after {secs} s"));
    }
    out
}

/// Connection settings shared by every call of one run.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Extra PEM CA certificates trusted besides the system's (test networks, private CAs).
    pub ca_file: Option<PathBuf>,
    /// Total time for one request (streams: connect time only).
    pub timeout: Duration,
    /// The DNS server discovery asks (`--resolver`), or the system's.
    pub resolver: Option<std::net::SocketAddr>,
}

/// The answer to a send (SPEC §8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// The message id.
    pub id: String,
    /// `stored` or `queued`.
    pub status: String,
    /// The seq in a local recipient's inbox.
    pub seq: Option<u64>,
    /// True when the server had already accepted this message.
    pub duplicate: bool,
}

/// One KEZ server's client API.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    stream_http: reqwest::Client,
    base: String,
    timeout: Duration,
}

/// A raw answer, for `doctor`.
#[derive(Debug)]
pub struct RawAnswer {
    /// HTTP status.
    pub status: u16,
    /// `Date`, if sent.
    pub date: Option<String>,
    /// `Content-Type`, if sent.
    pub content_type: Option<String>,
    /// `Access-Control-Allow-Origin`, if sent.
    pub cors: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Client {
    /// A client for the server at `base_url` (`http://127.0.0.1:6969`, `https://kez.lat`),
    /// resolved by the system's resolver.
    pub fn new(base_url: &str, options: &ClientOptions) -> Result<Self, ClientError> {
        Client::build(base_url, options, None)
    }

    /// A client for the server *named* `server`, at `https://<server>`, connecting where
    /// discovery says (SRV target and port, SPEC §9.1) while TLS and `Host` name the server,
    /// as a peer would. Loopback and private addresses are allowed: the user chose the name.
    pub fn for_server(server: &ServerName, options: &ClientOptions) -> Result<Self, ClientError> {
        let discovery = Discovery::new(options.resolver).map_err(|e| ClientError::Unreachable {
            url: format!("https://{server}"),
            reason: e.to_string(),
        })?;
        let mode = if server.port().is_some() {
            Mode::Direct
        } else {
            Mode::Discovered
        };
        let resolver = GuardedResolver::new(
            Arc::new(discovery),
            Arc::new(AddressPolicy::allow_all()),
            mode,
        );
        Client::build(&format!("https://{server}"), options, Some(resolver))
    }

    fn build(
        base_url: &str,
        options: &ClientOptions,
        resolver: Option<GuardedResolver>,
    ) -> Result<Self, ClientError> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(['/', '?', '#', ' '])) {
            return Err(ClientError::BadUrl(base_url.to_owned()));
        }
        let mut certs = Vec::new();
        if let Some(path) = &options.ca_file {
            let ca_error = |reason: String| ClientError::CaFile {
                path: path.clone(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(chain(&e)))?;
            if certs.is_empty() {
                return Err(ca_error("no PEM certificate in it".into()));
            }
        }
        let build = |total: Option<Duration>| {
            // Redirects are not followed: a KEZ server answers where it is asked (SPEC §9.8),
            // and a redirect could move a credential elsewhere.
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(options.timeout)
                .user_agent(concat!("kezctl/", env!("CARGO_PKG_VERSION")))
                .tls_certs_merge(certs.clone());
            if let Some(total) = total {
                builder = builder.timeout(total);
            }
            if let Some(resolver) = &resolver {
                builder = builder.dns_resolver(resolver.clone());
            }
            builder.build().map_err(|e| ClientError::Unreachable {
                url: base.clone(),
                reason: chain(&e),
            })
        };
        Ok(Client {
            http: build(Some(options.timeout))?,
            stream_http: build(None)?,
            base: base.clone(),
            timeout: options.timeout,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A failed request to `url` as an error. `url` is what the error shows: for the live
    /// stream, the path without its credential.
    fn transport_error(&self, url: &str, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            ClientError::Timeout {
                url: url.to_owned(),
                secs: self.timeout.as_secs(),
            }
        } else {
            ClientError::Unreachable {
                url: url.to_owned(),
                reason: transport_reason(e),
            }
        }
    }

    /// Sends a request and returns the strictly parsed JSON of a 2xx answer, with its status.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(u16, Value), ClientError> {
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = read_capped(response, MAX_BODY).await.map_err(|e| match e {
            ReadError::Transport(e) => self.transport_error(url, e),
            ReadError::TooBig => ClientError::Protocol {
                url: url.to_owned(),
                reason: format!("body larger than {MAX_BODY} bytes"),
            },
        })?;
        let parsed = kez_spec::json::parse_strict(&body);
        if (200..300).contains(&status) {
            return parsed
                .map(|v| (status, v))
                .map_err(|e| ClientError::Protocol {
                    url: url.to_owned(),
                    reason: format!("status {status} with a body that is not strict JSON: {e}"),
                });
        }
        let code = parsed
            .as_ref()
            .ok()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match code {
            Some(code) => Err(ClientError::Api {
                status,
                message: parsed
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default(),
                code,
                retry_after,
            }),
            None if status >= 500 => Err(ClientError::Unreachable {
                url: url.to_owned(),
                reason: format!("HTTP {status} without a KEZ error body (a proxy?)"),
            }),
            None => Err(ClientError::Protocol {
                url: url.to_owned(),
                reason: format!("HTTP {status} without a KEZ error body: is this a KEZ server?"),
            }),
        }
    }

    async fn get(&self, path: &str, auth: Option<&Credential>) -> Result<Value, ClientError> {
        let url = self.url(path);
        let mut request = self.http.get(&url);
        if let Some(cred) = auth {
            request = request.header(AUTH_HEADER, cred.to_string());
        }
        self.call(request, &url).await.map(|(_, v)| v)
    }

    /// `GET /v1/healthz` (SPEC §4.5): the server's name and version.
    pub async fn healthz(&self) -> Result<(String, String), ClientError> {
        let url = self.url("/v1/healthz");
        let v = self.get("/v1/healthz", None).await?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ClientError::Protocol {
                    url: url.clone(),
                    reason: format!("no {k:?} in the health answer"),
                })
        };
        Ok((field("server")?, field("version")?))
    }

    /// `POST /v1/register` (SPEC §4.1) with an invitation `token` if given, in the
    /// `KEZ-Registration-Token` header (never inside the signed registration, whose members
    /// the server publishes): the handle record, and whether it was new (201).
    pub async fn register(
        &self,
        registration: &Value,
        token: Option<&str>,
    ) -> Result<(Value, bool), ClientError> {
        let url = self.url("/v1/register");
        let mut request = self.http.post(&url).json(registration);
        if let Some(token) = token {
            request = request.header("KEZ-Registration-Token", token.trim());
        }
        let (status, record) = self.call(request, &url).await?;
        Ok((record, status == 201))
    }

    /// `POST /v1/account/delete` (SPEC §4.7): the answer, with `deleted_at` and
    /// `released_at`.
    pub async fn delete_account(&self, deletion: &Value) -> Result<Value, ClientError> {
        let url = self.url("/v1/account/delete");
        let request = self.http.post(&url).json(deletion);
        self.call(request, &url).await.map(|(_, answer)| answer)
    }

    /// `GET /v1/u/<handle>` (SPEC §4.2).
    pub async fn user(&self, handle: &Handle) -> Result<Value, ClientError> {
        self.get(&format!("/v1/u/{handle}"), None).await
    }

    /// `GET /v1/by-primary/<primary>` (SPEC §4.3).
    pub async fn by_primary(&self, primary: &Primary) -> Result<Value, ClientError> {
        self.get(&format!("/v1/by-primary/{primary}"), None).await
    }

    /// `POST /v1/messages` (SPEC §8.1).
    pub async fn send(&self, to: &Address, envelope: &Value) -> Result<SendResult, ClientError> {
        let url = self.url("/v1/messages");
        let body = SendRequest {
            to: to.to_string(),
            envelope,
        };
        let (_, v) = self.call(self.http.post(&url).json(&body), &url).await?;
        match SendAnswer::deserialize(v) {
            Ok(answer) => Ok(SendResult {
                id: answer.id,
                status: match answer.status {
                    SendStatus::Stored => "stored",
                    SendStatus::Queued => "queued",
                }
                .to_owned(),
                seq: answer.seq,
                duplicate: answer.duplicate == Some(true),
            }),
            Err(e) => Err(ClientError::Protocol {
                url,
                reason: format!("the send answer is not SPEC §8.1's: {e}"),
            }),
        }
    }

    /// `GET /v1/inbox/<handle>?since=&limit=` (SPEC §8.2): the items and `next_since`.
    pub async fn inbox(
        &self,
        handle: &Handle,
        since: u64,
        limit: u32,
        credential: &Credential,
    ) -> Result<(Vec<InboxItem<'static>>, u64), ClientError> {
        let path = format!("/v1/inbox/{handle}?since={since}&limit={limit}");
        let v = self.get(&path, Some(credential)).await?;
        match InboxPage::deserialize(v) {
            Ok(page) => Ok((page.messages, page.next_since)),
            Err(e) => Err(ClientError::Protocol {
                url: self.url(&path),
                reason: format!("the inbox answer is not SPEC §8.2's: {e}"),
            }),
        }
    }

    /// `POST /v1/inbox/<handle>/ack` (SPEC §8.3): how many were deleted.
    pub async fn ack(
        &self,
        handle: &Handle,
        through: u64,
        credential: &Credential,
    ) -> Result<u64, ClientError> {
        let url = self.url(&format!("/v1/inbox/{handle}/ack"));
        let request = self
            .http
            .post(&url)
            .header(AUTH_HEADER, credential.to_string())
            .json(&AckRequest { through });
        let (_, v) = self.call(request, &url).await?;
        Ok(AckAnswer::deserialize(v).map_or(0, |a| a.deleted))
    }

    /// `GET /v1/messages/<id>/status` (SPEC §9.7).
    pub async fn status(
        &self,
        id: &MessageId,
        credential: &Credential,
    ) -> Result<Map<String, Value>, ClientError> {
        let path = format!("/v1/messages/{id}/status");
        match self.get(&path, Some(credential)).await? {
            Value::Object(map) if map.get("status").is_some_and(Value::is_string) => Ok(map),
            _ => Err(ClientError::Protocol {
                url: self.url(&path),
                reason: "the status answer lacks status".into(),
            }),
        }
    }

    /// Opens `GET /v1/inbox/<handle>/stream` (SPEC §8.5) resumed after `since` (§7.4) and
    /// returns the response once it is 200, for the caller to read as SSE.
    pub async fn open_stream(
        &self,
        handle: &Handle,
        since: u64,
        credential: &Credential,
    ) -> Result<reqwest::Response, ClientError> {
        let url = self.url(&format!(
            "/v1/inbox/{handle}/stream?since={since}&auth={credential}"
        ));
        // Shown in errors without the credential.
        let shown = self.url(&format!("/v1/inbox/{handle}/stream"));
        let response = self
            .stream_http
            .get(&url)
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| self.transport_error(&shown, e))?;
        if response.status().as_u16() == 200 {
            return Ok(response);
        }
        // Not a stream: read the error the normal way.
        let status = response.status().as_u16();
        let body = read_capped(response, 64 << 10).await.unwrap_or_default();
        let code = kez_spec::json::parse_strict(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
        Err(match code {
            Some(code) => ClientError::Api {
                status,
                code,
                message: String::new(),
                retry_after: None,
            },
            None => ClientError::Protocol {
                url: shown,
                reason: format!("HTTP {status} instead of an event stream"),
            },
        })
    }

    /// A GET of any path, whatever the status, for diagnosis.
    pub async fn raw_get(&self, path: &str) -> Result<RawAnswer, ClientError> {
        let url = self.url(path);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.transport_error(&url, e))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (date, content_type, cors) = (
            header("date"),
            header("content-type"),
            header("access-control-allow-origin"),
        );
        let status = response.status().as_u16();
        let body = read_capped(response, 1 << 20).await.map_err(|e| match e {
            ReadError::Transport(e) => self.transport_error(&url, e),
            ReadError::TooBig => ClientError::Protocol {
                url: url.clone(),
                reason: "body larger than 1 MiB".into(),
            },
        })?;
        Ok(RawAnswer {
            status,
            date,
            content_type,
            cors,
            body,
        })
    }
}

enum ReadError {
    Transport(reqwest::Error),
    TooBig,
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::TooBig);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a request failed, with its causes, but without its URL: reqwest's message names the
/// URL, and the live stream's carries a credential in its query (`auth=`), which must never
/// be shown (SPEC §13.3). Callers name what they asked for themselves.
pub fn transport_reason(e: reqwest::Error) -> String {
    chain(&e.without_url())
}

/// An error with its causes, so "error sending request" says *why* (refused, certificate…).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
