//! Delivery between servers (SPEC §9.4–§9.7).

use super::net::{self, Person};

/// SPEC §9.4, §9.7: a message to a remote user is queued at home, delivered by transaction,
/// lands in the recipient's inbox at their server, opens, and its status becomes `delivered`.
#[tokio::test]
async fn a_message_crosses_to_another_server() {
    let net = net::start(&["a.test", "b.test"], "").await;
    let alice = Person::register(&net, "alice", "a.test").await;
    let bob = Person::register(&net, "bob", "b.test").await;
    let (status, answer) = alice.send(&bob, "hello across").await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "queued");
    let id = answer["id"].as_str().expect("id").to_owned();
    let inbox = bob.wait_for(1).await;
    assert_eq!(
        inbox,
        vec![(1, "alice@a.test".to_owned(), "hello across".to_owned())]
    );
    let status = alice.wait_status(&id, "delivered").await;
    assert_eq!(status["status"], "delivered", "{status}");
    assert_eq!(status["attempts"], 1);
    net.shutdown().await.expect("shutdown");
}
