//! The testnet's authoritative DNS server for the zone `test.`. SPEC §9.1 discovery (SRV, then
//! A/AAAA) must be exercised over real DNS, not a mocked resolver, so this is hickory-server
//! answering UDP and TCP on 127.0.0.1; kezd reaches it through `[federation] resolver`.
//!
//! Records change at run time while the server runs (rogue peers, names that move to a private
//! address, a node whose certificate fits only its SRV target): the zone handler is shared
//! between the server's catalog and this handle, and hickory's in-memory zone keeps its records
//! behind its own lock, so an update is visible to the next query.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

use crate::error::DnsError;

/// The zone served.
pub const ZONE: &str = "test.";

/// TTL of every record. Short, so that a resolver's own cache does not hide a record changed
/// at run time for long; the caching policy under test is the kez-federation crate's, not DNS's.
pub const TTL_SECS: u32 = 1;

/// How long a TCP client may stay idle before the server closes the connection.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 64;

/// How many ephemeral ports to try before giving up on finding one free for both UDP and TCP.
const PORT_ATTEMPTS: u32 = 20;

/// The data of one record, in the testnet's terms (no hickory types in the public API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A service location (RFC 2782). `target` is a DNS name, `"."` for "no service".
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// The port to connect to.
        port: u16,
        /// The host to connect to.
        target: String,
    },
    /// Text strings (one TXT record; several strings are concatenated by readers).
    Txt(Vec<String>),
}

impl RecordData {
    /// The record type this data has.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::A(_) => RecordKind::A,
            Self::Aaaa(_) => RecordKind::Aaaa,
            Self::Srv { .. } => RecordKind::Srv,
            Self::Txt(_) => RecordKind::Txt,
        }
    }
}

/// A record type served by the testnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Service location.
    Srv,
    /// Text.
    Txt,
}

impl RecordKind {
    fn record_type(self) -> RecordType {
        match self {
            Self::A => RecordType::A,
            Self::Aaaa => RecordType::AAAA,
            Self::Srv => RecordType::SRV,
            Self::Txt => RecordType::TXT,
        }
    }

    /// Every kind, for removing all records of a name.
    const ALL: [Self; 4] = [Self::A, Self::Aaaa, Self::Srv, Self::Txt];
}

/// The SRV owner name of a KEZ server (SPEC §9.1): `_kez._tcp.<server_name>`.
pub fn kez_srv_name(server_name: &str) -> String {
    format!("_kez._tcp.{}", server_name.trim_end_matches('.'))
}

/// A running authoritative DNS server for `test.` on 127.0.0.1 (UDP and TCP, one port).
/// Dropping it stops the server (its tasks live in a `JoinSet` owned by hickory's `Server`).
pub struct DnsServer {
    /// The port both UDP and TCP listen on.
    addr: SocketAddr,
    /// The zone, shared with the server's catalog: updates here are served at once.
    zone: Arc<InMemoryZoneHandler>,
    /// The zone's origin, to check that names are inside it.
    origin: Name,
    /// Serial numbers handed to hickory's upsert; increases with every change.
    serial: AtomicU32,
    /// The serving tasks; `None` once shut down.
    server: Option<Server<Catalog>>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .field("zone", &ZONE)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Starts the server on 127.0.0.1 with an ephemeral port, serving only SOA and NS for
    /// `test.`: every other name is NXDOMAIN until records are added.
    pub async fn start() -> Result<Self, DnsError> {
        let origin = parse_name(ZONE)?;
        let zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let serial = 1;
        let ns_name = parse_name("ns.test.")?;
        let hostmaster = parse_name("hostmaster.test.")?;
        let soa = SOA::new(
            ns_name.clone(),
            hostmaster,
            serial,
            3600,
            600,
            86400,
            TTL_SECS,
        );
        let base = [
            Record::from_rdata(origin.clone(), TTL_SECS, RData::SOA(soa)),
            Record::from_rdata(origin.clone(), TTL_SECS, RData::NS(NS(ns_name.clone()))),
            Record::from_rdata(ns_name, TTL_SECS, RData::A(A(Ipv4Addr::LOCALHOST))),
        ];
        for record in base {
            if !zone.upsert(record, serial).await {
                return Err(DnsError::Rejected {
                    name: ZONE.to_owned(),
                });
            }
        }
        let zone = Arc::new(zone);

        let mut catalog = Catalog::new();
        let handler: Arc<dyn ZoneHandler> = zone.clone();
        catalog.upsert(LowerName::new(&origin), vec![handler]);

        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_TIMEOUT, TCP_RESPONSE_BUFFER);

        Ok(Self {
            addr,
            zone,
            origin,
            serial: AtomicU32::new(serial),
            server: Some(server),
        })
    }

    /// The address the server answers on, for UDP and TCP (kezd's `[federation] resolver`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a record to the set of `name`'s records of its type (an A record next to the
    /// existing A records, a second SRV target, ...). Adding an identical record is a no-op.
    pub async fn add(&self, name: &str, data: RecordData) -> Result<(), DnsError> {
        let owner = self.owner(name)?;
        let record = Record::from_rdata(owner, TTL_SECS, to_rdata(&data)?);
        if self.zone.upsert(record, self.next_serial()).await {
            Ok(())
        } else {
            Err(DnsError::Rejected {
                name: name.to_owned(),
            })
        }
    }

    /// Replaces all of `name`'s records of the type of `data` by this one record.
    pub async fn replace(&self, name: &str, data: RecordData) -> Result<(), DnsError> {
        self.remove(name, data.kind()).await?;
        self.add(name, data).await
    }

    /// Replaces all of `name`'s records of `kind` by `records` (all must be of that kind; an
    /// empty list removes them).
    pub async fn replace_all(
        &self,
        name: &str,
        kind: RecordKind,
        records: Vec<RecordData>,
    ) -> Result<(), DnsError> {
        self.remove(name, kind).await?;
        for data in records {
            if data.kind() != kind {
                return Err(DnsError::Rejected {
                    name: name.to_owned(),
                });
            }
            self.add(name, data).await?;
        }
        Ok(())
    }

    /// Removes `name`'s records of `kind`; returns whether there were any. A name left with no
    /// records answers NXDOMAIN, unless names below it still have records (`a.test` while
    /// `_kez._tcp.a.test` exists): then it answers NOERROR with no data (RFC 8020).
    pub async fn remove(&self, name: &str, kind: RecordKind) -> Result<bool, DnsError> {
        let owner = self.owner(name)?;
        let key = RrKey::new(LowerName::new(&owner), kind.record_type());
        let removed = self.zone.records_mut().await.remove(&key).is_some();
        self.next_serial();
        Ok(removed)
    }

    /// Removes every A, AAAA, SRV and TXT record of `name`; returns whether there were any.
    pub async fn remove_all(&self, name: &str) -> Result<bool, DnsError> {
        let mut any = false;
        for kind in RecordKind::ALL {
            any |= self.remove(name, kind).await?;
        }
        Ok(any)
    }

    /// Publishes the SPEC §9.1 layout of a KEZ server at `addr`, as federation-plan.md fixes it
    /// for the testnet: `SRV _kez._tcp.<server> 0 0 <port> <target>.`, `A <target> <ip>` and
    /// `A <server> <ip>` (for clients that skip SRV). Replaces earlier records of those names
    /// and types.
    pub async fn publish_kez_server(
        &self,
        server_name: &str,
        target: &str,
        addr: SocketAddr,
    ) -> Result<(), DnsError> {
        let (ip, port) = match addr {
            SocketAddr::V4(v4) => (*v4.ip(), v4.port()),
            SocketAddr::V6(_) => {
                return Err(DnsError::Rejected {
                    name: server_name.to_owned(),
                });
            }
        };
        self.replace(
            &kez_srv_name(server_name),
            RecordData::Srv {
                priority: 0,
                weight: 0,
                port,
                target: target.to_owned(),
            },
        )
        .await?;
        self.replace(target, RecordData::A(ip)).await?;
        self.replace(server_name, RecordData::A(ip)).await
    }

    /// Stops serving and waits for the server's tasks to end.
    pub async fn shutdown(mut self) {
        if let Some(mut server) = self.server.take() {
            // An error here is a socket task that failed while serving; nothing is left to
            // clean up, and shutting down must not fail a test that is already finishing.
            let _ = server.shutdown_gracefully().await;
        }
    }

    /// `name` as a fully qualified name inside the zone.
    fn owner(&self, name: &str) -> Result<Name, DnsError> {
        let owner = parse_name(name)?;
        if !self.origin.zone_of(&owner) {
            return Err(DnsError::OutsideZone {
                name: name.to_owned(),
                zone: ZONE.to_owned(),
            });
        }
        Ok(owner)
    }

    fn next_serial(&self) -> u32 {
        self.serial.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Parses a DNS name and makes it fully qualified (`a.test` → `a.test.`).
fn parse_name(name: &str) -> Result<Name, DnsError> {
    let mut parsed = Name::from_str(name).map_err(|e| DnsError::InvalidName {
        name: name.to_owned(),
        reason: e.to_string(),
    })?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

fn to_rdata(data: &RecordData) -> Result<RData, DnsError> {
    Ok(match data {
        RecordData::A(ip) => RData::A(A(*ip)),
        RecordData::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        RecordData::Srv {
            priority,
            weight,
            port,
            target,
        } => RData::SRV(SRV::new(*priority, *weight, *port, parse_name(target)?)),
        RecordData::Txt(strings) => RData::TXT(TXT::new(strings.clone())),
    })
}

/// Binds UDP on an ephemeral port of 127.0.0.1 and TCP on the same port. The port is free
/// for UDP but may be taken for TCP, so a few ports are tried.
async fn bind_pair() -> Result<(UdpSocket, TcpListener), DnsError> {
    for _ in 0..PORT_ATTEMPTS {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DnsError::NoPort {
        attempts: PORT_ATTEMPTS,
    })
}
