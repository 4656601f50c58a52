//! kezd's side of federation (SPEC §9): the server's identity and client for peers, and the
//! outbox delivery that turns queued messages into signed transactions. Discovery, keys,
//! signing and the HTTPS client live in the `kez-federation` crate; this module wires them to the
//! store and the configuration.

mod backoff;
mod batch;
pub mod outbox;
pub mod policy;
pub mod txn_slots;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use kez_federation::{ClientConfig, FederationClient, LiveKeys};
use tokio::sync::Notify;

use crate::config::Config;
use policy::OriginPolicy;
use txn_slots::TxnSlots;

/// What federation needs at run time, shared by the handlers and the outbox.
pub struct Federate {
    /// This server's signing keys (`<data_dir>/server-keys.json`), re-read when the file
    /// changes: `kezd keys rotate` takes effect for the next document and transaction
    /// without a restart (SPEC §9.2).
    pub keys: Arc<LiveKeys>,
    /// The client for peers: discovery, documents, lookups, transactions.
    pub client: FederationClient,
    /// Woken when a message is queued for a remote recipient, so delivery starts at once
    /// instead of at the next poll of the outbox.
    pub wake: Notify,
    /// Destinations this instance is backing off from, each with the retry time it set and
    /// the time before which the peer asked not to be sent anything (its `Retry-After`, SPEC
    /// §9.6; 0 if it asked nothing). Kept in memory only: after a restart, or on another
    /// instance of a cluster, a destination simply waits for its backoff.
    backoffs: Mutex<HashMap<String, Backoff>>,
    /// Incoming transactions in flight, capped per origin and in total (SPEC §9.4).
    pub txn_slots: TxnSlots,
    /// Whom this server federates with (SPEC §9.9), replaced on reload.
    pub policy: OriginPolicy,
}

/// A backoff of this instance's, in Unix milliseconds.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    retry_at: i64,
    asked_until: i64,
}

impl Federate {
    /// Loads (or creates) the server keys and builds the client from the configuration.
    pub fn new(config: &Config) -> Result<Self, kez_federation::FederationError> {
        let keys = Arc::new(LiveKeys::open(&config.data_dir)?);
        let f = &config.federation;
        let client = FederationClient::with_live_keys(
            ClientConfig {
                this_server: config.server_name.clone(),
                resolver: f.resolver,
                extra_roots: f.extra_roots.clone(),
                allow_private_addresses: f.allow_private_addresses,
                allowed_private_addresses: f.allowed_private_addresses.clone(),
                request_timeout: if crate::faults::on("no_federation_timeout") {
                    std::time::Duration::from_secs(86_400)
                } else {
                    f.request_timeout
                },
                user_agent: format!("kezd/{}", env!("CARGO_PKG_VERSION")),
            },
            keys.clone(),
        )?;
        Ok(Federate {
            keys,
            client,
            wake: Notify::new(),
            backoffs: Mutex::default(),
            txn_slots: TxnSlots::new(
                f.max_inflight_txns_per_origin.get(),
                f.max_inflight_txns.get(),
            ),
            policy: OriginPolicy::new(f),
        })
    }

    /// `destination` failed and waits until `retry_at`; `asked_until` is when its own
    /// `Retry-After` ends (0 if none).
    pub fn backing_off(&self, destination: &str, retry_at: i64, asked_until: i64) {
        let backoff = Backoff {
            retry_at,
            asked_until,
        };
        self.backoffs().insert(destination.to_owned(), backoff);
    }

    /// `destination` answered a transaction: it is no longer backing off.
    pub fn answered(&self, destination: &str) {
        self.backoffs().remove(destination);
    }

    /// `origin` sent a signed request at `now`, so it is up: if this instance is backing off
    /// from it on its own schedule alone (any `Retry-After` of the peer's has passed), the
    /// retry time to bring forward, forgotten here.
    pub fn up(&self, origin: &str, now: i64) -> Option<i64> {
        let mut backoffs = self.backoffs();
        let backoff = backoffs.get(origin).copied()?;
        if backoff.asked_until > now || backoff.retry_at <= now {
            return None;
        }
        backoffs.remove(origin);
        Some(backoff.retry_at)
    }

    fn backoffs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Backoff>> {
        self.backoffs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
