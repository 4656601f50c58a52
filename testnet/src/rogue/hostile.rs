//! What a hostile rogue does wrong as a server that others connect to (SPEC §9.1, §9.2, §9.8):
//! a server document that must not be trusted, a certificate that must not verify, redirects
//! that must not be followed. With an address outside the nodes' allow-list
//! ([`super::RogueOptions::unlisted_address`]) these are the outbound checks a server makes
//! of its peers; [`Traffic`] tells a test whether the server connected anyway.

use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Request, Uri};
use hyper::body::Incoming;
use kez_spec::SigningKey;
use kez_spec::clock::now_ms;
use serde_json::Value;

use crate::ca::{IssuedCert, TestCa};
use crate::error::TestnetError;
use crate::testnet::Testnet;

/// Where a redirecting rogue sends every request: the same path under this prefix, which it
/// serves as the original path (so a server that follows the redirect gets real answers).
pub const MOVED_PREFIX: &str = "/moved";

/// What is wrong with the rogue's server document (SPEC §9.2 lists what a receiver checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentFlaw {
    /// The signature does not verify (one hex digit of `sig` changed).
    BadSignature,
    /// `server` names this other server; signed correctly.
    NamesServer(String),
    /// `valid_until` an hour in the past; signed correctly.
    Expired,
    /// `type` is `"registration"`, not `"server"`; signed correctly.
    WrongType,
    /// `ts` ten minutes ahead (the limit is 300 s); signed correctly.
    FromFuture,
    /// `valid_until` [`SHORT_LIVED_MS`] after it is served; signed correctly. No flaw in itself:
    /// a receiver may use it until then, and must fetch it again after (SPEC §9.2).
    ShortLived,
}

/// How long a [`DocumentFlaw::ShortLived`] document is valid, in milliseconds.
pub const SHORT_LIVED_MS: u64 = 3_000;

/// Which certificate the rogue serves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RogueCert {
    /// From the testnet CA, for the rogue's name: what a correct server has.
    #[default]
    ForItsName,
    /// From the testnet CA, for this other name only (SPEC §9.1: must be refused).
    ForName(String),
    /// For the rogue's name, from a CA of its own that no node trusts.
    FromUnknownCa,
}

/// What reached the rogue's listener, counted from its start.
#[derive(Debug, Default)]
pub(super) struct Counters {
    connections: AtomicUsize,
    requests: AtomicUsize,
    document_fetches: AtomicUsize,
    redirected: AtomicUsize,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traffic {
    /// TCP connections accepted (before any TLS handshake).
    pub connections: usize,
    /// HTTP requests received over completed handshakes.
    pub requests: usize,
    /// `GET /.well-known/kez` requests.
    pub document_fetches: usize,
    /// Requests that followed one of its redirects (paths under [`MOVED_PREFIX`]).
    pub redirected: usize,
}

impl Counters {
    pub(super) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn request(&self, path: &str) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if path == "/.well-known/kez" {
            self.document_fetches.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub(super) fn snapshot(&self) -> Traffic {
        Traffic {
            connections: self.connections.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
            document_fetches: self.document_fetches.load(Ordering::SeqCst),
            redirected: self.redirected.load(Ordering::SeqCst),
        }
    }
}

/// The certificate `cert` asks for, for a rogue named `name`.
pub(super) fn certificate(
    net: &Testnet,
    name: &str,
    cert: &RogueCert,
    dir: &std::path::Path,
) -> Result<IssuedCert, TestnetError> {
    match cert {
        RogueCert::ForItsName => net.ca().issue(&[name]),
        RogueCert::ForName(other) => net.ca().issue(&[other.as_str()]),
        // A second CA, generated here and given to nobody: its certificates verify nowhere.
        RogueCert::FromUnknownCa => TestCa::new(dir)?.issue(&[name]),
    }
}

/// `document` as `flaw` spoils it, signed again with `key` where the flaw is not the signature.
pub(super) fn spoil(document: Value, flaw: &DocumentFlaw, key: &SigningKey) -> Value {
    let Value::Object(mut body) = document else {
        return document;
    };
    let key_id = body
        .get("signature")
        .and_then(|s| s.get("key_id"))
        .and_then(Value::as_str)
        .and_then(|id| kez_spec::KeyId::parse(id).ok());
    match flaw {
        DocumentFlaw::BadSignature => {
            if let Some(Value::String(sig)) =
                body.get_mut("signature").and_then(|s| s.get_mut("sig"))
            {
                let last = if sig.ends_with('0') { "1" } else { "0" };
                sig.pop();
                sig.push_str(last);
            }
            return Value::Object(body);
        }
        DocumentFlaw::NamesServer(other) => {
            body.insert("server".into(), other.as_str().into());
        }
        DocumentFlaw::Expired => {
            let now = now_ms();
            body.insert("ts".into(), now.saturating_sub(25 * 3_600_000).into());
            body.insert("valid_until".into(), now.saturating_sub(3_600_000).into());
        }
        DocumentFlaw::WrongType => {
            body.insert("type".into(), "registration".into());
        }
        DocumentFlaw::FromFuture => {
            let ahead = now_ms() + 600_000;
            body.insert("ts".into(), ahead.into());
            body.insert("valid_until".into(), (ahead + 24 * 3_600_000).into());
        }
        DocumentFlaw::ShortLived => {
            body.insert("valid_until".into(), (now_ms() + SHORT_LIVED_MS).into());
        }
    }
    body.remove("signature");
    kez_spec::signed::sign(body, key, key_id)
}

/// For a redirecting rogue: a request under [`MOVED_PREFIX`] comes back as the original path
/// (counted); for any other the error is where to redirect it, the same path under the prefix.
pub(super) fn redirect(
    counters: &Counters,
    request: Request<Incoming>,
) -> Result<Request<Incoming>, String> {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let Some(original) = path_and_query.strip_prefix(MOVED_PREFIX) else {
        return Err(format!("{MOVED_PREFIX}{path_and_query}"));
    };
    counters.redirected.fetch_add(1, Ordering::SeqCst);
    let (mut parts, body) = request.into_parts();
    // The original path parsed as part of a valid URI, so it parses again.
    if let Ok(uri) = original.parse::<Uri>() {
        parts.uri = uri;
    }
    Ok(Request::from_parts(parts, body))
}
