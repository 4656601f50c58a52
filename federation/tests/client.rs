//! The federation client against real HTTPS servers (hyper + tokio-rustls, certificates from
//! a CA generated here) found through a real DNS server's SRV records (SPEC §9).

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::dns::TestDns;
use common::https::{Ca, Handler, Reply, STREAM, Seen, TestServer, json, serve};
use http::StatusCode;
use kez_federation::{
    ClientConfig, DeliveryError, FederationClient, FederationError, ServerKeys, TxnStatus,
};
use kez_spec::api::handle_record::HandleRecord;
use kez_spec::api::limits::Limits;
use kez_spec::clock::now_ms;
use kez_spec::registration::Registration;
use kez_spec::s2s::{RequestParts, ServerAuth};
use kez_spec::server_document::Published;
use kez_spec::{Address, Handle, KeyId, Primary, ServerName, SigningKey, VerifyingKey};

fn name(s: &str) -> ServerName {
    ServerName::parse(s).expect("server name")
}

fn loopback() -> IpAddr {
    "127.0.0.1".parse().expect("ip")
}

/// A test network: DNS, a CA, and this server's identity `a.test`.
struct Net {
    dns: TestDns,
    ca: Ca,
    a_keys: Arc<ServerKeys>,
}

impl Net {
    async fn new() -> Self {
        common::install_crypto_provider();
        Net {
            dns: TestDns::start().await,
            ca: Ca::new(),
            a_keys: Arc::new(ServerKeys::generate()),
        }
    }

    /// A server for `server` whose certificate names `cert_names`, found through
    /// `SRV _kez._tcp.<server> 0 0 <port> node-<server>` and `A node-<server> 127.0.0.1`.
    async fn node(&self, server: &str, cert_names: &[&str], handler: Handler) -> TestServer {
        let s = serve(&self.ca, cert_names, handler).await;
        let target = format!("node-{server}");
        self.dns
            .srv(&format!("_kez._tcp.{server}"), 0, 0, s.addr.port(), &target)
            .await;
        self.dns.addr(&target, loopback()).await;
        s
    }

    fn client(&self, allow_private_addresses: bool) -> FederationClient {
        FederationClient::new(
            ClientConfig {
                this_server: name("a.test"),
                resolver: Some(self.dns.addr),
                extra_roots: vec![self.ca.pem_file.clone()],
                allow_private_addresses,
                allowed_private_addresses: Vec::new(),
                request_timeout: Duration::from_secs(10),
                user_agent: "kez-federation-test".into(),
            },
            self.a_keys.clone(),
        )
        .expect("client")
    }
}

/// A peer: a server document signed by `keys` for whatever name it was reached as, users
/// `bob` (registered here) and `mallory` (whose registration names `c.test`), and a
/// transaction endpoint that checks the `Authorization` header against `origin_key` and
/// answers by transaction id.
fn peer(keys: Arc<ServerKeys>, origin_key: VerifyingKey) -> Handler {
    Arc::new(move |req: &Seen| -> Reply {
        let here = name(&req.authority);
        let path = req.path_and_query.as_str();
        match (req.method.as_str(), path) {
            ("GET", "/.well-known/kez") => json(
                StatusCode::OK,
                &keys
                    .sign_document(
                        &here,
                        &Published::new(
                            "test/1",
                            &Limits {
                                max_txn_envelopes: 100,
                                ..Limits::default()
                            },
                        ),
                        now_ms(),
                    )
                    .expect("signs"),
            ),
            ("GET", p) if p.starts_with("/.well-known/webfinger?resource=acct:") => {
                let address = p.trim_start_matches("/.well-known/webfinger?resource=acct:");
                let handle = address.split('@').next().unwrap_or_default();
                if !["bob", "mallory"].contains(&handle) {
                    return json(
                        StatusCode::NOT_FOUND,
                        &serde_json::json!({"error": "unknown_handle"}),
                    );
                }
                json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "subject": format!("acct:{address}"),
                        "links": [{"rel": "self", "type": "application/json",
                                   "href": format!("https://{here}/v1/u/{handle}")}],
                    }),
                )
            }
            ("GET", "/v1/u/bob") => json(StatusCode::OK, &record("bob", &here, &here)),
            ("GET", "/v1/u/mallory") => {
                json(StatusCode::OK, &record("mallory", &here, &name("c.test")))
            }
            ("PUT", p) if p.starts_with("/v1/federation/txn/") => {
                let auth = req
                    .headers
                    .get("authorization")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| ServerAuth::parse(h).ok());
                let verified = auth.is_some_and(|auth| {
                    auth.verify(
                        RequestParts {
                            method: "PUT",
                            path_and_query: p,
                            body: &req.body,
                        },
                        &here,
                        &origin_key,
                        now_ms() / 1000,
                        120,
                    )
                    .is_ok()
                });
                if !verified {
                    return json(
                        StatusCode::UNAUTHORIZED,
                        &serde_json::json!({"error": "invalid_signature"}),
                    );
                }
                txn_answer(p.trim_start_matches("/v1/federation/txn/"))
            }
            _ => json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "not_found"}),
            ),
        }
    })
}

/// A handle record whose registration claims `reg_server`.
fn record(handle: &str, server: &ServerName, reg_server: &ServerName) -> serde_json::Value {
    let key = user_key(handle);
    let reg = Registration {
        handle: Handle::parse(handle).expect("handle"),
        server: reg_server.clone(),
        primary: Primary::from(&key),
        ts_ms: now_ms() - 86_400_000,
    }
    .sign(&key);
    serde_json::to_value(HandleRecord {
        handle: handle.to_owned(),
        server: server.to_string(),
        address: format!("{handle}@{server}"),
        primary: Primary::from(&key).to_string(),
        registered_at: now_ms(),
        registration: reg,
    })
    .expect("json")
}

fn user_key(handle: &str) -> SigningKey {
    SigningKey::from_bytes(&[handle.len() as u8; 32])
}

fn txn_answer(id: &str) -> Reply {
    let err = |status, code: &str| {
        json(
            status,
            &serde_json::json!({"error": code, "message": "test"}),
        )
    };
    let with = |mut reply: Reply, k: &'static str, v: &str| {
        reply.1.push((k, v.to_owned()));
        reply
    };
    match id {
        "t503" => with(
            err(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "retry-after",
            "7",
        ),
        "t429" => with(
            err(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            "retry-after",
            "3",
        ),
        "t403" => err(StatusCode::FORBIDDEN, "origin_blocked"),
        "t400" => err(StatusCode::BAD_REQUEST, "malformed_request"),
        "t413" => err(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "t302" => with(
            err(StatusCode::FOUND, "moved"),
            "location",
            "/v1/federation/txn/ok-1",
        ),
        "tbig" => (
            StatusCode::OK,
            vec![],
            format!("{{\"results\":[],\"pad\":\"{}\"}}", "x".repeat(2 << 20)).into_bytes(),
        ),
        _ => json(
            StatusCode::OK,
            &serde_json::json!({"results": [
                {"id": "m1", "status": "accepted"},
                {"id": "m2", "status": "deferred", "code": "rate_limited", "retry_after": 30},
            ]}),
        ),
    }
}

/// Starts `b.test`, a well-behaved peer.
async fn with_peer_b(net: &Net) -> (TestServer, Arc<ServerKeys>) {
    let keys = Arc::new(ServerKeys::generate());
    let handler = peer(keys.clone(), net.a_keys.verify_key());
    (net.node("b.test", &["b.test"], handler).await, keys)
}

fn count(server: &TestServer, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path_and_query == path)
        .count()
}

/// SPEC §9.1–9.2: the document is fetched over TLS for the server name from the SRV
/// target, verified, and cached; `Host`/`:authority` is the server name.
#[tokio::test]
async fn server_document_fetched_verified_cached() {
    let net = Net::new().await;
    let (b, b_keys) = with_peer_b(&net).await;
    let client = net.client(true);
    let doc = client
        .server_document(&name("b.test"))
        .await
        .expect("document");
    assert_eq!(doc.server, name("b.test"));
    assert_eq!(doc.verify_keys[b_keys.key_id()].key, b_keys.verify_key());
    let again = client
        .server_document(&name("b.test"))
        .await
        .expect("cached");
    assert!(Arc::ptr_eq(&doc, &again));
    assert_eq!(count(&b, "/.well-known/kez"), 1);
    assert_eq!(b.requests()[0].authority, "b.test");
}

/// SPEC §9.2: a known key is returned; an unknown key triggers one refetch, not more than
/// once a minute.
#[tokio::test]
async fn origin_key_refetches_at_most_once_a_minute() {
    let net = Net::new().await;
    let (b, b_keys) = with_peer_b(&net).await;
    let client = net.client(true);
    let key = client
        .origin_key(&name("b.test"), b_keys.key_id(), now_ms())
        .await
        .expect("key");
    assert_eq!(key, b_keys.verify_key());
    let unknown = KeyId::parse("ed25519:k9").expect("key id");
    for _ in 0..3 {
        assert!(matches!(
            client.origin_key(&name("b.test"), &unknown, now_ms()).await,
            Err(FederationError::UnknownKey { .. })
        ));
    }
    assert_eq!(count(&b, "/.well-known/kez"), 2, "one fetch, one refetch");
}

/// SPEC §9.4 check 5: WebFinger then the handle record, registration verified; a record
/// whose registration names another server is refused; an unknown user is NotFound.
#[tokio::test]
async fn lookup_verifies_registration() {
    let net = Net::new().await;
    let (b, _) = with_peer_b(&net).await;
    let client = net.client(true);
    let bob = Address::parse("bob@b.test").expect("address");
    let user = client.lookup(&bob).await.expect("bob");
    assert_eq!(user.primary, Primary::from(&user_key("bob")));
    assert_eq!(user.record["handle"], "bob");
    assert_eq!(
        count(&b, "/.well-known/webfinger?resource=acct:bob@b.test"),
        1
    );
    client.lookup(&bob).await.expect("cached");
    assert_eq!(count(&b, "/v1/u/bob"), 1);

    let mallory = Address::parse("mallory@b.test").expect("address");
    match client.lookup(&mallory).await {
        Err(FederationError::Invalid { reason }) => {
            assert!(reason.contains("registration"), "{reason}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let nobody = Address::parse("nobody@b.test").expect("address");
    assert!(matches!(
        client.lookup(&nobody).await,
        Err(FederationError::NotFound { .. })
    ));
}

/// SPEC §9.3: the transaction carries an Authorization header that kez-spec's ServerAuth
/// verifies on the receiving side with this server's current key.
#[tokio::test]
async fn send_transaction_is_signed() {
    let net = Net::new().await;
    let (b, _) = with_peer_b(&net).await;
    let client = net.client(true);
    let body = Bytes::from_static(br#"{"origin":"a.test","envelopes":[]}"#);
    let results = client
        .send_transaction(&name("b.test"), "a.test-000001", body.clone())
        .await
        .expect("delivered");
    assert_eq!(results.results.len(), 2);
    assert_eq!(results.results[0].status, TxnStatus::Accepted);
    assert_eq!(results.results[1].retry_after, Some(30));

    let seen = b.requests();
    let req = seen.last().expect("a request");
    assert_eq!(req.method, "PUT");
    assert_eq!(req.path_and_query, "/v1/federation/txn/a.test-000001");
    assert_eq!(req.body, body);
    let header = req.headers["authorization"].to_str().expect("ascii");
    let auth = ServerAuth::parse(header).expect("parses");
    assert_eq!(auth.origin, name("a.test"));
    assert_eq!(auth.destination, name("b.test"));
    assert_eq!(&auth.key_id, net.a_keys.key_id());
    let parts = RequestParts {
        method: "PUT",
        path_and_query: &req.path_and_query,
        body: &req.body,
    };
    auth.verify(
        parts,
        &name("b.test"),
        &net.a_keys.verify_key(),
        now_ms() / 1000,
        120,
    )
    .expect("verifies");
    // The same header is worthless at another destination (SPEC §13.1).
    assert!(
        auth.verify(
            parts,
            &name("c.test"),
            &net.a_keys.verify_key(),
            now_ms() / 1000,
            120
        )
        .is_err()
    );
}

/// SPEC §9.6: 503 and 429 are transient with Retry-After; 403 and 400 permanent with the
/// body's code; 413 re-batch.
#[tokio::test]
async fn delivery_outcomes() {
    let net = Net::new().await;
    let (_b, _) = with_peer_b(&net).await;
    let client = net.client(true);
    let send = |id: &'static str| {
        let client = client.clone();
        async move {
            client
                .send_transaction(&name("b.test"), id, Bytes::from_static(b"{}"))
                .await
        }
    };
    assert!(matches!(
        send("t503").await,
        Err(DeliveryError::Transient { retry_after: Some(d), .. }) if d == Duration::from_secs(7)
    ));
    assert!(matches!(
        send("t429").await,
        Err(DeliveryError::Transient { retry_after: Some(d), .. }) if d == Duration::from_secs(3)
    ));
    assert_eq!(
        send("t403").await,
        Err(DeliveryError::permanent("origin_blocked"))
    );
    assert_eq!(
        send("t400").await,
        Err(DeliveryError::permanent("malformed_request"))
    );
    assert_eq!(send("t413").await, Err(DeliveryError::TooLarge));
    assert_eq!(
        send("..").await,
        Err(DeliveryError::permanent("malformed_request"))
    );
}

/// SPEC §9.8: a 3xx is a failure and is not followed.
#[tokio::test]
async fn redirects_are_not_followed() {
    let net = Net::new().await;
    let (b, _) = with_peer_b(&net).await;
    let client = net.client(true);
    let got = client
        .send_transaction(&name("b.test"), "t302", Bytes::from_static(b"{}"))
        .await;
    assert!(
        matches!(got, Err(DeliveryError::Transient { .. })),
        "{got:?}"
    );
    assert_eq!(b.requests().len(), 1, "the Location was not requested");

    let r = net
        .node(
            "r.test",
            &["r.test"],
            Arc::new(|_: &Seen| -> Reply {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    vec![("location", "https://r.test/elsewhere".into())],
                    vec![],
                )
            }),
        )
        .await;
    assert!(matches!(
        client.server_document(&name("r.test")).await,
        Err(FederationError::Unavailable { .. })
    ));
    assert_eq!(r.requests().len(), 1);
}

/// SPEC §9.1: the certificate must be valid for the server name; one valid only for the
/// SRV target is refused.
#[tokio::test]
async fn certificate_for_srv_target_only_is_refused() {
    let net = Net::new().await;
    let keys = Arc::new(ServerKeys::generate());
    let c = net
        .node(
            "c.test",
            &["node-c.test"],
            peer(keys, net.a_keys.verify_key()),
        )
        .await;
    let client = net.client(true);
    match client.server_document(&name("c.test")).await {
        Err(FederationError::Unavailable { reason }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(c.requests().is_empty());
    let got = client
        .send_transaction(&name("c.test"), "x1", Bytes::from_static(b"{}"))
        .await;
    assert!(
        matches!(got, Err(DeliveryError::Transient { .. })),
        "{got:?}"
    );
}

/// SPEC §9.8: with private addresses not allowed, a peer on loopback or in 10/8 is refused
/// before any connection is made (and delivery to it fails permanently).
#[tokio::test]
async fn private_addresses_refused_unless_allowed() {
    let net = Net::new().await;
    let (b, _) = with_peer_b(&net).await;
    net.dns
        .srv("_kez._tcp.ten.test", 0, 0, 443, "node-ten.test")
        .await;
    net.dns
        .addr("node-ten.test", "10.0.0.1".parse().expect("ip"))
        .await;
    let client = net.client(false);
    for server in ["b.test", "ten.test"] {
        assert!(
            matches!(
                client.server_document(&name(server)).await,
                Err(FederationError::ForbiddenAddress { .. })
            ),
            "{server}"
        );
    }
    assert_eq!(
        client
            .send_transaction(&name("b.test"), "x1", Bytes::from_static(b"{}"))
            .await,
        Err(DeliveryError::permanent("forbidden_address"))
    );
    assert!(b.requests().is_empty());
}

/// SPEC §9.1, §9.8: discovery bodies are capped at 64 KiB (here a streamed body), and
/// transaction results at 1 MiB (here one announced by Content-Length).
#[tokio::test]
async fn oversize_bodies_are_cut_off() {
    let net = Net::new().await;
    let (_b, _) = with_peer_b(&net).await;
    let _big = net
        .node(
            "big.test",
            &["big.test"],
            Arc::new(|_: &Seen| -> Reply {
                // Streamed without Content-Length: the cap must act while reading.
                (
                    StatusCode::OK,
                    vec![(STREAM, String::new())],
                    vec![b' '; 100 * 1024],
                )
            }),
        )
        .await;
    let client = net.client(true);
    match client.server_document(&name("big.test")).await {
        Err(FederationError::Invalid { reason }) => assert!(reason.contains("larger"), "{reason}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let got = client
        .send_transaction(&name("b.test"), "tbig", Bytes::from_static(b"{}"))
        .await;
    assert!(
        matches!(got, Err(DeliveryError::Transient { .. })),
        "{got:?}"
    );
}

/// SPEC §9.1: a sole `.` SRV target means no federation: lookups fail, delivery fails for good.
#[tokio::test]
async fn no_federation() {
    let net = Net::new().await;
    net.dns.srv("_kez._tcp.off.test", 0, 0, 0, ".").await;
    let client = net.client(true);
    assert!(matches!(
        client.server_document(&name("off.test")).await,
        Err(FederationError::NoFederation { .. })
    ));
    assert_eq!(
        client
            .send_transaction(&name("off.test"), "x1", Bytes::from_static(b"{}"))
            .await,
        Err(DeliveryError::permanent("no_federation"))
    );
}

/// SPEC §2.2, §9.1: a server name with an explicit port is reached at that host and port
/// without SRV; `Host` carries the port.
#[tokio::test]
async fn explicit_port() {
    let net = Net::new().await;
    let keys = Arc::new(ServerKeys::generate());
    let d = serve(
        &net.ca,
        &["d.test"],
        peer(keys.clone(), net.a_keys.verify_key()),
    )
    .await;
    net.dns.addr("d.test", loopback()).await;
    let server = name(&format!("d.test:{}", d.addr.port()));
    let client = net.client(true);
    let doc = client.server_document(&server).await.expect("document");
    assert_eq!(doc.server, server);
    assert_eq!(d.requests()[0].authority, server.as_str());
    client
        .send_transaction(&server, "ok-2", Bytes::from_static(b"{}"))
        .await
        .expect("signed for d.test:<port> and verified there");
}
