//! KEZ federation: how one server finds, authenticates and delivers to another (SPEC §9).
//!
//! Both `kezd` and `kezctl` use it; it knows nothing of HTTP routing or SQL. One idea per
//! module:
//!
//! | module | SPEC | why it exists |
//! | --- | --- | --- |
//! | [`ssrf`] | §9.8 | the address ranges federation must never connect to |
//! | [`discovery`] | §9.1 | server name → SRV targets (priority, weighted random) or `name:443`; only §2.2 host names are resolved |
//! | [`resolve`] | §9.1, §9.8 | reqwest resolver: connect to the SRV target while TLS and `Host` name the server; every address checked by the SSRF guard, and only checked addresses connected to |
//! | [`cache`] | §9.1 | TTL cache: clamped TTLs, negative caching, single-flight, bounded size |
//! | [`keys`] | §9.2 | this server's signing keys on disk (0600), rotation, reloading after a rotation |
//! | [`document`] | §9.2 | the signed server document: sign, verify, key validity |
//! | [`user`] | §4.2, §4.4, §9.4 | verifying a remote user's WebFinger answer and handle record |
//! | [`txn`] | §9.4, §9.6 | transaction results and what each HTTP answer means for delivery |
//! | [`txn_body`] | §9.4 | a received transaction's body, each element named by the id of what was sent |
//! | [`client`] | §9, §9.8 | the HTTPS client: documents, origin keys, lookups, signed transactions; no URL whose host is an address reaches reqwest |
//! | [`error`] | | typed errors: [`FederationError`], [`DeliveryError`] |
//!
//! # TLS crypto provider
//!
//! The client itself never depends on a process-wide rustls `CryptoProvider` (reqwest falls
//! back to aws-lc-rs). But a binary that builds rustls configurations itself (kezd's TLS
//! listener, a test server) while more than one provider is compiled in panics in
//! `rustls::ClientConfig::builder()` / `ServerConfig::builder()`. Binaries must therefore
//! install aws-lc-rs at start, before anything else touches TLS:
//! `let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();` (the result is
//! ignored so a second call is harmless).

pub mod cache;
pub mod client;
pub mod discovery;
pub mod document;
pub mod error;
pub mod keys;
pub mod resolve;
pub mod ssrf;
pub mod txn;
pub mod txn_body;
pub mod user;

pub use client::{ClientConfig, FederationClient};
pub use document::{OldVerifyKey, ServerDocument, VerifyKey};
pub use error::{DeliveryError, FederationError};
pub use keys::{LiveKeys, ServerKeys};
pub use txn::{TxnResult, TxnResults, TxnStatus};
pub use user::RemoteUser;

/// Now, Unix milliseconds. A clock before 1970 reads as 0.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
