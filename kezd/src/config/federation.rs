//! `[federation]`: how this server federates (SPEC §9): discovery, whom it federates with,
//! retries and the caps on transactions in flight.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use kez_federation::Cidr;
use kez_spec::ServerName;

use super::ConfigError;
use super::checks::{as_u64, invalid, non_empty_path, nonzero_usize, positive_secs};
use super::raw::RawFederation;

/// How this server federates (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federation {
    /// The DNS server for discovery; `None` for the system resolver.
    pub resolver: Option<SocketAddr>,
    /// PEM CA files trusted besides the system roots.
    pub extra_roots: Vec<PathBuf>,
    /// Whether peers may be at any loopback or private address: the SSRF guard is off
    /// (SPEC §9.8).
    pub allow_private_addresses: bool,
    /// Of the addresses SPEC §9.8 forbids, the only ones peers may be at (a test network's own
    /// hosts, a private deployment's peers).
    pub allowed_private_addresses: Vec<Cidr>,
    /// Refused origins and destinations (SPEC §9.9), as loaded at start: the checks read the
    /// lists in force, which a reload may have replaced (`federate::policy`).
    pub block: Vec<ServerName>,
    /// When non-empty, the only origins and destinations (SPEC §9.9).
    pub allow: Vec<ServerName>,
    /// After this, an undelivered message fails (SPEC §9.6).
    pub retry_window: Duration,
    /// First retry delay.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Total timeout of one outbound request; also the most time one transaction spends
    /// looking its senders up (SPEC §9.4).
    pub request_timeout: Duration,
    /// Transactions one origin may have in flight here at once; more get 429 (SPEC §9.4).
    pub max_inflight_txns_per_origin: NonZeroUsize,
    /// Transactions all origins together may have in flight here at once; more get 503.
    pub max_inflight_txns: NonZeroUsize,
    /// Sender look-ups one transaction runs at once (SPEC §9.4 check 5).
    pub sender_lookup_concurrency: NonZeroUsize,
}

impl Federation {
    /// Validates `[federation]`.
    pub(super) fn from_raw(raw: RawFederation) -> Result<Self, ConfigError> {
        let resolver = match raw.resolver.as_str() {
            "" => None,
            text => Some(
                text.parse()
                    .map_err(|_| invalid("federation.resolver", "must be IP:port"))?,
            ),
        };
        let names = |key: &'static str, list: Vec<String>| {
            list.iter()
                .map(|n| {
                    ServerName::parse(n)
                        .map_err(|e| invalid(key, format!("{n:?} is not a server name: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let backoff_initial =
            positive_secs("federation.backoff_initial_secs", raw.backoff_initial_secs)?;
        let backoff_max = positive_secs("federation.backoff_max_secs", raw.backoff_max_secs)?;
        if backoff_max < backoff_initial {
            return Err(invalid(
                "federation.backoff_max_secs",
                "must not be less than federation.backoff_initial_secs",
            ));
        }
        Ok(Federation {
            resolver,
            extra_roots: raw
                .extra_roots
                .into_iter()
                .map(|p| non_empty_path("federation.extra_roots", p))
                .collect::<Result<_, _>>()?,
            allow_private_addresses: raw.allow_private_addresses,
            allowed_private_addresses: raw
                .allowed_private_addresses
                .iter()
                .map(|text| {
                    text.parse::<Cidr>().map_err(|e| {
                        invalid(
                            "federation.allowed_private_addresses",
                            format!("has an entry that is not an IP or CIDR: {e}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            block: names("federation.block", raw.block)?,
            allow: names("federation.allow", raw.allow)?,
            retry_window: positive_secs("federation.retry_window_secs", raw.retry_window_secs)?,
            backoff_initial,
            backoff_max,
            request_timeout: positive_secs(
                "federation.request_timeout_secs",
                raw.request_timeout_secs,
            )?,
            max_inflight_txns_per_origin: nonzero_usize(
                "federation.max_inflight_txns_per_origin",
                raw.max_inflight_txns_per_origin,
            )?,
            max_inflight_txns: nonzero_usize(
                "federation.max_inflight_txns",
                raw.max_inflight_txns,
            )?,
            sender_lookup_concurrency: nonzero_usize(
                "federation.sender_lookup_concurrency",
                raw.sender_lookup_concurrency,
            )?,
        })
    }

    /// `[federation]` as written in the file.
    pub(super) fn to_raw(&self) -> RawFederation {
        let f = self;
        RawFederation {
            resolver: f.resolver.map(|a| a.to_string()).unwrap_or_default(),
            extra_roots: f
                .extra_roots
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            allow_private_addresses: f.allow_private_addresses,
            allowed_private_addresses: f
                .allowed_private_addresses
                .iter()
                .map(Cidr::to_string)
                .collect(),
            block: f.block.iter().map(ToString::to_string).collect(),
            allow: f.allow.iter().map(ToString::to_string).collect(),
            retry_window_secs: f.retry_window.as_secs(),
            backoff_initial_secs: f.backoff_initial.as_secs(),
            backoff_max_secs: f.backoff_max.as_secs(),
            request_timeout_secs: f.request_timeout.as_secs(),
            max_inflight_txns_per_origin: as_u64(f.max_inflight_txns_per_origin.get()),
            max_inflight_txns: as_u64(f.max_inflight_txns.get()),
            sender_lookup_concurrency: as_u64(f.sender_lookup_concurrency.get()),
        }
    }
}
