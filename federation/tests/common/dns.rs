//! A small authoritative DNS server for the zone `test.` (hickory-server, UDP on
//! 127.0.0.1:0). Records can be added while it runs; a name without records is NXDOMAIN.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, AAAA, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::UdpSocket;

/// Records' TTL: the discovery cache clamps it to 5 min anyway.
const TTL: u32 = 300;

/// A running DNS server; dropping it stops the server.
pub struct TestDns {
    /// Where it listens (UDP).
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
    _server: Server<Catalog>,
}

fn name(s: &str) -> Name {
    let fqdn = if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(&fqdn).expect("test DNS name")
}

impl TestDns {
    /// Starts the server with an empty `test.` zone (SOA only).
    pub async fn start() -> Self {
        let origin = name("test.");
        let mut zone =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            name("ns.test."),
            name("hostmaster.test."),
            1,
            3600,
            600,
            86_400,
            60,
        );
        assert!(zone.upsert_mut(Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)), 1));
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::new(&origin),
            vec![zone.clone() as Arc<dyn ZoneHandler>],
        );
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind DNS socket");
        let addr = socket.local_addr().expect("DNS address");
        let mut server = Server::new(catalog);
        server.register_socket(socket);
        TestDns {
            addr,
            zone,
            _server: server,
        }
    }

    async fn add(&self, record: Record) {
        assert!(self.zone.upsert(record, 1).await, "record added");
    }

    /// `SRV <owner> <priority> <weight> <port> <target>`; target `.` for "no service".
    pub async fn srv(&self, owner: &str, priority: u16, weight: u16, port: u16, target: &str) {
        let target = if target == "." {
            Name::root()
        } else {
            name(target)
        };
        let srv = SRV::new(priority, weight, port, target);
        self.add(Record::from_rdata(name(owner), TTL, RData::SRV(srv)))
            .await;
    }

    /// An A or AAAA record.
    pub async fn addr(&self, owner: &str, ip: IpAddr) {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        self.add(Record::from_rdata(name(owner), TTL, data)).await;
    }
}
