//! Discovery (SPEC §9.1): from a server name to the hosts and ports to connect to.
//!
//! - A name with an explicit port (`host:port`) is that host and port; no SRV lookup.
//! - Otherwise `_kez._tcp.<name>` SRV: targets ordered by priority, then by RFC 2782's
//!   weighted random selection within a priority. A sole target `.` means the server offers
//!   no federation.
//! - No SRV record: `<name>:443`.
//!
//! Answers are cached (SPEC §9.1: TTL clamped to [5 min, 24 h], failures 1 min) with
//! single-flight (`cache.rs`). The SRV set is cached, not one ordering of it, so every new
//! connection draws its own weighted order. This module does not judge addresses: the SSRF
//! guard runs where addresses become connections (`resolve.rs`). It does judge names: only a
//! §2.2 host is ever resolved, so no SRV target reaches a connection as an address literal.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use kez_spec::ServerName;
use rand_core::{OsRng, RngCore};

use crate::FederationError;
use crate::cache::{CachePolicy, TtlCache};

/// The SRV service label of KEZ federation.
pub const SRV_PREFIX: &str = "_kez._tcp.";
/// The port used when a name has neither an explicit port nor an SRV record.
pub const DEFAULT_PORT: u16 = 443;
/// How long one DNS query may take before it is retried or fails.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// One SRV record of `_kez._tcp.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among records of one priority.
    pub weight: u16,
    /// The port to connect to.
    pub port: u16,
    /// The host to connect to, without a trailing dot; `.` is stored as the empty string.
    pub target: String,
}

/// What the SRV lookup of a name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrvAnswer {
    /// Usable records (records with target `.` beside others are dropped).
    Records(Vec<SrvRecord>),
    /// No SRV record: connect to `<name>:443`.
    NoRecords,
    /// The only target is `.`: the server offers no federation.
    NoFederation,
}

/// A host and port to connect to, in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// DNS name of the host, without a trailing dot.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// Resolves server names to connection targets and addresses, with caches.
pub struct Discovery {
    resolver: TokioResolver,
    srv: TtlCache<String, Arc<SrvAnswer>>,
    hosts: TtlCache<String, Arc<[IpAddr]>>,
}

impl Discovery {
    /// Discovery through the DNS server at `resolver`, or the system's resolver
    /// configuration (`/etc/resolv.conf`) when `None`.
    pub fn new(resolver: Option<SocketAddr>) -> Result<Self, FederationError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match resolver {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    provider,
                )
            }
            None => Resolver::builder(provider)
                .map_err(|e| FederationError::config(format!("system DNS configuration: {e}")))?,
        };
        let opts = builder.options_mut();
        opts.timeout = DNS_TIMEOUT;
        opts.attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| FederationError::config(format!("DNS resolver: {e}")))?;
        Ok(Discovery {
            resolver,
            srv: TtlCache::new(CachePolicy::DISCOVERY),
            hosts: TtlCache::new(CachePolicy::DISCOVERY),
        })
    }

    /// The hosts and ports to try for `server`, best first (SPEC §9.1). Each call draws a
    /// fresh weighted order within each priority.
    pub async fn targets(&self, server: &ServerName) -> Result<Vec<Target>, FederationError> {
        if let Some(port) = server.port() {
            return Ok(vec![Target {
                host: server.host().to_owned(),
                port,
            }]);
        }
        match &*self.srv(server.host()).await? {
            SrvAnswer::Records(records) => Ok(order_srv(records, &mut OsRng)
                .into_iter()
                .map(|r| Target {
                    host: r.target,
                    port: r.port,
                })
                .collect()),
            SrvAnswer::NoRecords => Ok(vec![Target {
                host: server.host().to_owned(),
                port: DEFAULT_PORT,
            }]),
            SrvAnswer::NoFederation => Err(FederationError::NoFederation {
                server: server.to_string(),
            }),
        }
    }

    /// Every address of every target of `server`, in the order to try them, each with its
    /// target's port. A target whose name does not resolve is skipped; if none resolves, the
    /// first failure is returned.
    pub async fn socket_addrs(
        &self,
        server: &ServerName,
    ) -> Result<Vec<SocketAddr>, FederationError> {
        let mut out = Vec::new();
        let mut first_error = None;
        for target in self.targets(server).await? {
            match self.addresses(&target.host).await {
                Ok(ips) => out.extend(ips.iter().map(|ip| SocketAddr::new(*ip, target.port))),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (out.is_empty(), first_error) {
            (true, Some(e)) => Err(e),
            _ => Ok(out),
        }
    }

    /// The SRV answer for `_kez._tcp.<host>`, cached.
    pub async fn srv(&self, host: &str) -> Result<Arc<SrvAnswer>, FederationError> {
        let key = host.to_owned();
        self.srv
            .get_or_fetch(&key, || async {
                let name = format!("{SRV_PREFIX}{host}.");
                match self.resolver.srv_lookup(name.as_str()).await {
                    Ok(lookup) => {
                        let records: Vec<SrvRecord> = lookup
                            .answers()
                            .iter()
                            .filter_map(|r| match &r.data {
                                RData::SRV(srv) => Some(SrvRecord {
                                    priority: srv.priority,
                                    weight: srv.weight,
                                    port: srv.port,
                                    target: srv
                                        .target
                                        .to_ascii()
                                        .trim_end_matches('.')
                                        .to_ascii_lowercase(),
                                }),
                                _ => None,
                            })
                            .collect();
                        Ok((Arc::new(classify(records)), ttl(lookup.valid_until())))
                    }
                    Err(e) if e.is_no_records_found() => {
                        Ok((Arc::new(SrvAnswer::NoRecords), negative_ttl(&e)))
                    }
                    Err(e) => Err(FederationError::unavailable(format!(
                        "SRV lookup of {name}: {e}"
                    ))),
                }
            })
            .await
    }

    /// The A and AAAA addresses of `host`, cached. `host` must be a host name of SPEC §2.2:
    /// an SRV target that is an address in any spelling (`127.0.0.1`, `0x7f000001`) is
    /// refused here, never parsed as one (SPEC §9.8), so every address comes from DNS.
    pub async fn addresses(&self, host: &str) -> Result<Arc<[IpAddr]>, FederationError> {
        if crate::faults::on("connect_to_address_target")
            && let Ok(ip) = host.parse::<IpAddr>()
        {
            return Ok(Arc::from([ip]));
        }
        kez_spec::server_name::check_host(host)
            .map_err(|e| FederationError::invalid(format!("{host:?} is not a host name: {e}")))?;
        let key = host.to_owned();
        self.hosts
            .get_or_fetch(&key, || async {
                let name = format!("{host}.");
                match self.resolver.lookup_ip(name.as_str()).await {
                    Ok(lookup) => {
                        let ips: Arc<[IpAddr]> = lookup.iter().collect();
                        if ips.is_empty() {
                            return Err(FederationError::unavailable(format!(
                                "{host} has no address"
                            )));
                        }
                        Ok((ips, ttl(lookup.valid_until())))
                    }
                    Err(e) => Err(FederationError::unavailable(format!(
                        "address lookup of {host}: {e}"
                    ))),
                }
            })
            .await
    }

    /// `host`'s addresses asked of DNS again, past this cache (none on failure). Only kezd's
    /// fault `connect_to_unchecked_address` asks, as a client that resolves a name a second
    /// time to connect would.
    pub async fn addresses_uncached(&self, host: &str) -> Vec<IpAddr> {
        match self.resolver.lookup_ip(format!("{host}.").as_str()).await {
            Ok(lookup) => lookup.iter().collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// SPEC §9.1: a sole `.` target means no federation; `.` beside real targets is ignored.
fn classify(records: Vec<SrvRecord>) -> SrvAnswer {
    if records.is_empty() {
        return SrvAnswer::NoRecords;
    }
    let usable: Vec<SrvRecord> = records
        .into_iter()
        .filter(|r| !r.target.is_empty())
        .collect();
    if usable.is_empty() {
        SrvAnswer::NoFederation
    } else {
        SrvAnswer::Records(usable)
    }
}

/// The time to live left on a DNS answer (the cache clamps it).
fn ttl(valid_until: std::time::Instant) -> Duration {
    valid_until.saturating_duration_since(std::time::Instant::now())
}

/// "No SRV record" is an answer, cached like one; the SOA's negative TTL when given.
fn negative_ttl(e: &NetError) -> Duration {
    let secs = match e {
        NetError::Dns(hickory_resolver::net::DnsError::NoRecordsFound(nr)) => nr.negative_ttl,
        _ => None,
    };
    Duration::from_secs(u64::from(secs.unwrap_or(0)))
}

/// RFC 2782 order: ascending priority; within one priority, repeatedly pick a record with
/// probability proportional to its weight among those not yet picked.
///
/// The draw is uniform in `[0, sum)` and the pick is the first record whose running sum
/// exceeds it, so shares are exactly proportional to weights. (RFC 2782's literal draw in
/// `[0, sum]` gives the first record one extra chance in `sum + 1`.) Weight-0 records are
/// thus tried only after every weighted record of their priority, in random order.
pub fn order_srv(records: &[SrvRecord], rng: &mut impl RngCore) -> Vec<SrvRecord> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(sorted.len());
    for group in sorted.chunk_by(|a, b| a.priority == b.priority) {
        let mut rest: Vec<SrvRecord> = group.to_vec();
        while !rest.is_empty() {
            let total: u64 = rest.iter().map(|r| u64::from(r.weight)).sum();
            let pick = if total == 0 {
                // Only weight-0 records left: uniform among them. `rest.len()` is at most
                // 65,535 × records, far below u64; the modulo bias is negligible.
                (rng.next_u64() % rest.len() as u64) as usize
            } else {
                let draw = rng.next_u64() % total;
                let mut running = 0u64;
                rest.iter()
                    .position(|r| {
                        running += u64::from(r.weight);
                        running > draw
                    })
                    // The running sum reaches `total` > `draw` at the last record at the latest.
                    .unwrap_or(rest.len() - 1)
            };
            out.push(rest.remove(pick));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 8448,
            target: target.to_owned(),
        }
    }

    /// RFC 2782: every lower priority comes before any higher one, whatever the weights.
    #[test]
    fn priority_first() {
        let records = [
            rec(20, 100, "c"),
            rec(10, 0, "a"),
            rec(10, 5, "b"),
            rec(30, 1, "d"),
        ];
        for _ in 0..200 {
            let order = order_srv(&records, &mut OsRng);
            let prios: Vec<u16> = order.iter().map(|r| r.priority).collect();
            assert_eq!(prios, [10, 10, 20, 30]);
        }
    }

    /// RFC 2782: within a priority, the first pick follows the weights (1 : 3), and a
    /// weight-0 record comes after the weighted ones.
    #[test]
    fn weighted_selection() {
        let records = [rec(0, 1, "light"), rec(0, 3, "heavy"), rec(0, 0, "zero")];
        let mut first = std::collections::HashMap::new();
        let n = 8000;
        for _ in 0..n {
            let order = order_srv(&records, &mut OsRng);
            assert_eq!(order.len(), 3);
            assert_eq!(order[2].target, "zero");
            *first.entry(order[0].target.clone()).or_insert(0) += 1;
        }
        let share = |t: &str| f64::from(*first.get(t).unwrap_or(&0)) / f64::from(n);
        assert!((0.2..0.3).contains(&share("light")), "{first:?}");
        assert!((0.7..0.8).contains(&share("heavy")), "{first:?}");
        assert_eq!(share("zero"), 0.0, "{first:?}");
    }

    /// SPEC §9.1: a sole `.` target is "no federation"; beside others it is ignored.
    #[test]
    fn dot_target() {
        assert_eq!(classify(vec![rec(0, 0, "")]), SrvAnswer::NoFederation);
        assert_eq!(
            classify(vec![rec(0, 0, ""), rec(1, 0, "a")]),
            SrvAnswer::Records(vec![rec(1, 0, "a")])
        );
        assert_eq!(classify(vec![]), SrvAnswer::NoRecords);
    }
}
