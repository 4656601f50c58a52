//! a.test delivers to a rogue peer that misbehaves as a receiver (SPEC §9.4, §9.6): it fails,
//! asks for time with `Retry-After`, or defers envelopes; a.test must wait as told, retry with
//! backoff, and deliver each message exactly once in the end.

use std::time::Duration;

use kez_testnet::Testnet;
use kez_testnet::rogue::{self, Behaviour, ReceivedTxn, RogueOptions, RoguePeer, Sign};

use super::net::{self, LIVENESS, Person};

/// a.test with alice, and a rogue peer with mallory answering as `script` says, then accepting.
async fn setup(script: Vec<Behaviour>) -> (Testnet, Person, RoguePeer) {
    setup_with("", script).await
}

/// As [`setup`], with `extra` TOML in a.test's configuration.
async fn setup_with(extra: &str, script: Vec<Behaviour>) -> (Testnet, Person, RoguePeer) {
    let net = net::start(&["a.test"], extra).await;
    let alice = Person::register(&net, "alice", "a.test").await;
    let rogue = RoguePeer::start(&net, "rogue.test", RogueOptions::new())
        .await
        .expect("rogue starts");
    rogue.user("mallory");
    rogue.script(script);
    (net, alice, rogue)
}

/// alice sends `text` to mallory@rogue.test; the message id.
async fn send_to_mallory(alice: &Person, rogue: &RoguePeer, text: &str) -> String {
    let mallory = rogue.address("mallory");
    let primary = kez_spec::Primary::from(&rogue.user("mallory"));
    let envelope = rogue::envelope_as(&alice.key, &alice.address, &mallory, &primary, text);
    let (status, answer) = alice.post_envelope(&mallory.to_string(), envelope).await;
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().expect("id").to_owned()
}

/// At least `secs` seconds, less the rounding of the whole-millisecond times kezd schedules
/// with.
fn at_least(secs: u64) -> Duration {
    Duration::from_secs(secs) - Duration::from_millis(5)
}

/// Every request a.test sent carried a valid signature by a.test (SPEC §9.3).
fn assert_signed_by_a(received: &[ReceivedTxn]) {
    for txn in received {
        let auth = txn.auth.as_ref().expect("a.test's signature verifies");
        assert_eq!(auth.origin.as_str(), "a.test");
    }
}

/// `/metrics` of `person`'s server.
async fn metrics(person: &Person) -> String {
    person
        .http
        .get(format!("{}/metrics", person.home))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// Each of `series` is a line of `/metrics` on `person`'s server.
async fn assert_metrics(person: &Person, series: &[&str]) {
    let metrics = metrics(person).await;
    for line in series {
        assert!(metrics.lines().any(|l| l == *line), "{line} in\n{metrics}");
    }
}

/// Waits until the message is accepted by the rogue and `delivered` at home; the requests the
/// rogue received.
async fn delivered(alice: &Person, rogue: &RoguePeer, id: &str) -> Vec<ReceivedTxn> {
    let accepted = rogue.wait_accepted(1, LIVENESS).await;
    assert_eq!(accepted.len(), 1, "accepted once");
    assert_eq!(rogue::message_id(&accepted[0]), id);
    let status = alice.wait_status(id, "delivered").await;
    assert_eq!(status["status"], "delivered", "{status}");
    rogue.received()
}

/// SPEC §9.6: a 503 or 429 with `Retry-After` means nothing is sent to that destination
/// before it elapses — longer than the configured backoff (1–2 s) here — and delivery then
/// succeeds.
async fn retry_after_is_obeyed(status: u16) {
    let wait = 3;
    let (net, alice, rogue) = setup(vec![Behaviour::Fail {
        status,
        retry_after: Some(wait),
    }])
    .await;
    let id = send_to_mallory(&alice, &rogue, "patience").await;
    // While it waits, the operator sees one message queued for one failing destination.
    wait_backing_off(&alice).await;
    let received = delivered(&alice, &rogue, &id).await;
    let answered: Vec<u16> = received.iter().map(|t| t.status).collect();
    assert_eq!(answered, [status, 200]);
    assert_metrics(
        &alice,
        &[
            "kezd_federation_transactions_total{outcome=\"transient\"} 1",
            "kezd_federation_transactions_total{outcome=\"answered\"} 1",
            "kezd_federation_envelopes_total{result=\"delivered\"} 1",
            "kezd_federation_outbox_pending 0",
            "kezd_federation_outbox_destinations 0",
            "kezd_federation_destinations_failing 0",
        ],
    )
    .await;
    let gap = received[1].received_at - received[0].answered_at;
    assert!(
        gap >= at_least(wait),
        "the retry came {gap:?} after a Retry-After of {wait} s"
    );
    assert_signed_by_a(&received);
    net.shutdown().await.expect("shutdown");
}

/// Waits until a.test's `/metrics` shows one message queued for one failing destination.
async fn wait_backing_off(alice: &Person) {
    let waiting = [
        "kezd_federation_outbox_pending 1",
        "kezd_federation_outbox_destinations 1",
        "kezd_federation_destinations_failing 1",
    ];
    net::eventually("the backlog on /metrics", || async {
        let metrics = metrics(alice).await;
        waiting
            .iter()
            .all(|line| metrics.lines().any(|l| l == *line))
            .then_some(())
    })
    .await;
}

/// The rogue peer sends alice a signed transaction, which a.test accepts.
async fn rogue_writes_to(alice: &Person, rogue: &RoguePeer, txn_id: &str) {
    let envelope = rogue.envelope("mallory", &alice.address, &alice.primary(), "I am back");
    let body = rogue.txn_body(&[envelope]);
    let (status, answer) = rogue
        .send_txn("a.test", txn_id, body, Sign::Good)
        .await
        .expect("send");
    assert_eq!(status, 200, "{answer}");
}

/// A destination backing off on a.test's own schedule (here 48–84 s after one failure) is
/// retried as soon as it sends a.test a signed transaction: it is evidently up.
#[tokio::test]
async fn a_failing_peer_that_writes_to_us_is_retried_at_once() {
    let slow_backoff = "[federation]\nbackoff_initial_secs = 60\nbackoff_max_secs = 60\n";
    let (net, alice, rogue) = setup_with(
        slow_backoff,
        vec![Behaviour::Fail {
            status: 500,
            retry_after: None,
        }],
    )
    .await;
    let id = send_to_mallory(&alice, &rogue, "are you there").await;
    wait_backing_off(&alice).await;
    rogue_writes_to(&alice, &rogue, "back-1").await;
    let received = delivered(&alice, &rogue, &id).await;
    let answered: Vec<u16> = received.iter().map(|t| t.status).collect();
    assert_eq!(answered, [500, 200]);
    let gap = received[1].received_at - received[0].answered_at;
    assert!(
        gap < Duration::from_secs(40),
        "retried {gap:?} after the failure"
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.6: a peer that asked for time with `Retry-After` gets it, even if it writes to
/// a.test meanwhile.
#[tokio::test]
async fn a_peer_that_asked_for_time_gets_it_even_if_it_writes_to_us() {
    let wait = 4;
    let (net, alice, rogue) = setup(vec![Behaviour::Fail {
        status: 503,
        retry_after: Some(wait),
    }])
    .await;
    let id = send_to_mallory(&alice, &rogue, "patience").await;
    wait_backing_off(&alice).await;
    rogue_writes_to(&alice, &rogue, "back-1").await;
    let received = delivered(&alice, &rogue, &id).await;
    let gap = received[1].received_at - received[0].answered_at;
    assert!(
        gap >= at_least(wait),
        "the retry came {gap:?} after a Retry-After of {wait} s"
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.6, §10: 503 `unavailable` with `Retry-After`.
#[tokio::test]
async fn unavailable_with_retry_after_is_waited_out() {
    retry_after_is_obeyed(503).await;
}

/// SPEC §9.6, §9.4: 429 `rate_limited` with `Retry-After` (the whole origin over its limit).
#[tokio::test]
async fn rate_limited_with_retry_after_is_waited_out() {
    retry_after_is_obeyed(429).await;
}

/// SPEC §9.6: 500 answers are transient: retried with backoff, each retry a new transaction,
/// and the message is delivered once the peer recovers; `attempts` counts the transactions.
#[tokio::test]
async fn server_errors_are_retried_until_the_peer_recovers() {
    let fail = Behaviour::Fail {
        status: 500,
        retry_after: None,
    };
    let (net, alice, rogue) = setup(vec![fail.clone(), fail]).await;
    let id = send_to_mallory(&alice, &rogue, "eventually").await;
    let received = delivered(&alice, &rogue, &id).await;
    let answered: Vec<u16> = received.iter().map(|t| t.status).collect();
    assert_eq!(answered, [500, 500, 200]);
    let txn_ids: std::collections::HashSet<&str> =
        received.iter().map(|t| t.txn_id.as_str()).collect();
    assert_eq!(txn_ids.len(), 3, "each attempt is its own transaction");
    assert_signed_by_a(&received);
    let status = alice.status(&id).await;
    assert_eq!(status["attempts"], 3, "{status}");
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.4, §9.6: an envelope answered `deferred` is sent again, in a later transaction,
/// no sooner than its `retry_after`, and then delivered.
#[tokio::test]
async fn deferred_envelope_is_resent_after_retry_after() {
    let wait = 2;
    let (net, alice, rogue) = setup(vec![Behaviour::Defer {
        accept_first: 0,
        retry_after: wait,
    }])
    .await;
    let id = send_to_mallory(&alice, &rogue, "later").await;
    let received = delivered(&alice, &rogue, &id).await;
    assert_eq!(received.len(), 2, "one deferral, one delivery");
    assert_ne!(
        received[0].txn_id, received[1].txn_id,
        "a later transaction"
    );
    let gap = received[1].received_at - received[0].answered_at;
    assert!(
        gap >= at_least(wait),
        "resent {gap:?} after a retry_after of {wait} s"
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.5: a slow receiver holds one transaction open; the sender's messages still arrive
/// once each and in the order they were sent.
#[tokio::test]
async fn slow_receiver_gets_messages_in_order() {
    let (net, alice, rogue) = setup(Vec::new()).await;
    rogue.set_behaviour(Behaviour::Slow(Duration::from_millis(300)));
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(send_to_mallory(&alice, &rogue, &format!("m{n}")).await);
    }
    let accepted = rogue.wait_accepted(ids.len(), LIVENESS).await;
    let got: Vec<String> = accepted.iter().map(rogue::message_id).collect();
    assert_eq!(got, ids);
    for id in &ids {
        let status = alice.wait_status(id, "delivered").await;
        assert_eq!(status["status"], "delivered", "{status}");
    }
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.5: a transaction the receiver is slow to answer holds back only its own senders'
/// later messages; other senders' messages, sent while it is open, are delivered meanwhile.
#[tokio::test]
async fn a_slow_transaction_holds_back_only_its_own_senders() {
    let slow = Duration::from_secs(4);
    let (net, first, rogue) = setup(vec![Behaviour::Slow(slow)]).await;
    let mut others = Vec::new();
    for n in 0..7 {
        others.push(Person::register(&net, &format!("s{n}"), "a.test").await);
    }
    // alice's first message opens the transaction the rogue holds for `slow`.
    let held = send_to_mallory(&first, &rogue, "held").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let behind = send_to_mallory(&first, &rogue, "behind").await;
    let mut meanwhile = Vec::new();
    for sender in &others {
        meanwhile.push(send_to_mallory(sender, &rogue, "meanwhile").await);
    }
    let accepted = rogue.wait_accepted(2 + meanwhile.len(), LIVENESS).await;
    let mut ids: Vec<String> = accepted.iter().map(rogue::message_id).collect();
    ids.sort();
    let mut expected = [vec![held.clone(), behind.clone()], meanwhile.clone()].concat();
    expected.sort();
    assert_eq!(ids, expected, "every message accepted once");

    let received = rogue.received();
    let carries = |txn: &ReceivedTxn, id: &str| {
        txn.body["envelopes"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| rogue::message_id(e) == id))
    };
    let slow_txn = received
        .iter()
        .find(|t| carries(t, &held))
        .expect("the held message's transaction");
    assert!(slow_txn.answered_at - slow_txn.received_at >= slow - Duration::from_millis(5));
    // alice's next message waited for the answer to her first (her order, SPEC §9.5)...
    let behind_txn = received
        .iter()
        .find(|t| carries(t, &behind))
        .expect("the later message's transaction");
    assert!(behind_txn.received_at >= slow_txn.answered_at);
    // ...while other senders' messages did not.
    for id in &meanwhile {
        assert!(
            received.iter().any(|t| t.received_at < slow_txn.answered_at
                && t.txn_id != slow_txn.txn_id
                && carries(t, id)),
            "another sender's message waited for the slow transaction"
        );
    }
    assert_signed_by_a(&received);
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.5: a transaction held so long that its own sender's later messages fill what the
/// outbox reads ahead for the destination (800) still holds back only that sender: once it
/// has been open a second, those messages make way, the other senders' are read and
/// delivered while it stays open, and the held sender's all follow its answer, once and in
/// order.
#[tokio::test]
async fn a_stuck_transaction_with_a_long_queue_behind_it_holds_back_only_its_sender() {
    // The held transaction must stay in flight until the test releases it, however long her
    // 1,000 sends take on a loaded machine: a's request timeout is far beyond them, or a would
    // give up on it and send it again, and the test would judge something else.
    let limits = "[rate]\nsender_per_minute = 1000000\nrecipient_per_minute = 1000000\n\
                  recipient_strangers_per_minute = 1000000\n\
                  [federation]\nrequest_timeout_secs = 600\n";
    let (net, alice, rogue) = setup_with(limits, vec![Behaviour::Held]).await;
    let mut others = Vec::new();
    for n in 0..7 {
        others.push(Person::register(&net, &format!("s{n}"), "a.test").await);
    }
    let mut hers = vec![send_to_mallory(&alice, &rogue, "held").await];
    assert!(
        rogue.wait_held(1, LIVENESS).await,
        "her first transaction is held"
    );
    for n in 0..1000 {
        hers.push(send_to_mallory(&alice, &rogue, &format!("behind {n}")).await);
    }
    let mut meanwhile = Vec::new();
    for sender in &others {
        meanwhile.push(send_to_mallory(sender, &rogue, "meanwhile").await);
    }
    // Every other sender's message arrives while hers is still held, however long her 1,000
    // later ones took to send: the stuck transaction holds back only her.
    let early = rogue.wait_accepted(meanwhile.len(), LIVENESS).await;
    let mut early: Vec<String> = early.iter().map(rogue::message_id).collect();
    early.sort();
    meanwhile.sort();
    assert_eq!(
        early, meanwhile,
        "the others' messages, before hers is answered"
    );
    rogue.release_held();
    let accepted = rogue
        .wait_accepted(hers.len() + meanwhile.len(), LIVENESS)
        .await;
    let ids: Vec<String> = accepted.iter().map(rogue::message_id).collect();
    let in_her_order: Vec<&String> = ids.iter().filter(|id| hers.contains(id)).collect();
    assert_eq!(
        in_her_order,
        hers.iter().collect::<Vec<_>>(),
        "hers once, in order"
    );
    let theirs = ids.iter().filter(|id| meanwhile.contains(id)).count();
    assert_eq!(theirs, meanwhile.len(), "theirs once each");
    assert_eq!(ids.len(), hers.len() + meanwhile.len(), "nothing else");

    let received = rogue.received();
    let carried = |txn: &ReceivedTxn| -> Vec<String> {
        txn.body["envelopes"]
            .as_array()
            .map(|e| e.iter().map(rogue::message_id).collect())
            .unwrap_or_default()
    };
    let slow_txn = received
        .iter()
        .find(|t| carried(t).contains(&hers[0]))
        .expect("the held message's transaction");
    let before_the_answer: Vec<String> = received
        .iter()
        .filter(|t| t.received_at < slow_txn.answered_at && t.txn_id != slow_txn.txn_id)
        .flat_map(carried)
        .collect();
    for id in &meanwhile {
        assert!(
            before_the_answer.contains(id),
            "another sender's message waited for the stuck transaction"
        );
    }
    assert!(
        hers[1..].iter().all(|id| !before_the_answer.contains(id)),
        "her later messages waited for her first"
    );
    assert_signed_by_a(&received);
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.6: a transaction the receiver finds too large (413) is sent again in smaller ones,
/// down to one envelope each, and every message still arrives once, in order.
#[tokio::test]
async fn a_transaction_found_too_large_is_sent_again_smaller() {
    let too_large = Behaviour::Fail {
        status: 413,
        retry_after: None,
    };
    // The first transaction is held while three more messages queue behind it; the next six
    // are refused, halving the transaction from 100 envelopes down to one.
    let mut script = vec![Behaviour::Slow(Duration::from_secs(1))];
    script.extend(std::iter::repeat_n(too_large, 6));
    let (net, alice, rogue) = setup(script).await;
    let mut ids = vec![send_to_mallory(&alice, &rogue, "m0").await];
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 1..4 {
        ids.push(send_to_mallory(&alice, &rogue, &format!("m{n}")).await);
    }
    let accepted = rogue.wait_accepted(ids.len(), LIVENESS).await;
    let got: Vec<String> = accepted.iter().map(rogue::message_id).collect();
    assert_eq!(got, ids, "once each, in order");
    for id in &ids {
        let status = alice.wait_status(id, "delivered").await;
        assert_eq!(status["status"], "delivered", "{status}");
    }
    let received = rogue.received();
    let sizes: Vec<(u16, usize)> = received
        .iter()
        .map(|t| {
            let envelopes = t.body["envelopes"].as_array().map_or(0, Vec::len);
            (t.status, envelopes)
        })
        .collect();
    assert_eq!(
        sizes,
        [
            (200, 1),
            (413, 3),
            (413, 3),
            (413, 3),
            (413, 3),
            (413, 3),
            (413, 3),
            (200, 1),
            (200, 1),
            (200, 1)
        ],
        "refused transactions resent smaller"
    );
    // The operator sees the same on a.test's `/metrics`.
    assert_metrics(
        &alice,
        &[
            "kezd_federation_transactions_total{outcome=\"answered\"} 4",
            "kezd_federation_transactions_total{outcome=\"too_large\"} 6",
            "kezd_federation_envelopes_total{result=\"delivered\"} 4",
            "kezd_federation_envelopes_total{result=\"failed\"} 0",
        ],
    )
    .await;
    assert_signed_by_a(&received);
    net.shutdown().await.expect("shutdown");
}
