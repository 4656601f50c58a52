//! The bridge between discovery and the HTTP client: a `reqwest::dns::Resolve` that makes
//! requests to `https://<server name>/…` connect where SPEC §9.1 says, through the SSRF guard.
//!
//! reqwest takes the URL's host for TLS SNI, certificate verification and `Host`, and asks
//! the resolver only for socket addresses. So the URL names the server (the certificate must
//! be valid for the server name, not the SRV target) while this resolver returns the SRV
//! targets' addresses and ports. Every address is checked by the SSRF guard (`ssrf::AddressPolicy`) here, and
//! reqwest connects to exactly the addresses returned: nothing resolves the name a second
//! time, so DNS rebinding cannot swap in an address that was not checked (SPEC §9.8).
//!
//! The resolver sees only the host, not the URL's port, so a client uses one resolver per
//! [`Mode`]: names without a port go through SRV discovery; names with an explicit port
//! (development servers) resolve their host's A/AAAA records and the URL's port is used.

use std::net::SocketAddr;
use std::sync::Arc;

use kez_spec::ServerName;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::FederationError;
use crate::discovery::Discovery;
use crate::ssrf::AddressPolicy;

/// How the resolver turns a URL host into addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The host is a server name without a port: SRV discovery, ports from the SRV records
    /// (443 without SRV).
    Discovered,
    /// The host belongs to a server name with an explicit port: A/AAAA only, the URL's port.
    Direct,
}

/// A `reqwest` resolver that applies KEZ discovery and the SSRF guard.
#[derive(Clone)]
pub struct GuardedResolver {
    discovery: Arc<Discovery>,
    /// Which forbidden addresses the operator allows (tests, private deployments).
    policy: Arc<AddressPolicy>,
    mode: Mode,
}

impl GuardedResolver {
    /// A resolver over `discovery` in `mode`.
    pub fn new(discovery: Arc<Discovery>, policy: Arc<AddressPolicy>, mode: Mode) -> Self {
        GuardedResolver {
            discovery,
            policy,
            mode,
        }
    }

    /// The checked socket addresses for a URL host, in the order to try them.
    pub async fn addresses(&self, host: &str) -> Result<Vec<SocketAddr>, FederationError> {
        let addrs = match self.mode {
            Mode::Discovered => {
                let server = ServerName::parse(host)
                    .map_err(|e| FederationError::invalid(format!("{host:?}: {e}")))?;
                self.discovery.socket_addrs(&server).await?
            }
            // Port 0 tells the connector to use the URL's (explicit) port.
            Mode::Direct => self
                .discovery
                .addresses(host)
                .await?
                .iter()
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect(),
        };
        let checked = guard(host, addrs, &self.policy)?;
        if crate::faults::on("connect_to_unchecked_address") && self.mode == Mode::Discovered {
            return Ok(self.rebound(host, checked).await);
        }
        Ok(checked)
    }

    /// kezd's fault `connect_to_unchecked_address`: after the check, each target is looked up
    /// again and the new answer is connected to — the DNS rebinding SPEC §9.8 forbids.
    async fn rebound(&self, host: &str, checked: Vec<SocketAddr>) -> Vec<SocketAddr> {
        let Ok(server) = ServerName::parse(host) else {
            return checked;
        };
        let Ok(targets) = self.discovery.targets(&server).await else {
            return checked;
        };
        let mut again = Vec::new();
        for target in targets {
            let ips = self.discovery.addresses_uncached(&target.host).await;
            again.extend(ips.into_iter().map(|ip| SocketAddr::new(ip, target.port)));
        }
        if again.is_empty() { checked } else { again }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = this.addresses(&host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Drops the addresses SPEC §9.8 forbids and `policy` does not allow; fails when none is left.
pub fn guard(
    host: &str,
    addrs: Vec<SocketAddr>,
    policy: &AddressPolicy,
) -> Result<Vec<SocketAddr>, FederationError> {
    if crate::faults::on("skip_ssrf_guard") {
        return Ok(addrs);
    }
    let first = addrs.first().map(SocketAddr::ip);
    let allowed: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| {
            let bad = !policy.permits(a.ip());
            if bad {
                tracing::warn!(host, addr = %a.ip(), "refusing forbidden address (SSRF guard)");
            }
            !bad
        })
        .collect();
    match (allowed.is_empty(), first) {
        (true, Some(addr)) => Err(FederationError::ForbiddenAddress {
            host: host.to_owned(),
            addr,
        }),
        (true, None) => Err(FederationError::unavailable(format!(
            "{host} has no address"
        ))),
        (false, _) => Ok(allowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    /// SPEC §9.8: forbidden addresses are dropped; only forbidden ones is an error.
    #[test]
    fn guard_filters() {
        let mixed = vec![sa("10.0.0.1:443"), sa("93.184.216.34:443"), sa("[::1]:443")];
        assert_eq!(
            guard("x.example", mixed.clone(), &AddressPolicy::default()).ok(),
            Some(vec![sa("93.184.216.34:443")])
        );
        assert_eq!(
            guard("x.example", mixed.clone(), &AddressPolicy::allow_all()).ok(),
            Some(mixed.clone())
        );
        let listed = AddressPolicy::only(vec!["10.0.0.1".parse().expect("network")]);
        assert_eq!(
            guard("x.example", mixed, &listed).ok(),
            Some(vec![sa("10.0.0.1:443"), sa("93.184.216.34:443")])
        );
        assert!(matches!(
            guard("x.example", vec![sa("127.0.0.1:8448")], &listed),
            Err(FederationError::ForbiddenAddress { .. })
        ));
    }
}
