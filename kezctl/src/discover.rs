//! Finding other servers the way servers do: the `kez-federation` crate's discovery (DNS SRV, then
//! A/AAAA, SPEC §9.1) and its HTTPS client (TLS valid for the server name, WebFinger, the
//! verified handle record and server document). kezctl uses it for addresses that are not on
//! the identity's home server, and `doctor` uses it to see a server as a peer does.
//!
//! kezctl acts for the person at the keyboard, who names the server to reach, so private and
//! loopback addresses are allowed (the SSRF guard of SPEC §9.8 protects servers from names
//! chosen by others). The client's server key is generated in memory and never used: kezctl
//! sends no server-to-server requests.

use std::net::SocketAddr;
use std::sync::Arc;

use kez_federation::discovery::Discovery;
use kez_federation::{ClientConfig, FederationClient, FederationError, ServerKeys};
use kez_spec::{Address, ServerName};

use crate::client::ClientOptions;

/// A discovery-backed client for one run.
pub struct Discoverer {
    /// SRV and address lookups.
    pub discovery: Discovery,
    /// WebFinger, records and documents over HTTPS.
    pub client: FederationClient,
}

impl Discoverer {
    /// Builds discovery through `resolver` (a DNS server `IP:port`, or the system's when
    /// `None`) with the run's CA file and timeout. `this_server` only labels the client.
    pub fn new(options: &ClientOptions, this_server: &ServerName) -> Result<Self, FederationError> {
        let resolver = options.resolver;
        let config = ClientConfig {
            this_server: this_server.clone(),
            resolver,
            extra_roots: options.ca_file.iter().cloned().collect(),
            allow_private_addresses: true,
            allowed_private_addresses: Vec::new(),
            request_timeout: options.timeout,
            user_agent: concat!("kezctl/", env!("CARGO_PKG_VERSION")).into(),
        };
        Ok(Discoverer {
            discovery: Discovery::new(resolver)?,
            client: FederationClient::new(config, Arc::new(ServerKeys::generate()))?,
        })
    }

    /// The verified handle record of `address` (WebFinger, then the record, SPEC §4.4, §4.2),
    /// as JSON for [`crate::record::verify_record`].
    pub async fn record(&self, address: &Address) -> Result<serde_json::Value, FederationError> {
        let user = self.client.lookup(address).await?;
        Ok(user.record.clone())
    }
}

/// The resolver override, parsed: `IP:port` or `IP` (port 53).
pub fn parse_resolver(input: &str) -> Result<SocketAddr, String> {
    input
        .parse::<SocketAddr>()
        .or_else(|_| {
            input
                .parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .map_err(|_| format!("{input:?} is not IP:port"))
}

/// How an exit code sees a discovery failure.
pub fn is_refusal(e: &FederationError) -> bool {
    matches!(
        e,
        FederationError::NotFound { .. } | FederationError::NoFederation { .. }
    )
}
