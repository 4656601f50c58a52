//! No request leaves for a forbidden address, whatever spelling names it (SPEC §2.2, §9.8,
//! §13.2): every numeric spelling of loopback, private, link-local and metadata addresses, and
//! names whose DNS answers (A, IPv4-mapped or NAT64 AAAA, SRV targets) lead there, through every
//! entry point that makes kezd connect out — the remote look-up, a transaction naming such an
//! origin, a local user's send — and registration naming such a server. A TCP listener on
//! 127.0.0.1 counts the connections it accepts: it must see none from a server that allows
//! only the testnet's own addresses (`allowed_private_addresses`, as every testnet node), and
//! does see one from a server with `allow_private_addresses = true` (so the count can fail).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kez_spec::envelope::Envelope;
use kez_spec::registration::Registration;
use kez_spec::s2s::{Parties, RequestParts, ServerAuth};
use kez_spec::{KeyId, Primary, ServerName, SigningKey};
use kez_testnet::{Node, RecordData, Testnet};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::net::{self, Person, now_ms};

/// Every spelling of a forbidden IPv4 or IPv6 address a URL parser or `inet_aton` accepts, as
/// a server's host: loopback, private, link-local and the metadata address 169.254.169.254.
const SPELLINGS: &[&str] = &[
    // 127.0.0.1
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "017700000001",
    "0x7f000001",
    "0x7f.1",
    "0x7f.0.0.1",
    "127.0.0.0x1",
    "0177.0.0.0x1",
    "0x7f.0x0.0x0.0x1",
    "0177.0.0.01",
    "127.0.0.1.",
    "0x7f000001.",
    "0x0",
    "0",
    // private
    "10.0.0.1",
    "0xa000001",
    "012.0.0.1",
    "192.168.0.1",
    "0300.0250.0.1",
    "0xc0a80001",
    "172.16.0.1",
    // link-local and metadata
    "169.254.169.254",
    "169.254.169.0xfe",
    "0xa9fea9fe",
    "2852039166",
    "0251.0376.0251.0376",
    // IPv6 literals, mapped, compatible, NAT64, 6to4
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fd00::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b::a9fe:a9fe]",
    "[2002:7f00:1::]",
    "[::ffff:169.254.169.254]",
];

/// A TCP listener on 127.0.0.1 that accepts and drops connections, counting them.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the counting listener");
    let port = listener.local_addr().expect("local address").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

/// `PUT /v1/federation/txn/<id>` to `node`, signed as `origin` by a key of nobody's, with the
/// origin written into the header as given (it need not be a valid server name).
pub(super) async fn txn_from(net: &Testnet, node: &Node, origin: &str) -> reqwest::Response {
    let key = SigningKey::from_bytes(&[7; 32]);
    let path = "/v1/federation/txn/ssrf-1";
    let body = json!({"origin": origin, "envelopes": []}).to_string();
    let placeholder: ServerName = "placeholder.test".parse().expect("name");
    let destination: ServerName = node.name().parse().expect("node name");
    let key_id: KeyId = "ed25519:k1".parse().expect("key id");
    let header = ServerAuth::sign(
        RequestParts {
            method: "PUT",
            path_and_query: path,
            body: body.as_bytes(),
        },
        Parties {
            origin: &placeholder,
            destination: &destination,
            key_id: &key_id,
            ts: now_ms() / 1000,
        },
        &key,
    )
    .to_string()
    .replace(
        "origin=\"placeholder.test\"",
        &format!("origin=\"{origin}\""),
    );
    net.client()
        .put(node.url(path))
        .header("authorization", header)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("txn answered")
}

/// `GET /v1/u/<address>` on `node`.
async fn lookup(net: &Testnet, node: &Node, address: &str) -> reqwest::Response {
    net.client()
        .get(node.url(&format!("/v1/u/{address}")))
        .send()
        .await
        .expect("look-up answered")
}

/// Asserts a §10 error: status and code.
async fn expect_error(response: reqwest::Response, status: u16, code: &str, what: &str) {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(code)),
        "{what}: {body}"
    );
    assert!(body["message"].is_string(), "{what}: {body}");
}

/// SPEC §2.2, §2.4, §9.3, §4.1: with and without a port, every numeric spelling is refused as
/// an invalid name at the remote look-up (400 `invalid_handle`, §4.2), in a transaction's
/// `Authorization` (401 `s2s_unauthorized`), as a send's recipient (400 `invalid_address`) and
/// as a registration's server (400 `wrong_server`, §4.1 step 5: any other value, well formed or
/// not) — and nothing connects out.
#[tokio::test]
async fn numeric_spellings_are_refused_at_every_entry_point() {
    let net = net::start_nodes(vec![(
        "a.test",
        net::options("[federation]\nallow_private_addresses = false"),
    )])
    .await;
    let (port, connections) = counting_listener().await;
    let a = net.node("a.test").expect("a");
    let alice = Person::register(&net, "alice", "a.test").await;
    let bob = Person::register(&net, "bob", "a.test").await;
    let key = SigningKey::from_bytes(&[9; 32]);
    for host in SPELLINGS {
        for server in [format!("{host}:{port}"), (*host).to_owned()] {
            let to = format!("bob@{server}");
            expect_error(lookup(&net, a, &to).await, 400, "invalid_handle", &to).await;
            expect_error(
                txn_from(&net, a, &server).await,
                401,
                "s2s_unauthorized",
                &server,
            )
            .await;
            let mut envelope = alice.envelope(&bob, "to a number");
            envelope["to"] = to.clone().into();
            let (status, body) = alice.post_envelope(&to, envelope).await;
            assert_eq!(
                (status, &body["error"]),
                (400, &json!("invalid_address")),
                "{to}"
            );
            let mut registration = serde_json::to_value(
                Registration {
                    handle: "carol".parse().expect("handle"),
                    server: "a.test".parse().expect("name"),
                    primary: Primary::from(&key),
                    ts_ms: now_ms(),
                }
                .sign(&key),
            )
            .expect("registration JSON");
            registration["server"] = server.clone().into();
            let response = net
                .client()
                .post(a.url("/v1/register"))
                .json(&registration)
                .send()
                .await
                .expect("register answered");
            expect_error(response, 400, "wrong_server", &server).await;
        }
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a connection was made"
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.8: names whose DNS answers lead to loopback — an A record, an IPv4-mapped or NAT64
/// AAAA record, SRV targets that are addresses in some spelling or names of such — are refused
/// by a server that does not allow private addresses, at the look-up (503), for a
/// transaction's origin (503, its keys cannot be fetched) and for a local user's send (failed
/// `forbidden_address`), and nothing connects to the listener; a server that allows private
/// addresses does connect to it, so the count can see a connection.
#[tokio::test]
async fn names_that_resolve_to_forbidden_addresses_are_refused() {
    let net = net::start_nodes(vec![
        (
            "a.test",
            net::options("[federation]\nallow_private_addresses = false"),
        ),
        (
            "open.test",
            net::options("[federation]\nallow_private_addresses = true"),
        ),
    ])
    .await;
    let (port, connections) = counting_listener().await;
    let dns = net.dns();
    let srv = |target: &str| RecordData::Srv {
        priority: 0,
        weight: 0,
        port,
        target: target.to_owned(),
    };
    dns.add("evil.test", RecordData::A(Ipv4Addr::LOCALHOST))
        .await
        .expect("A");
    dns.add(
        "mapped.test",
        RecordData::Aaaa("::ffff:127.0.0.1".parse().expect("v6")),
    )
    .await
    .expect("AAAA");
    dns.add(
        "nat64.test",
        RecordData::Aaaa("64:ff9b::7f00:1".parse().expect("v6")),
    )
    .await
    .expect("AAAA");
    for (name, target) in [
        ("srvlit.test", "127.0.0.1."),
        ("srvhex.test", "0x7f000001."),
        ("srvmixed.test", "0177.0.0.0x1."),
        ("srvevil.test", "evil.test."),
        ("srvmapped.test", "mapped.test."),
    ] {
        dns.add(&kez_testnet::kez_srv_name(name), srv(target))
            .await
            .expect("SRV");
    }
    let servers = [
        format!("evil.test:{port}"),
        format!("mapped.test:{port}"),
        format!("nat64.test:{port}"),
        "srvlit.test".to_owned(),
        "srvhex.test".to_owned(),
        "srvmixed.test".to_owned(),
        "srvevil.test".to_owned(),
        "srvmapped.test".to_owned(),
    ];
    let a = net.node("a.test").expect("a");
    for server in &servers {
        let to = format!("bob@{server}");
        expect_error(lookup(&net, a, &to).await, 503, "unavailable", &to).await;
        expect_error(txn_from(&net, a, server).await, 503, "unavailable", server).await;
    }
    let alice = Person::register(&net, "alice", "a.test").await;
    let bob = Person::register(&net, "bob", "a.test").await;
    let to = format!("bob@evil.test:{port}");
    let envelope = Envelope::seal(
        &alice.key,
        alice.address.clone(),
        to.parse().expect("a valid address"),
        &bob.primary(),
        now_ms(),
        [3; 12],
        b"{\"text\":\"to loopback by name\"}",
    )
    .expect("seal")
    .sign(&alice.key);
    let (status, answer) = alice.post_envelope(&to, envelope).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().expect("id");
    let status = alice.wait_status(id, "failed").await;
    assert_eq!(status["error"], "forbidden_address", "{status}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a connection was made"
    );

    // The control: a server that allows private addresses connects (and gets no KEZ answer).
    let open = net.node("open.test").expect("open");
    let to = format!("bob@evil.test:{port}");
    expect_error(lookup(&net, open, &to).await, 503, "unavailable", &to).await;
    assert!(
        connections.load(Ordering::SeqCst) > 0,
        "the listener counts connections"
    );
    net.shutdown().await.expect("shutdown");
}
