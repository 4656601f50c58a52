//! Discovery (SPEC §9.1) and the SSRF-guarded resolver (SPEC §9.8) against a real DNS
//! server started in the test.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use common::dns::TestDns;
use kez_federation::FederationError;
use kez_federation::discovery::{Discovery, SrvAnswer, Target};
use kez_federation::resolve::{GuardedResolver, Mode};
use kez_federation::ssrf::AddressPolicy;
use kez_spec::ServerName;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn name(s: &str) -> ServerName {
    ServerName::parse(s).expect("server name")
}

/// A zone with SRV records of several priorities and weights, a `.` target, a name with
/// only an A record, and names that do not exist.
async fn zone() -> TestDns {
    let dns = TestDns::start().await;
    dns.srv("_kez._tcp.multi.test", 10, 1, 1001, "t1.test")
        .await;
    dns.srv("_kez._tcp.multi.test", 10, 3, 1002, "t2.test")
        .await;
    dns.srv("_kez._tcp.multi.test", 20, 0, 1003, "t3.test")
        .await;
    dns.addr("t1.test", ip("127.0.0.11")).await;
    dns.addr("t2.test", ip("127.0.0.12")).await;
    dns.addr("t2.test", ip("::1")).await;
    dns.addr("t3.test", ip("127.0.0.13")).await;
    dns.srv("_kez._tcp.off.test", 0, 0, 0, ".").await;
    dns.addr("plain.test", ip("127.0.0.20")).await;
    dns.srv("_kez._tcp.dangling.test", 0, 0, 443, "missing.test")
        .await;
    dns.srv("_kez._tcp.private.test", 0, 0, 8448, "ten.test")
        .await;
    dns.addr("ten.test", ip("10.0.0.1")).await;
    dns.srv("_kez._tcp.public.test", 0, 0, 8448, "pub.test")
        .await;
    dns.addr("pub.test", ip("93.184.216.34")).await;
    dns.addr("pub.test", ip("127.0.0.1")).await;
    dns
}

/// SPEC §9.1: priorities in order; within a priority, weighted random (1 : 3).
#[tokio::test]
async fn srv_priority_and_weight() {
    let dns = zone().await;
    let d = Discovery::new(Some(dns.addr)).expect("discovery");
    let answer = d.srv("multi.test").await.expect("srv");
    let SrvAnswer::Records(records) = &*answer else {
        panic!("expected records, got {answer:?}")
    };
    assert_eq!(records.len(), 3);
    let mut first: HashMap<String, u32> = HashMap::new();
    for _ in 0..2000 {
        let targets = d.targets(&name("multi.test")).await.expect("targets");
        let hosts: Vec<&str> = targets.iter().map(|t| t.host.as_str()).collect();
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[2], "t3.test", "priority 20 is last: {hosts:?}");
        assert_eq!(targets[2].port, 1003);
        *first.entry(hosts[0].to_owned()).or_default() += 1;
    }
    let t1 = f64::from(first["t1.test"]) / 2000.0;
    assert!(
        (0.18..0.32).contains(&t1),
        "t1 first {t1} of the time: {first:?}"
    );
}

/// SPEC §9.1: addresses follow the target order, each with its target's port.
#[tokio::test]
async fn socket_addrs_follow_targets() {
    let dns = zone().await;
    let d = Discovery::new(Some(dns.addr)).expect("discovery");
    let addrs = d.socket_addrs(&name("multi.test")).await.expect("addrs");
    assert_eq!(addrs.len(), 4);
    assert_eq!(
        addrs[3],
        "127.0.0.13:1003".parse::<SocketAddr>().expect("addr")
    );
    for a in &addrs[..3] {
        assert!(
            ["127.0.0.11:1001", "127.0.0.12:1002", "[::1]:1002"].contains(&a.to_string().as_str()),
            "{a}"
        );
    }
}

/// SPEC §9.1: a sole `.` target means no federation.
#[tokio::test]
async fn dot_target_is_no_federation() {
    let dns = zone().await;
    let d = Discovery::new(Some(dns.addr)).expect("discovery");
    assert_eq!(
        *d.srv("off.test").await.expect("srv"),
        SrvAnswer::NoFederation
    );
    assert!(matches!(
        d.targets(&name("off.test")).await,
        Err(FederationError::NoFederation { .. })
    ));
}

/// SPEC §9.1: no SRV record (NXDOMAIN for the SRV name) means `<name>:443`.
#[tokio::test]
async fn no_srv_falls_back_to_443() {
    let dns = zone().await;
    let d = Discovery::new(Some(dns.addr)).expect("discovery");
    assert_eq!(
        *d.srv("plain.test").await.expect("srv"),
        SrvAnswer::NoRecords
    );
    assert_eq!(
        d.targets(&name("plain.test")).await.expect("targets"),
        vec![Target {
            host: "plain.test".into(),
            port: 443
        }]
    );
    let addrs = d.socket_addrs(&name("plain.test")).await.expect("addrs");
    assert_eq!(
        addrs,
        vec!["127.0.0.20:443".parse::<SocketAddr>().expect("addr")]
    );
    // A name that does not exist at all: no SRV, and no address either.
    assert!(matches!(
        d.socket_addrs(&name("absent.test")).await,
        Err(FederationError::Unavailable { .. })
    ));
    // An SRV target that does not resolve.
    assert!(d.socket_addrs(&name("dangling.test")).await.is_err());
}

/// SPEC §9.1: an explicit port skips SRV entirely (multi.test has SRV records, unused here).
#[tokio::test]
async fn explicit_port_skips_srv() {
    let dns = zone().await;
    let d = Discovery::new(Some(dns.addr)).expect("discovery");
    assert_eq!(
        d.targets(&name("multi.test:8448")).await.expect("targets"),
        vec![Target {
            host: "multi.test".into(),
            port: 8448
        }]
    );
    assert!(
        d.socket_addrs(&name("multi.test:8448")).await.is_err(),
        "multi.test has no A record"
    );
    let addrs = d
        .socket_addrs(&name("plain.test:6969"))
        .await
        .expect("addrs");
    assert_eq!(
        addrs,
        vec!["127.0.0.20:6969".parse::<SocketAddr>().expect("addr")]
    );
}

/// SPEC §9.8: the resolver refuses names that resolve only to forbidden addresses (nothing
/// is connected to here), drops forbidden addresses beside allowed ones, and lets
/// everything through when private addresses are allowed.
#[tokio::test]
async fn guarded_resolver() {
    let dns = zone().await;
    let d = Arc::new(Discovery::new(Some(dns.addr)).expect("discovery"));
    let strict = GuardedResolver::new(
        d.clone(),
        Arc::new(AddressPolicy::default()),
        Mode::Discovered,
    );
    let lax = GuardedResolver::new(
        d.clone(),
        Arc::new(AddressPolicy::allow_all()),
        Mode::Discovered,
    );
    match strict.addresses("private.test").await {
        Err(FederationError::ForbiddenAddress { host, addr }) => {
            assert_eq!(host, "private.test");
            assert_eq!(addr, ip("10.0.0.1"));
        }
        other => panic!("expected ForbiddenAddress, got {other:?}"),
    }
    assert!(matches!(
        strict.addresses("multi.test").await,
        Err(FederationError::ForbiddenAddress { .. })
    ));
    assert_eq!(
        strict
            .addresses("public.test")
            .await
            .expect("public address"),
        vec!["93.184.216.34:8448".parse::<SocketAddr>().expect("addr")]
    );
    assert_eq!(lax.addresses("multi.test").await.expect("allowed").len(), 4);
    // An allow-list lets through exactly its addresses.
    let listed = GuardedResolver::new(
        d.clone(),
        Arc::new(AddressPolicy::only(vec!["10.0.0.1".parse().expect("net")])),
        Mode::Discovered,
    );
    assert_eq!(
        listed.addresses("private.test").await.expect("listed"),
        vec!["10.0.0.1:8448".parse::<SocketAddr>().expect("addr")]
    );
    // Direct mode: the host's own addresses, port left to the URL.
    let direct = GuardedResolver::new(d, Arc::new(AddressPolicy::allow_all()), Mode::Direct);
    assert_eq!(
        direct.addresses("plain.test").await.expect("direct"),
        vec!["127.0.0.20:0".parse::<SocketAddr>().expect("addr")]
    );
}

/// SPEC §9.8: an SRV target is a name; one that is an address in any spelling is refused as
/// an invalid answer, never parsed as an address nor connected to, and a valid target beside
/// it is still used. (Allowing private addresses changes nothing: it is a name rule.)
#[tokio::test]
async fn srv_targets_that_are_addresses_are_refused() {
    let dns = zone().await;
    for target in [
        "127.0.0.1",
        "0x7f000001",
        "127.1",
        "169.254.169.0xfe",
        "2130706433",
    ] {
        dns.srv("_kez._tcp.literal.test", 0, 0, 8448, target).await;
    }
    dns.srv("_kez._tcp.mixed.test", 0, 0, 8448, "0x7f000001")
        .await;
    dns.srv("_kez._tcp.mixed.test", 1, 0, 8449, "plain.test")
        .await;
    let d = Arc::new(Discovery::new(Some(dns.addr)).expect("discovery"));
    for policy in [AddressPolicy::default(), AddressPolicy::allow_all()] {
        let resolver = GuardedResolver::new(d.clone(), Arc::new(policy), Mode::Discovered);
        match resolver.addresses("literal.test").await {
            Err(FederationError::Invalid { reason }) => {
                assert!(reason.contains("not a host name"), "{reason}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
    let lax = GuardedResolver::new(
        d.clone(),
        Arc::new(AddressPolicy::allow_all()),
        Mode::Discovered,
    );
    assert_eq!(
        lax.addresses("mixed.test").await.expect("the valid target"),
        vec!["127.0.0.20:8449".parse::<SocketAddr>().expect("addr")]
    );
    assert!(d.addresses("0x7f000001").await.is_err());
    assert!(d.addresses("[::1]").await.is_err());
}

/// SPEC §9.8: AAAA answers that embed a forbidden IPv4 address (mapped, compatible, NAT64,
/// 6to4) are refused like the IPv4 address itself.
#[tokio::test]
async fn aaaa_forms_of_forbidden_ipv4_are_refused() {
    let dns = zone().await;
    for (owner, v6) in [
        ("mapped.test", "::ffff:127.0.0.1"),
        ("compat.test", "::10.0.0.1"),
        ("nat64.test", "64:ff9b::a9fe:a9fe"),
        ("sixtofour.test", "2002:c0a8:101::1"),
    ] {
        dns.addr(owner, ip(v6)).await;
    }
    let d = Arc::new(Discovery::new(Some(dns.addr)).expect("discovery"));
    let strict = GuardedResolver::new(d, Arc::new(AddressPolicy::default()), Mode::Direct);
    for owner in ["mapped.test", "compat.test", "nat64.test", "sixtofour.test"] {
        assert!(
            matches!(
                strict.addresses(owner).await,
                Err(FederationError::ForbiddenAddress { .. })
            ),
            "{owner}"
        );
    }
}
