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

/// SPEC §9.4, §8.5, §7.3: among three servers, a message in every direction (a→b, a→c, b→a,
/// b→c, c→a, c→b) is pushed to the recipient's live stream at their own server as it is
/// accepted from the transaction, opens there, and its status at home becomes `delivered`.
#[tokio::test]
async fn every_direction_reaches_the_live_stream() {
    let servers = ["a.test", "b.test", "c.test"];
    let net = net::start(&servers, "").await;
    let mut people = Vec::new();
    for server in servers {
        people.push(Person::register(&net, "user", server).await);
    }
    for from in &people {
        for to in &people {
            if from.address == to.address {
                continue;
            }
            let mut stream = to.live_stream().await;
            let text = format!("{} to {}", from.address, to.address);
            let id = from.send_queued(to, &text).await;
            let item = stream.next_message().await;
            assert_eq!(item["id"], id.as_str(), "{item}");
            assert_eq!(to.open(&item["envelope"]), (from.address.to_string(), text));
            let status = from.wait_status(&id, "delivered").await;
            assert_eq!(status["status"], "delivered", "{status}");
        }
    }
    net.shutdown().await.expect("shutdown");
}

/// SPEC §4.2, §9.1: `GET /v1/u/bob@b.test` at a.test answers bob's handle record as b.test
/// publishes it, registration included (a verified it before answering).
#[tokio::test]
async fn remote_lookup_returns_the_record() {
    let net = net::start(&["a.test", "b.test"], "").await;
    let bob = Person::register(&net, "bob", "b.test").await;
    let a = net.node("a.test").expect("a");
    let r = net
        .client()
        .get(a.url("/v1/u/bob@b.test"))
        .send()
        .await
        .expect("lookup");
    assert_eq!(r.status(), 200);
    let record: serde_json::Value = r.json().await.expect("json");
    let at_b: serde_json::Value = net
        .client()
        .get(net.node("b.test").expect("b").url("/v1/u/bob"))
        .send()
        .await
        .expect("record at b")
        .json()
        .await
        .expect("json");
    assert_eq!(record, at_b);
    assert_eq!(record["address"], "bob@b.test");
    assert_eq!(record["primary"], bob.primary().to_string());
    assert_eq!(record["registration"]["handle"], "bob");
    // An unknown handle there is unknown here too.
    let r = net
        .client()
        .get(a.url("/v1/u/nobody@b.test"))
        .send()
        .await
        .expect("lookup");
    assert_eq!(r.status(), 404);
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.4 check 7, §9.7: a message to a handle that does not exist at the destination is
/// rejected there, and its status at home becomes `failed` with `unknown_recipient`.
#[tokio::test]
async fn unknown_remote_recipient_fails() {
    let net = net::start(&["a.test", "b.test"], "").await;
    let alice = Person::register(&net, "alice", "a.test").await;
    let ghost = Person::register(&net, "ghost", "b.test").await;
    // Addressed to a handle b.test never registered, sealed for some key.
    let envelope = kez_spec::envelope::Envelope::seal(
        &alice.key,
        alice.address.clone(),
        kez_spec::Address::parse("nobody@b.test").expect("address"),
        &ghost.primary(),
        net::now_ms(),
        [7; 12],
        b"{\"text\":\"anyone there?\"}",
    )
    .expect("seal")
    .sign(&alice.key);
    let (status, answer) = alice.post_envelope("nobody@b.test", envelope).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().expect("id");
    let status = alice.wait_status(id, "failed").await;
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"], "unknown_recipient", "{status}");
    assert!(ghost.inbox(0).await.is_empty());
    net.shutdown().await.expect("shutdown");
}
