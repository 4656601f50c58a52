//! The kez-federation crate's errors.
//!
//! Two enums because callers act on two different questions. [`FederationError`] answers
//! "could I learn something about a peer?" (its document, a key, a user): kezd turns it into
//! `unknown_key`, `unavailable`, `unknown_sender`. [`DeliveryError`] answers "what happens to
//! the messages of this transaction?" (SPEC §9.6): retry later, fail them, or re-batch.
//!
//! Both are `Clone` because one failure is shared by every caller waiting on the same
//! single-flight fetch and by the negative cache (see `cache.rs`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kez_spec::{KeyId, ServerName};

/// Why a peer's document, key or user could not be obtained, or local federation state
/// could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FederationError {
    /// The peer answered, authoritatively, that the thing does not exist (404 from WebFinger or
    /// the handle record, 404 for the server document).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// The peer answered that the account was deleted (410 `account_deleted` from WebFinger or
    /// the handle record, SPEC §4.7). Cached like [`FederationError::NotFound`], replacing any
    /// record cached before, so a deletion is learnt at the next lookup that reaches the peer.
    #[error("deleted: {what}")]
    Gone {
        /// What was looked up.
        what: String,
    },
    /// The peer could not be reached or answered with a transient failure (DNS failure,
    /// connection refused, TLS failure, timeout, 5xx, a redirect). Retrying later may help.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for logs.
        reason: String,
    },
    /// The peer answered with something that breaks the protocol: a document that does not
    /// verify, a record whose registration names another server, an oversize body.
    #[error("invalid answer: {reason}")]
    Invalid {
        /// What was wrong, for logs.
        reason: String,
    },
    /// The origin does not publish the key, or not as valid at the time asked (SPEC §9.2).
    #[error("{origin} has no key {key_id} valid at the time of signing")]
    UnknownKey {
        /// The server whose key was asked for.
        origin: ServerName,
        /// The key id named by the request.
        key_id: KeyId,
    },
    /// Every address the peer's name resolved to is in a range the SSRF guard forbids
    /// (SPEC §9.8) and the operator did not allow private addresses.
    #[error("{host} resolves only to forbidden addresses (first: {addr})")]
    ForbiddenAddress {
        /// The DNS name that was resolved.
        host: String,
        /// The first refused address.
        addr: IpAddr,
    },
    /// The peer's SRV record has the target `.`: it offers no federation (SPEC §9.1).
    #[error("{server} offers no federation (SRV target \".\")")]
    NoFederation {
        /// The server name whose SRV record said so.
        server: String,
    },
    /// Reading or writing local state (the key file, CA files) failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error, shared so the error stays `Clone`.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Local configuration is unusable (a malformed key file, an unreadable CA bundle, a
    /// resolver that cannot be built).
    #[error("configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
}

impl FederationError {
    /// Shorthand for [`FederationError::Unavailable`].
    pub fn unavailable(reason: impl Into<String>) -> Self {
        FederationError::Unavailable {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`FederationError::Invalid`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        FederationError::Invalid {
            reason: reason.into(),
        }
    }

    /// A peer's answer that kez-spec refused, as [`FederationError::Invalid`]; `what` names the
    /// answer when the refusal does not.
    pub fn from_peer(what: &str, refusal: kez_spec::Error) -> Self {
        match refusal {
            kez_spec::Error::Malformed(reason) if what.is_empty() => Self::invalid(reason),
            kez_spec::Error::Malformed(reason) => Self::invalid(format!("{what}: {reason}")),
            other if what.is_empty() => Self::invalid(other.to_string()),
            other => Self::invalid(format!("{what}: {other}")),
        }
    }

    /// Shorthand for [`FederationError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FederationError::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Shorthand for [`FederationError::Config`].
    pub fn config(reason: impl Into<String>) -> Self {
        FederationError::Config {
            reason: reason.into(),
        }
    }
}

/// The fate of one transaction (SPEC §9.6), as the outbox must act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later: connection failures, timeouts, TLS failures, 5xx, 401, 408, 429, 503, a
    /// redirect, an unreadable answer. Nothing may be sent to the destination before
    /// `retry_after` when it is set (the peer's `Retry-After`).
    #[error("transient delivery failure: {reason}")]
    Transient {
        /// What went wrong, for logs and the message's last error.
        reason: String,
        /// The peer's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The transaction's messages fail for good with `code`: 403 (`origin_blocked`), other
    /// 4xx (the code from the answer's JSON body), a destination whose addresses the SSRF
    /// guard forbids (`forbidden_address`) or that offers no federation (`no_federation`).
    #[error("permanent delivery failure: {code}")]
    Permanent {
        /// The stable error code the messages fail with.
        code: String,
    },
    /// 413: refetch the destination's document and re-batch within its limits.
    #[error("transaction too large for the destination")]
    TooLarge,
}

impl DeliveryError {
    /// Shorthand for a transient failure without `Retry-After`.
    pub fn transient(reason: impl Into<String>) -> Self {
        DeliveryError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// Shorthand for a permanent failure.
    pub fn permanent(code: impl Into<String>) -> Self {
        DeliveryError::Permanent { code: code.into() }
    }
}
