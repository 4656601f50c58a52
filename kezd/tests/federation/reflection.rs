//! kezd cannot be used to reflect requests at another host (SPEC §11, §13.2): look-ups it makes
//! on an unauthenticated client's word — `GET /v1/u/<remote address>`, and the origin's
//! document fetched for a transaction's `Authorization` — are rationed per client address
//! (`[rate] remote_lookups_per_minute`) and per destination host
//! (`remote_lookups_per_server_per_minute`). Only look-ups that go out count: a cached answer
//! is free, even past the limit.

use std::net::{IpAddr, Ipv4Addr};

use kez_testnet::{Node, Testnet};
use serde_json::Value;

use super::net::{self, Person};

/// `GET /v1/u/<address>` on `node` from `client`; the status and the body.
async fn lookup(client: &reqwest::Client, node: &Node, address: &str) -> (u16, Value, Option<u64>) {
    let response = client
        .get(node.url(&format!("/v1/u/{address}")))
        .send()
        .await
        .expect("look-up answered");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        retry_after,
    )
}

/// Asserts a 429 `rate_limited` with a §10 body and a `Retry-After` in seconds.
fn assert_limited((status, body, retry_after): (u16, Value, Option<u64>), what: &str) {
    assert_eq!(status, 429, "{what}: {body}");
    assert_eq!(body["error"], "rate_limited", "{what}: {body}");
    assert!(body["message"].is_string(), "{what}: {body}");
    assert!(retry_after.is_some_and(|s| s >= 1), "{what}: Retry-After");
}

/// A client of the testnet whose connections come from `local` (another loopback address is
/// another client address to kezd).
fn client_from(net: &Testnet, local: Ipv4Addr) -> reqwest::Client {
    net.client_builder()
        .expect("client builder")
        .local_address(IpAddr::V4(local))
        .build()
        .expect("client")
}

/// SPEC §11: per client address, look-ups that go out are counted (a found user, an unknown
/// one), cached answers are not, the next one past the quota is 429 with `Retry-After` —
/// cached answers still come — and another client address has its own quota.
#[tokio::test]
async fn remote_lookups_are_limited_per_client_address() {
    let net = net::start_nodes(vec![
        (
            "a.test",
            net::options("[rate]\nremote_lookups_per_minute = 2"),
        ),
        ("b.test", net::options("")),
    ])
    .await;
    Person::register(&net, "bob", "b.test").await;
    let a = net.node("a.test").expect("a");
    let first = client_from(&net, Ipv4Addr::new(127, 0, 0, 1));
    assert_eq!(lookup(&first, a, "bob@b.test").await.0, 200);
    for _ in 0..5 {
        assert_eq!(lookup(&first, a, "bob@b.test").await.0, 200, "cached: free");
    }
    assert_eq!(lookup(&first, a, "nobody@b.test").await.0, 404);
    assert_limited(
        lookup(&first, a, "carol@b.test").await,
        "the third look-up out",
    );
    assert_eq!(
        lookup(&first, a, "bob@b.test").await.0,
        200,
        "cached past the limit"
    );
    assert_eq!(
        lookup(&first, a, "nobody@b.test").await.0,
        404,
        "a cached 404"
    );
    let second = client_from(&net, Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(
        lookup(&second, a, "carol@b.test").await.0,
        404,
        "another address"
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §11: per destination host, whoever asks: past the quota for b.test, look-ups of b.test
/// are 429 — also under another port of the same host, which gives no fresh budget — while
/// another host is still looked up.
#[tokio::test]
async fn remote_lookups_are_limited_per_destination_host() {
    let net = net::start_nodes(vec![
        (
            "a.test",
            net::options("[rate]\nremote_lookups_per_server_per_minute = 2"),
        ),
        ("b.test", net::options("")),
        ("c.test", net::options("")),
    ])
    .await;
    Person::register(&net, "bob", "b.test").await;
    let a = net.node("a.test").expect("a");
    let b_port = net.node("b.test").expect("b").port();
    let one = client_from(&net, Ipv4Addr::new(127, 0, 0, 1));
    let two = client_from(&net, Ipv4Addr::new(127, 0, 0, 3));
    assert_eq!(lookup(&one, a, "bob@b.test").await.0, 200);
    assert_eq!(lookup(&two, a, "x1@b.test").await.0, 404);
    assert_limited(lookup(&two, a, "x2@b.test").await, "b.test's third");
    assert_limited(
        lookup(&one, a, &format!("x3@b.test:{b_port}")).await,
        "b.test by another port",
    );
    assert_eq!(lookup(&one, a, "bob@b.test").await.0, 200, "cached");
    assert_eq!(lookup(&one, a, "x1@c.test").await.0, 404, "another host");
    net.shutdown().await.expect("shutdown");
}

/// SPEC §13.2: a transaction naming an origin whose document is not cached makes kezd fetch
/// it before any signature is checked, so it is a remote look-up too: per client address, past
/// the quota the transaction is 429 before anything is fetched; an origin already asked about
/// (its failure cached) costs nothing.
#[tokio::test]
async fn transactions_naming_new_origins_are_limited() {
    let net = net::start_nodes(vec![(
        "a.test",
        net::options("[rate]\nremote_lookups_per_minute = 2"),
    )])
    .await;
    let a = net.node("a.test").expect("a");
    let put = |origin: &'static str| super::ssrf::txn_from(&net, a, origin);
    for origin in ["n1.test", "n2.test"] {
        let response = put(origin).await;
        assert_eq!(response.status(), 503, "{origin}: no such server");
    }
    let response = put("n3.test").await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.expect("§10 body");
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(put("n1.test").await.status(), 503, "cached: free");
    net.shutdown().await.expect("shutdown");
}
