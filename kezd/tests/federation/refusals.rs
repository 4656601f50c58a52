//! Destinations a server must not deliver to (SPEC §9.1, §9.8): one whose certificate is not
//! valid for its server name, and one that resolves to an address the SSRF guard forbids.

use super::net::{self, Person};

/// SPEC §9.1: c.test's certificate is valid for its SRV target `node-c.test` only, not for
/// the server name; a.test refuses the TLS connection, so the message stays `queued` with an
/// error while a.test keeps retrying, and is never delivered (though carol exists there).
#[tokio::test]
async fn certificate_only_for_the_srv_target_is_refused() {
    let net = net::start_nodes(vec![
        ("a.test", net::options("")),
        ("c.test", net::options("").cert_for_srv_target_only()),
    ])
    .await;
    let alice = Person::register(&net, "alice", "a.test").await;
    // Clients reach c.test by the name its certificate is for.
    let c = net.node("c.test").expect("c");
    let home = format!("https://{}:{}", c.srv_target(), c.port());
    let carol = Person::register_at(&net, "carol", "c.test", home).await;
    let id = alice.send_queued(&carol, "over a bad certificate").await;
    let status = net::eventually("a.test retries c.test", || async {
        let status = alice.status(&id).await;
        (status["attempts"].as_u64().unwrap_or(0) >= 2).then_some(status)
    })
    .await;
    assert_eq!(status["status"], "queued", "{status}");
    assert!(status["error"].is_string(), "{status}");
    assert!(status["next_attempt_at"].is_u64(), "{status}");
    assert!(
        carol.inbox(0).await.is_empty(),
        "delivered over a bad certificate"
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.8: when b.test's loopback address is not on a.test's allow-list
/// (`allowed_private_addresses = []`, `allow_private_addresses = false`), a.test refuses to
/// connect to it: the message fails with `forbidden_address` at once, and b.test, though up
/// and reachable, never sees it.
#[tokio::test]
async fn private_address_is_refused_when_not_allowed() {
    let net = net::start_nodes(vec![
        (
            "a.test",
            net::options(
                "[federation]\nallow_private_addresses = false\nallowed_private_addresses = []",
            ),
        ),
        ("b.test", net::options("")),
    ])
    .await;
    let alice = Person::register(&net, "alice", "a.test").await;
    let bob = Person::register(&net, "bob", "b.test").await;
    let id = alice.send_queued(&bob, "to a loopback address").await;
    let status = alice.wait_status(&id, "failed").await;
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"], "forbidden_address", "{status}");
    assert!(bob.inbox(0).await.is_empty());
    net.shutdown().await.expect("shutdown");
}
