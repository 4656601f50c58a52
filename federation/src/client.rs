//! The HTTPS client for peers (SPEC §9): server documents, origin keys, remote users and
//! signed transactions, with the outbound rules of SPEC §9.8 built in.
//!
//! Every request goes to `https://<server name>/…`: the certificate must be valid for the
//! server name, SNI and `Host` are the server name, and the connection goes where discovery
//! says (SRV target and port) through the SSRF guard (`resolve.rs`). Redirects are never
//! followed, bodies are capped while they are read, and every request has a connect and a
//! total timeout. TLS verification uses the system roots plus the configured extra roots and
//! cannot be turned off.
//!
//! # Only addresses the guarded resolver returned are connected to
//!
//! hyper's connector asks the resolver only when the URL's host is not already an address: a
//! host that parses as an IP literal is connected to at once. And the URL parser reads far more
//! than dotted quads as addresses (`0x7f000001`, `127.1`, `0177.0.0.0x1` all become
//! `127.0.0.1`). So the guard holds only if no URL this client sends has an address for a host.
//! Two things make that so, both before reqwest sees a request:
//!
//! - the host of every URL is a server name, and SPEC §2.2 refuses any name a URL parser could
//!   read as an address (`ServerName` cannot hold one);
//! - every URL is built by [`url`], which checks that the parsed URL's host is a domain name
//!   (the parser's own verdict, not ours) and equal to the server name's host; anything else
//!   is refused as a forbidden address, without a connection.
//!
//! A reqwest connector layer was considered and not used as the guard: in reqwest 0.13 a layer
//! gets the destination as an opaque value and sees the connection only after the TCP and TLS
//! handshakes, which is too late — the connection itself is the port scan. Checking the URL
//! before the request is the one point that precedes every connection; the resolver then
//! checks every address it returns (`resolve.rs`), and those are the only addresses hyper
//! connects to.

use std::collections::HashMap;
use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kez_spec::api::handle_record::{RemoteUser, verify_record};
use kez_spec::api::txn::{TxnResults, is_valid_txn_id};
use kez_spec::api::webfinger::{parse_webfinger, record_path};
use kez_spec::clock::now_ms;
use kez_spec::s2s::{Parties, RequestParts, ServerAuth};
use kez_spec::server_document::{FEDERATION_PATH, ServerDocument};
use kez_spec::{Address, KeyId, ServerName, VerifyingKey};
use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use reqwest::{StatusCode, redirect};
use tokio::time::Instant;

use crate::cache::{CachePolicy, TtlCache};
use crate::cidr::Cidr;
use crate::discovery::Discovery;
use crate::keys::LiveKeys;
use crate::resolve::{GuardedResolver, Mode};
use crate::ssrf::AddressPolicy;
use crate::txn;
use crate::{DeliveryError, FederationError, ServerKeys};

/// Discovery answers (documents, WebFinger, handle records) are cut off past this (SPEC §9.1).
pub const DISCOVERY_BODY_LIMIT: usize = 64 * 1024;
/// Transaction results are cut off past this (SPEC §9.8).
pub const TXN_RESULTS_LIMIT: usize = 1024 * 1024;
/// An unknown key triggers at most one document refetch per origin in this interval (§9.2).
pub const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Connecting may take at most this long (or the request timeout, if shorter).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Origins remembered by the refetch limiter before old entries are pruned.
const REFETCH_MEMORY: usize = 10_000;

/// How this server talks to its peers.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// This server's name: the origin of signed requests.
    pub this_server: ServerName,
    /// The DNS server for SRV and A/AAAA lookups; `None` uses the system resolver.
    pub resolver: Option<SocketAddr>,
    /// PEM files of CA certificates trusted in addition to the system roots.
    pub extra_roots: Vec<PathBuf>,
    /// Lets federation connect to every loopback and private address (SPEC §9.8): the SSRF
    /// guard is off.
    pub allow_private_addresses: bool,
    /// Of the addresses SPEC §9.8 forbids, exactly these networks may be connected to (a test
    /// network's own hosts, a private deployment's peers).
    pub allowed_private_addresses: Vec<Cidr>,
    /// The total timeout of one outbound request.
    pub request_timeout: Duration,
    /// The `User-Agent` of outbound requests.
    pub user_agent: String,
}

/// The federation client. Cheap to clone: clones share caches and connection pools.
#[derive(Clone)]
pub struct FederationClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    /// Signs requests; followed on disk for a running server, so a rotation applies to the
    /// next request.
    keys: Arc<LiveKeys>,
    /// Requests to server names without a port: SRV discovery decides where to connect.
    via_srv: reqwest::Client,
    /// Requests to server names with an explicit port: that host and port.
    direct: reqwest::Client,
    documents: TtlCache<ServerName, Arc<ServerDocument>>,
    users: TtlCache<Address, Arc<RemoteUser>>,
    /// When each origin's document was last refetched because of an unknown key.
    key_refetches: Mutex<HashMap<ServerName, Instant>>,
}

/// A body read up to its cap.
struct Answer {
    headers: HeaderMap,
    body: Bytes,
}

impl FederationClient {
    /// Builds the client: resolver, TLS roots (system plus `extra_roots`), timeouts, no
    /// redirects, no proxies.
    ///
    /// reqwest uses the process-wide rustls `CryptoProvider` when one is installed and
    /// aws-lc-rs otherwise, so building the client never panics on the provider; binaries
    /// that also build rustls configs themselves must install one at start (see the crate
    /// documentation).
    pub fn new(config: ClientConfig, keys: Arc<ServerKeys>) -> Result<Self, FederationError> {
        FederationClient::with_live_keys(config, Arc::new(LiveKeys::fixed(keys)))
    }

    /// [`FederationClient::new`] with keys that may change while the client runs (a server's
    /// key file, re-read after a rotation): each request is signed with the keys current then.
    pub fn with_live_keys(
        config: ClientConfig,
        keys: Arc<LiveKeys>,
    ) -> Result<Self, FederationError> {
        let mut roots = Vec::new();
        for path in &config.extra_roots {
            let pem = std::fs::read(path).map_err(|e| FederationError::io(path, e))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                FederationError::config(format!("{}: not PEM certificates: {e}", path.display()))
            })?;
            if certs.is_empty() {
                return Err(FederationError::config(format!(
                    "{}: no certificate found",
                    path.display()
                )));
            }
            roots.extend(certs);
        }
        let discovery = Arc::new(Discovery::new(config.resolver)?);
        let policy = Arc::new(AddressPolicy {
            allow_all: config.allow_private_addresses,
            allowed: config.allowed_private_addresses.clone(),
        });
        let build = |mode| {
            faulty_tls(reqwest::Client::builder())
                .dns_resolver(GuardedResolver::new(
                    discovery.clone(),
                    policy.clone(),
                    mode,
                ))
                // SPEC §9.8: a 3xx answer is a failed request, never followed.
                .redirect(if crate::faults::on("follow_redirects") {
                    redirect::Policy::limited(10)
                } else {
                    redirect::Policy::none()
                })
                // A proxy would connect to addresses the SSRF guard never saw.
                .no_proxy()
                .https_only(true)
                .tls_certs_merge(roots.clone())
                .connect_timeout(CONNECT_TIMEOUT.min(config.request_timeout))
                .timeout(config.request_timeout)
                .user_agent(config.user_agent.clone())
                .build()
                .map_err(|e| FederationError::config(format!("HTTP client: {}", chain(&e))))
        };
        let via_srv = build(Mode::Discovered)?;
        let direct = build(Mode::Direct)?;
        Ok(FederationClient {
            inner: Arc::new(Inner {
                config,
                keys,
                via_srv,
                direct,
                documents: TtlCache::new(CachePolicy::DOCUMENT),
                users: TtlCache::new(CachePolicy::DISCOVERY),
                key_refetches: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Verified server document of `server` (SPEC §9.2), cached until min(`valid_until`,
    /// 24 h); failures negatively cached (1 min; from 5 s when the server could not be
    /// reached); concurrent callers share one fetch.
    pub async fn server_document(
        &self,
        server: &ServerName,
    ) -> Result<Arc<ServerDocument>, FederationError> {
        self.inner
            .documents
            .get_or_fetch(server, || self.fetch_document(server))
            .await
    }

    /// Fetches `server`'s document again even if one is cached (after a 413, SPEC §9.6). If
    /// the fetch fails the cached document stays.
    pub async fn refresh_server_document(
        &self,
        server: &ServerName,
    ) -> Result<Arc<ServerDocument>, FederationError> {
        self.inner
            .documents
            .refresh(server, || self.fetch_document(server))
            .await
    }

    /// The key `key_id` of `origin` valid at `at_ms` (SPEC §9.2 key validity). When the
    /// cached document does not name the key, the document is refetched, at most once per
    /// minute per origin (callers arriving during that refetch share it).
    pub async fn origin_key(
        &self,
        origin: &ServerName,
        key_id: &KeyId,
        at_ms: u64,
    ) -> Result<VerifyingKey, FederationError> {
        let unknown = || FederationError::UnknownKey {
            origin: origin.clone(),
            key_id: key_id.clone(),
        };
        let doc = self.server_document(origin).await?;
        if let Some(key) = doc.key_at(key_id, at_ms) {
            return Ok(key);
        }
        if doc.knows_key(key_id) {
            // Named but not valid at that time: a newer document cannot make an expired
            // key valid again.
            return Err(unknown());
        }
        if crate::faults::on("no_key_refetch") {
            return Err(unknown());
        }
        let doc = if self.may_refetch(origin) {
            self.refresh_server_document(origin).await?
        } else {
            // Joins a refetch in flight, if any; otherwise the cached document.
            self.server_document(origin).await?
        };
        doc.key_at(key_id, at_ms).ok_or_else(unknown)
    }

    /// WebFinger + handle record of a remote user, registration verified (SPEC §9.4 check
    /// 5), cached ([5 min, 24 h] by the answer's `Cache-Control: max-age`; failures 1 min,
    /// failures to reach the server from 5 s, SPEC §9.1).
    pub async fn lookup(&self, address: &Address) -> Result<Arc<RemoteUser>, FederationError> {
        self.inner
            .users
            .get_or_fetch(address, || self.fetch_user(address))
            .await
    }

    /// True when a [`lookup`](Self::lookup) of `address` would fetch from its server now (no
    /// fresh answer or failure cached, no fetch in flight to join): what a caller that rations
    /// outbound requests charges for (SPEC §13.2).
    pub fn lookup_would_fetch(&self, address: &Address) -> bool {
        self.inner.users.would_fetch(address)
    }

    /// True when [`server_document`](Self::server_document) for `server` would fetch it now.
    pub fn document_would_fetch(&self, server: &ServerName) -> bool {
        self.inner.documents.would_fetch(server)
    }

    /// When to ask again after a failed [`lookup`](Self::lookup) of `address`: when its
    /// failure is forgotten (no new lookup happens before), or, if it is no longer
    /// remembered, after the shortest time a failure is.
    pub fn lookup_retry_after(&self, address: &Address) -> Duration {
        self.inner
            .users
            .failure_expires_in(address)
            .unwrap_or(CachePolicy::DISCOVERY.unreachable_ttl)
    }

    /// Signed `PUT /v1/federation/txn/<txn_id>` (SPEC §9.3–9.4) with `body` as is.
    pub async fn send_transaction(
        &self,
        destination: &ServerName,
        txn_id: &str,
        body: Bytes,
    ) -> Result<TxnResults, DeliveryError> {
        if !is_valid_txn_id(txn_id) {
            return Err(DeliveryError::permanent("malformed_request"));
        }
        let path = format!("{FEDERATION_PATH}/txn/{txn_id}");
        let keys = self.inner.keys.current();
        let auth = ServerAuth::sign(
            RequestParts {
                method: "PUT",
                path_and_query: &path,
                body: &body,
            },
            Parties {
                origin: &self.inner.config.this_server,
                destination,
                key_id: keys.key_id(),
                ts: now_ms() / 1000,
            },
            keys.signing_key(),
        );
        let request = self
            .http(destination)
            .put(
                url(destination, &path)
                    .map_err(|_| DeliveryError::permanent("forbidden_address"))?,
            )
            .header(AUTHORIZATION, auth.to_string())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body);
        let response =
            send_once_more(request)
                .await
                .map_err(|e| match from_reqwest(&e, destination) {
                    FederationError::ForbiddenAddress { .. } => {
                        DeliveryError::permanent("forbidden_address")
                    }
                    FederationError::NoFederation { .. } => {
                        DeliveryError::permanent("no_federation")
                    }
                    other => DeliveryError::transient(other.to_string()),
                })?;
        let status = response.status();
        let retry_after = txn::retry_after(response.headers());
        let limit = if status == StatusCode::OK {
            TXN_RESULTS_LIMIT
        } else {
            DISCOVERY_BODY_LIMIT
        };
        let body = match read_capped(response, limit).await {
            Ok(body) => body,
            Err(e) if status == StatusCode::OK => {
                return Err(DeliveryError::transient(format!(
                    "{destination}: transaction results: {e}"
                )));
            }
            // The error body only refines the code; the status decides.
            Err(_) => Bytes::new(),
        };
        if status != StatusCode::OK {
            return Err(txn::classify(status, retry_after, &body));
        }
        serde_json::from_slice(&body).map_err(|e| {
            DeliveryError::transient(format!(
                "{destination}: unreadable transaction results: {e}"
            ))
        })
    }

    async fn fetch_document(
        &self,
        server: &ServerName,
    ) -> Result<(Arc<ServerDocument>, Duration), FederationError> {
        let answer = self.get(server, "/.well-known/kez").await?;
        let now = now_ms();
        let doc = crate::faults::verify_document(&answer.body, server, now)
            .map_err(|e| FederationError::from_peer("server document", e))?;
        let ttl = if crate::faults::on("document_cached_past_valid_until") {
            Duration::from_secs(24 * 3600)
        } else {
            Duration::from_millis(doc.valid_until_ms.saturating_sub(now))
        };
        Ok((Arc::new(doc), ttl))
    }

    async fn fetch_user(
        &self,
        address: &Address,
    ) -> Result<(Arc<RemoteUser>, Duration), FederationError> {
        let server = address.server();
        // The resource is the address verbatim (SPEC §4.4): handles and server names use
        // only characters that are valid in a query as they are.
        let finger = self
            .get(
                server,
                &format!("/.well-known/webfinger?resource=acct:{address}"),
            )
            .await?;
        let wf = parse_webfinger(&finger.body, address)
            .map_err(|e| FederationError::from_peer("", e))?;
        let path = record_path(&wf.record_href, server, address.handle().as_str());
        let record = self.get(server, &path).await?;
        let user = verify_record(&record.body, address, wf.primary.as_deref(), now_ms())
            .map_err(|e| FederationError::from_peer("", e))?;
        Ok((Arc::new(user), max_age(&record.headers)))
    }

    /// GET with the discovery cap; 200 or an error (404 is [`FederationError::NotFound`], 410
    /// [`FederationError::Gone`]).
    async fn get(&self, server: &ServerName, path: &str) -> Result<Answer, FederationError> {
        let request = self
            .http(server)
            .get(url(server, path)?)
            .header(ACCEPT, "application/json");
        let response = send_once_more(request)
            .await
            .map_err(|e| from_reqwest(&e, server))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status == StatusCode::NOT_FOUND {
            return Err(FederationError::NotFound {
                what: format!("https://{server}{path}"),
            });
        }
        if status == StatusCode::GONE {
            return Err(FederationError::Gone {
                what: format!("https://{server}{path}"),
            });
        }
        if status.is_redirection() {
            return Err(FederationError::unavailable(format!(
                "https://{server}{path}: HTTP {status}; redirects are not followed"
            )));
        }
        if status != StatusCode::OK {
            return Err(FederationError::unavailable(format!(
                "https://{server}{path}: HTTP {status}"
            )));
        }
        let body = read_capped(response, DISCOVERY_BODY_LIMIT)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge(limit) => FederationError::invalid(format!(
                    "https://{server}{path}: body larger than {limit} bytes"
                )),
                BodyError::Read(e) => from_reqwest(&e, server),
            })?;
        Ok(Answer { headers, body })
    }

    fn http(&self, server: &ServerName) -> &reqwest::Client {
        if server.port().is_some() {
            &self.inner.direct
        } else {
            &self.inner.via_srv
        }
    }

    /// True (and recorded) when `origin`'s document may be refetched for an unknown key now.
    fn may_refetch(&self, origin: &ServerName) -> bool {
        if crate::faults::on("key_refetch_storm") {
            return true;
        }
        let now = Instant::now();
        let mut map = self
            .inner
            .key_refetches
            .lock()
            // The map only holds timestamps; a poisoned lock leaves it consistent.
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map
            .get(origin)
            .is_some_and(|last| now.duration_since(*last) < KEY_REFETCH_INTERVAL)
        {
            return false;
        }
        if map.len() >= REFETCH_MEMORY {
            map.retain(|_, last| now.duration_since(*last) < KEY_REFETCH_INTERVAL);
        }
        map.insert(origin.clone(), now);
        true
    }
}

impl std::fmt::Debug for FederationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationClient")
            .field("config", &self.inner.config)
            .field("key_id", self.inner.keys.current().key_id())
            .finish_non_exhaustive()
    }
}

/// The TLS settings of the faults build's certificate faults; in every other build the builder
/// as it is, so verification stays whole (SPEC §9.1).
fn faulty_tls(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    let builder = if crate::faults::on("accept_certificate_for_other_name") {
        // reqwest skips rustls's name check only over its own roots, not the system's: the
        // configured extra roots (added by the caller) are all this build trusts.
        builder
            .tls_certs_only([])
            .tls_danger_accept_invalid_hostnames(true)
    } else {
        builder
    };
    if crate::faults::on("accept_unknown_ca") {
        builder.tls_danger_accept_invalid_certs(true)
    } else {
        builder
    }
}

/// `https://<server name><path>`: the server name, with its port if it has one, is the URL
/// authority, so it is what TLS verifies and what `Host` says. Refused unless the URL parser
/// reads the host as the server name's domain (see the module documentation).
fn url(server: &ServerName, path_and_query: &str) -> Result<reqwest::Url, FederationError> {
    domain_url(server.as_str(), server.host(), path_and_query)
}

/// `https://<authority><path>` when its parsed host is the domain `host`; an address, or any
/// other host, is [`FederationError::ForbiddenAddress`] (or `Invalid` when it does not parse).
fn domain_url(
    authority: &str,
    host: &str,
    path_and_query: &str,
) -> Result<reqwest::Url, FederationError> {
    let text = format!("https://{authority}{path_and_query}");
    let url = reqwest::Url::parse(&text)
        .map_err(|e| FederationError::invalid(format!("{text}: not a URL: {e}")))?;
    if url.domain() == Some(host) && host.parse::<IpAddr>().is_err() {
        return Ok(url);
    }
    let literal = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok());
    match literal {
        Some(addr) => {
            tracing::warn!(authority, %addr, "refusing a URL whose host is an address (SSRF guard)");
            Err(FederationError::ForbiddenAddress {
                host: authority.to_owned(),
                addr,
            })
        }
        None => Err(FederationError::invalid(format!(
            "{text}: the host is not the domain {host}"
        ))),
    }
}

/// Why a body could not be read in full.
#[derive(Debug)]
enum BodyError {
    TooLarge(usize),
    Read(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(limit) => write!(f, "body larger than {limit} bytes"),
            BodyError::Read(e) => write!(f, "reading the body: {}", chain(e)),
        }
    }
}

/// Reads a body, stopping as soon as it would exceed `limit` bytes: a peer cannot make us
/// buffer more than that, whatever its `Content-Length` says.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge(limit));
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The federation error behind a reqwest error: our resolver's own error when the failure
/// came from discovery or the SSRF guard, otherwise `Unavailable` with the whole cause chain.
fn from_reqwest(e: &reqwest::Error, server: &ServerName) -> FederationError {
    federation_error_in(e)
        .unwrap_or_else(|| FederationError::unavailable(format!("{server}: {}", chain(e))))
}

/// A refusal of this crate's own (the SSRF guard, discovery) carried through reqwest's error.
fn federation_error_in(e: &reqwest::Error) -> Option<FederationError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(fe) = s.downcast_ref::<FederationError>() {
            return Some(fe.clone());
        }
        source = s.source();
    }
    None
}

/// Sends `request`, and once more if it failed before any answer for a reason a new
/// connection may not have: a pooled connection the peer closed (it restarted, or dropped an
/// idle connection) fails the request sent on it. Without the repeat, a peer that restarts is
/// reported unavailable for the first request after, and a receiver defers the envelopes whose
/// sender it could not look up for a minute. Every request here is idempotent (a GET, a
/// transaction by its id), so a repeat is answered as the first would have been. Timeouts and
/// this crate's own refusals are not repeated.
async fn send_once_more(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let again = request.try_clone();
    match request.send().await {
        Err(e)
            if (e.is_request() || e.is_connect())
                && !e.is_timeout()
                && federation_error_in(&e).is_none() =>
        {
            match again {
                Some(again) => again.send().await,
                None => Err(e),
            }
        }
        other => other,
    }
}

/// An error and its causes, `: `-separated (reqwest's own message alone says little).
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `Cache-Control: max-age=N` as a TTL; zero when absent (the cache raises it to 5 min).
fn max_age(headers: &HeaderMap) -> Duration {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|n| n.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.2, §9.8: a URL whose host the parser reads as an address never reaches reqwest,
    /// whatever the spelling; a domain does.
    #[test]
    fn only_domain_hosts_make_urls() {
        for (authority, host) in [
            ("0x7f000001", "0x7f000001"),
            ("0x7f000001:6379", "0x7f000001"),
            ("127.1", "127.1"),
            ("0177.0.0.0x1:8448", "0177.0.0.0x1"),
            ("169.254.169.0xfe", "169.254.169.0xfe"),
            ("2130706433", "2130706433"),
            ("127.0.0.1.", "127.0.0.1."),
            ("[::1]:443", "[::1]"),
            ("[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]"),
            ("[64:ff9b::a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]"),
        ] {
            match domain_url(authority, host, "/.well-known/kez") {
                Err(FederationError::ForbiddenAddress { addr, .. }) => {
                    assert!(crate::ssrf::is_forbidden(addr), "{authority} → {addr}");
                }
                other => panic!("{authority}: expected ForbiddenAddress, got {other:?}"),
            }
        }
        let url = domain_url("b.test:8448", "b.test", "/x?y=1").expect("a domain");
        assert_eq!(url.as_str(), "https://b.test:8448/x?y=1");
        assert!(matches!(
            domain_url("B.test", "b.test.evil", "/"),
            Err(FederationError::Invalid { .. })
        ));
    }
}
