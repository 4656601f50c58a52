//! The testnet against real processes, real DNS over UDP and TCP, and real TLS: if these pass,
//! a federation test built on the testnet fails only for reasons of its own.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use kez_testnet::{DnsServer, NodeOptions, RecordData, RecordKind, Testnet, kez_srv_name};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The kezd binary, built once per test binary (see `kez_testnet::kezd_binary`).
fn kezd() -> PathBuf {
    static KEZD: OnceLock<PathBuf> = OnceLock::new();
    KEZD.get_or_init(|| kez_testnet::kezd_binary().expect("kezd binary"))
        .clone()
}

/// A resolver that asks only `dns`, over UDP or TCP, with no cache so runtime changes show.
fn resolver(dns: &DnsServer, tcp: bool) -> Resolver<TokioRuntimeProvider> {
    let mut connection = if tcp {
        ConnectionConfig::tcp()
    } else {
        ConnectionConfig::udp()
    };
    connection.port = dns.addr().port();
    let server = NameServerConfig::new(dns.addr().ip(), true, vec![connection]);
    let mut builder = Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![server]),
        TokioRuntimeProvider::default(),
    );
    builder.options_mut().cache_size = 0;
    builder.build().expect("resolver")
}

fn process_exists(pid: u32) -> bool {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).expect("pid")).expect("pid");
    rustix::process::test_kill_process(pid).is_ok()
}

/// A TLS client trusting only the testnet CA (no ALPN: the handshake is what is tested).
fn tls_connector(net: &Testnet) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(net.ca().ca_pem().as_bytes()).expect("CA pem");
    roots.add(ca).expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn three_nodes_answer_healthz_over_verified_https() {
    let net = Testnet::builder(kezd())
        .node("a.test")
        .node("b.test")
        .node_with(
            "c.test",
            NodeOptions::new().extra_config("[federation]\nblock = [\"a.test\"]\n"),
        )
        .start()
        .await
        .expect("testnet");
    let client = net.client();
    let mut ports = Vec::new();
    for node in net.nodes() {
        assert!(
            node.base_url().starts_with("https://"),
            "{}",
            node.base_url()
        );
        let response = client
            .get(node.url("/v1/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(response.status(), 200, "{}", node.name());
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["server"], node.name());
        ports.push(node.port());
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "each node has its own port");

    // Verification is on: a client that does not trust the testnet CA is refused.
    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([])
        .resolve("a.test", net.node("a.test").expect("a").addr())
        .build()
        .expect("client");
    let a_url = net.node("a.test").expect("a").url("/v1/healthz");
    assert!(untrusting.get(&a_url).send().await.is_err());

    // The generated config carries the federation keys, merged with the extra config.
    let c = net.node("c.test").expect("c");
    let config: toml::Table = std::fs::read_to_string(c.config_path())
        .expect("config")
        .parse()
        .expect("toml");
    let federation = config["federation"].as_table().expect("[federation]");
    assert_eq!(
        federation["resolver"].as_str(),
        Some(net.dns().addr().to_string().as_str())
    );
    // SPEC §9.8's guard stays on: only the testnet's own hosts are allowed, each node at an
    // address of its own.
    assert_eq!(federation.get("allow_private_addresses"), None);
    let allowed: Vec<&str> = federation["allowed_private_addresses"]
        .as_array()
        .expect("allowed_private_addresses")
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    let ips: Vec<String> = net.nodes().map(|n| n.addr().ip().to_string()).collect();
    assert_eq!(allowed.len(), ips.len() + 1, "{allowed:?}");
    for ip in &ips {
        assert!(allowed.contains(&ip.as_str()), "{ip} in {allowed:?}");
    }
    assert!(allowed.contains(&kez_testnet::addresses::ROGUE_BLOCK));
    assert_eq!(c.addr().ip().to_string(), ips[2]);
    assert_ne!(ips[0], ips[1]);
    assert_eq!(federation["block"][0].as_str(), Some("a.test"));
    assert_eq!(
        federation["extra_roots"][0].as_str(),
        Some(net.ca().ca_pem_path().display().to_string().as_str())
    );
    net.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_node_certificate_is_valid_for_its_name_only() {
    let net = Testnet::builder(kezd())
        .node("a.test")
        .start()
        .await
        .expect("testnet");
    let a = net.node("a.test").expect("a");
    let connector = tls_connector(&net);

    let tcp = TcpStream::connect(a.addr()).await.expect("connect");
    let name = ServerName::try_from("a.test").expect("name");
    connector.connect(name, tcp).await.expect("a.test verifies");

    let tcp = TcpStream::connect(a.addr()).await.expect("connect");
    let name = ServerName::try_from("b.test").expect("name");
    let error = connector
        .connect(name, tcp)
        .await
        .expect_err("a's certificate must not verify as b.test");
    let tls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .expect("a rustls error");
    assert!(
        matches!(
            tls_error,
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{tls_error:?}"
    );
}

#[tokio::test]
async fn a_certificate_for_the_srv_target_only_is_not_valid_for_the_server_name() {
    let net = Testnet::builder(kezd())
        .node_with("x.test", NodeOptions::new().cert_for_srv_target_only())
        .start()
        .await
        .expect("testnet (readiness checked through node-x.test)");
    let x = net.node("x.test").expect("x");
    let client = net.client();
    let by_target = format!("https://node-x.test:{}/v1/healthz", x.port());
    let response = client.get(&by_target).send().await.expect("by target");
    assert_eq!(response.status(), 200);
    assert!(
        client.get(x.url("/v1/healthz")).send().await.is_err(),
        "the certificate is not valid for x.test"
    );
}

#[tokio::test]
async fn the_testnet_publishes_srv_and_a_records_and_nxdomain_for_the_rest() {
    let net = Testnet::builder(kezd())
        .node("a.test")
        .start()
        .await
        .expect("testnet");
    let a = net.node("a.test").expect("a");
    for tcp in [false, true] {
        let resolver = resolver(net.dns(), tcp);
        let srv = resolver.srv_lookup("_kez._tcp.a.test.").await.expect("SRV");
        let records: Vec<_> = srv
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(srv.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0].priority, 0);
        assert_eq!(records[0].weight, 0);
        assert_eq!(records[0].port, a.port());
        assert_eq!(records[0].target.to_ascii(), "node-a.test.");

        for name in ["node-a.test.", "a.test."] {
            let ips = resolver.ipv4_lookup(name).await.expect("A");
            let addresses: Vec<_> = ips
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect();
            let own = std::net::IpAddr::V4(addresses[0]);
            assert_eq!(addresses.len(), 1, "{name}");
            assert_eq!(own, a.addr().ip(), "{name}: the node's own address");
        }

        let error = resolver
            .ipv4_lookup("nobody.test.")
            .await
            .expect_err("unknown name");
        assert!(error.is_nx_domain(), "{error:?}");
    }
}

#[tokio::test]
async fn records_change_while_the_server_runs() {
    let dns = DnsServer::start().await.expect("dns");
    let resolver = resolver(&dns, false);
    let ipv4 = |lookup: hickory_resolver::lookup::Lookup| -> Vec<Ipv4Addr> {
        lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    };

    let err = resolver.ipv4_lookup("rogue.test.").await.expect_err("none");
    assert!(err.is_nx_domain(), "{err:?}");

    dns.add("rogue.test", RecordData::A(Ipv4Addr::LOCALHOST))
        .await
        .expect("add");
    let found = ipv4(resolver.ipv4_lookup("rogue.test.").await.expect("A"));
    assert_eq!(found, vec![Ipv4Addr::LOCALHOST]);

    // Replace: the name moves (a private address, as SSRF tests need).
    let private = Ipv4Addr::new(10, 0, 0, 7);
    dns.replace("rogue.test", RecordData::A(private))
        .await
        .expect("replace");
    let found = ipv4(resolver.ipv4_lookup("rogue.test.").await.expect("A"));
    assert_eq!(found, vec![private]);

    // AAAA and TXT next to it.
    dns.add("rogue.test", RecordData::Aaaa(Ipv6Addr::LOCALHOST))
        .await
        .expect("AAAA");
    let v6 = resolver.ipv6_lookup("rogue.test.").await.expect("AAAA");
    assert!(
        v6.answers()
            .iter()
            .any(|r| matches!(&r.data, RData::AAAA(a) if a.0 == Ipv6Addr::LOCALHOST))
    );
    dns.add("rogue.test", RecordData::Txt(vec!["kez=1".to_owned()]))
        .await
        .expect("TXT");
    let txt = resolver.txt_lookup("rogue.test.").await.expect("TXT");
    let texts: Vec<String> = txt
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, vec!["kez=1".to_owned()]);

    // An SRV record whose target is "." (no federation, SPEC §9.1).
    dns.replace(
        &kez_srv_name("rogue.test"),
        RecordData::Srv {
            priority: 0,
            weight: 0,
            port: 0,
            target: ".".to_owned(),
        },
    )
    .await
    .expect("SRV");
    let srv = resolver
        .srv_lookup("_kez._tcp.rogue.test.")
        .await
        .expect("SRV");
    assert!(
        srv.answers()
            .iter()
            .any(|r| matches!(&r.data, RData::SRV(s) if s.target.is_root()))
    );

    // Without records, a name that still has names below it (`_kez._tcp.rogue.test`) exists
    // with no data (NOERROR, RFC 8020); once those go too, it is NXDOMAIN again.
    assert!(dns.remove_all("rogue.test").await.expect("remove"));
    assert!(
        !dns.remove("rogue.test", RecordKind::A)
            .await
            .expect("again")
    );
    let err = resolver
        .ipv4_lookup("rogue.test.")
        .await
        .expect_err("no data");
    assert!(err.is_no_records_found() && !err.is_nx_domain(), "{err:?}");
    assert!(
        dns.remove(&kez_srv_name("rogue.test"), RecordKind::Srv)
            .await
            .expect("remove SRV")
    );
    let err = resolver.ipv4_lookup("rogue.test.").await.expect_err("gone");
    assert!(err.is_nx_domain(), "{err:?}");

    // Names outside the zone are refused, not silently served.
    assert!(
        dns.add("a.example", RecordData::A(Ipv4Addr::LOCALHOST))
            .await
            .is_err()
    );
    dns.shutdown().await;
}

/// A registration for `alice` on `server`, signed with a fixed key.
fn registration(server: &str) -> serde_json::Value {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let ts_ms = kez_spec::clock::now_ms();
    kez_spec::registration::Registration {
        handle: kez_spec::Handle::parse("alice").expect("handle"),
        server: kez_spec::ServerName::parse(server).expect("server"),
        primary: kez_spec::Primary::from_bytes(&key.verifying_key().to_bytes()).expect("primary"),
        ts_ms,
    }
    .sign(&key)
}

#[tokio::test]
async fn a_killed_node_restarts_on_the_same_port_and_data() {
    let mut net = Testnet::builder(kezd())
        .node("a.test")
        .start()
        .await
        .expect("testnet");
    let client = net.client();
    let a = net.node("a.test").expect("a");
    let (port, first_pid, user_url) = (a.port(), a.pid().expect("pid"), a.url("/v1/u/alice"));
    let registered = client
        .post(a.url("/v1/register"))
        .json(&registration("a.test"))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201, "{:?}", registered.text().await);

    net.kill("a.test").await.expect("kill");
    assert!(!process_exists(first_pid), "killed and reaped");
    assert!(!net.node("a.test").expect("a").is_running());
    assert!(
        client.get(&user_url).send().await.is_err(),
        "nothing listens"
    );

    net.restart("a.test").await.expect("restart after kill");
    let a = net.node("a.test").expect("a");
    assert_eq!(a.port(), port);
    assert_ne!(a.pid(), Some(first_pid));
    let user = client.get(&user_url).send().await.expect("user");
    assert_eq!(user.status(), 200, "the data survived the crash");

    // A graceful stop exits cleanly, and a running node restarts the same way.
    let status = net.stop("a.test").await.expect("stop");
    assert!(status.success(), "{status}");
    net.restart("a.test").await.expect("restart after stop");
    net.restart("a.test").await.expect("restart while running");
    let user = client.get(&user_url).send().await.expect("user");
    assert_eq!(user.status(), 200);
    let log = std::fs::read_to_string(net.node("a.test").expect("a").log_path()).expect("log");
    assert!(log.contains("start #4 of a.test"), "{log}");
}

#[tokio::test]
async fn plain_http_nodes_come_up_when_tls_is_off() {
    let net = Testnet::builder(kezd())
        .tls(false)
        .node("plain.test")
        .start()
        .await
        .expect("testnet");
    let node = net.node("plain.test").expect("node");
    assert!(node.base_url().starts_with("http://"));
    assert!(node.cert_files().is_none());
    let response = net
        .client()
        .get(node.url("/v1/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn dropping_the_testnet_leaves_no_kezd_running() {
    let net = Testnet::builder(kezd())
        .node("a.test")
        .node("b.test")
        .start()
        .await
        .expect("testnet");
    let pids = net.pids();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|pid| process_exists(*pid)));
    drop(net);
    for pid in pids {
        assert!(!process_exists(pid), "kezd {pid} outlived the testnet");
    }

    // Also when the test using it panics.
    let (sender, receiver) = std::sync::mpsc::channel();
    let task = tokio::spawn(async move {
        let net = Testnet::builder(kezd())
            .node("a.test")
            .start()
            .await
            .expect("testnet");
        sender.send(net.pids()).expect("send");
        panic!("a failing test while the testnet runs (expected by this test)");
    });
    let error = task.await.expect_err("the task panics");
    assert!(error.is_panic());
    let pids = receiver.recv().expect("pids");
    assert_eq!(pids.len(), 1);
    for pid in pids {
        assert!(!process_exists(pid), "kezd {pid} outlived a panic");
    }
}

#[tokio::test]
async fn start_up_errors_name_the_problem() {
    let missing = Testnet::builder("/nonexistent/kezd")
        .node("a.test")
        .start()
        .await;
    assert!(matches!(
        missing,
        Err(kez_testnet::TestnetError::KezdBinary { .. })
    ));
    let bad_name = Testnet::builder(kezd()).node("a.example").start().await;
    assert!(matches!(
        bad_name,
        Err(kez_testnet::TestnetError::InvalidNodeName(_))
    ));
    // A config kezd rejects: the node exits and the error carries its log.
    let bad_config = Testnet::builder(kezd())
        .node_with(
            "a.test",
            NodeOptions::new().extra_config("durability = \"never\""),
        )
        .start()
        .await;
    match bad_config {
        Err(kez_testnet::TestnetError::NodeExited { node, log_tail, .. }) => {
            assert_eq!(node, "a.test");
            assert!(log_tail.contains("durability"), "{log_tail}");
        }
        other => panic!("expected NodeExited, got {other:?}"),
    }
}
