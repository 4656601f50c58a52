//! KEZ federation: how one server finds, authenticates and delivers to another (SPEC §9).
//!
//! Both `kezd` and `kezctl` use it; it knows nothing of HTTP routing or SQL. What crosses the
//! wire — the server document and its signing, transaction bodies and results, handle records
//! and WebFinger answers — is kez-spec's (re-exported here where callers expect it); this crate
//! holds the keys, finds peers, caches what it learns and talks HTTPS. One idea per module:
//!
//! | module | SPEC | why it exists |
//! | --- | --- | --- |
//! | [`ssrf`] | §9.8 | the address ranges federation must never connect to, and the operator's exceptions |
//! | [`cidr`] | §9.8 | IP networks, for the operator's allow-list of private addresses |
//! | [`discovery`] | §9.1 | server name → SRV targets (priority, weighted random) or `name:443`; only §2.2 host names are resolved |
//! | [`resolve`] | §9.1, §9.8 | reqwest resolver: connect to the SRV target while TLS and `Host` name the server; every address checked by the SSRF guard, and only checked addresses connected to |
//! | [`cache`] | §9.1 | TTL cache: clamped TTLs, negative caching, single-flight, bounded size |
//! | [`keys`] | §9.2 | this server's signing keys on disk (0600), rotation, reloading after a rotation |
//! | [`txn`] | §9.6 | what each HTTP answer to a transaction means for delivery |
//! | [`client`] | §9, §9.8 | the HTTPS client: documents, origin keys, lookups, signed transactions; no URL whose host is an address reaches reqwest |
//! | [`error`] | | typed errors: [`FederationError`], [`DeliveryError`] |
//! | [`faults`] | | with the `faults` feature only: outbound checks a test build can skip, for the conformance suite's self-test |
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
pub mod cidr;
pub mod client;
pub mod discovery;
pub mod error;
// Fault injection for the conformance suite's self-test; see `faults.rs`. Test builds only.
#[cfg(feature = "faults")]
pub mod faults;
/// Without the `faults` feature no fault exists: [`faults::on`] is a constant `false` and
/// documents get every check.
#[cfg(not(feature = "faults"))]
pub mod faults {
    use kez_spec::server_document::ServerDocument;

    /// Always `false`: this build has no fault injection.
    #[inline(always)]
    pub const fn on(_name: &str) -> bool {
        false
    }

    /// [`ServerDocument::verify`]: every check of SPEC §9.2.
    #[inline(always)]
    pub fn verify_document(
        bytes: &[u8],
        expected: &kez_spec::ServerName,
        now_ms: u64,
    ) -> Result<ServerDocument, kez_spec::Error> {
        ServerDocument::verify(bytes, expected, now_ms)
    }
}
pub mod keys;
pub mod resolve;
pub mod ssrf;
pub mod txn;

pub use cidr::Cidr;
pub use client::{ClientConfig, FederationClient};
pub use error::{DeliveryError, FederationError};
pub use keys::{LiveKeys, ServerKeys};
pub use kez_spec::api::handle_record::RemoteUser;
pub use kez_spec::api::txn::{TxnResult, TxnResults, TxnStatus};
pub use kez_spec::server_document::{OldVerifyKey, ServerDocument, VerifyKey};
