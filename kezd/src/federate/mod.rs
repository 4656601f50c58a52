//! kezd's side of federation (SPEC §9): the server's identity and client for peers, and the
//! outbox delivery that turns queued messages into signed transactions. Discovery, keys,
//! signing and the HTTPS client live in the `federation` crate; this module wires them to the
//! store and the configuration.

mod backoff;
mod batch;
pub mod outbox;

use std::sync::Arc;

use federation::{ClientConfig, FederationClient, LiveKeys};
use tokio::sync::Notify;

use crate::config::Config;

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
}

impl Federate {
    /// Loads (or creates) the server keys and builds the client from the configuration.
    pub fn new(config: &Config) -> Result<Self, federation::FederationError> {
        let keys = Arc::new(LiveKeys::open(&config.data_dir)?);
        let f = &config.federation;
        let client = FederationClient::with_live_keys(
            ClientConfig {
                this_server: config.server_name.clone(),
                resolver: f.resolver,
                extra_roots: f.extra_roots.clone(),
                allow_private_addresses: f.allow_private_addresses,
                request_timeout: f.request_timeout,
                user_agent: format!("kezd/{}", env!("CARGO_PKG_VERSION")),
            },
            keys.clone(),
        )?;
        Ok(Federate {
            keys,
            client,
            wake: Notify::new(),
        })
    }
}
