//! A slow origin sends to b.test (SPEC §9.4, §13.6): rogue peers whose user look-ups are held
//! open on purpose. What such an origin can make b hold is bounded — its transactions in
//! flight (per origin, and in total), the look-ups one transaction runs at once, and how long
//! they may take — and nothing it sent is lost: what b could not take now, it says to send
//! again, and takes when it is.

use kez_testnet::Testnet;
use kez_testnet::rogue::{Held, RogueOptions, RoguePeer, Sign, TxnAnswer};
use serde_json::Value;

use super::net::{self, Person};

/// b.test with `federation` TOML lines, and bob there.
async fn b_with(federation: &str) -> (Testnet, Person) {
    let net = net::start_nodes(vec![(
        "b.test",
        net::options(&format!("[federation]\n{federation}")),
    )])
    .await;
    let bob = Person::register(&net, "bob", "b.test").await;
    (net, bob)
}

async fn rogue(net: &Testnet, name: &str) -> RoguePeer {
    RoguePeer::start(net, name, RogueOptions::new())
        .await
        .expect("rogue starts")
}

/// `PUT` of a transaction from `rogue` to b.test with one envelope per (sender, text).
async fn send(rogue: &RoguePeer, bob: &Person, id: &str, letters: &[(&str, &str)]) -> TxnAnswer {
    let envelopes: Vec<Value> = letters
        .iter()
        .map(|(from, text)| rogue.envelope(from, &bob.address, &bob.primary(), text))
        .collect();
    send_envelopes(rogue, id, &envelopes).await
}

async fn send_envelopes(rogue: &RoguePeer, id: &str, envelopes: &[Value]) -> TxnAnswer {
    rogue
        .send_txn_answer("b.test", id, rogue.txn_body(envelopes), Sign::Good)
        .await
        .expect("send")
}

/// Each result's (status, code).
fn statuses(answer: &TxnAnswer) -> Vec<(String, Option<String>)> {
    answer.body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results: {answer:?}"))
        .iter()
        .map(|r| {
            (
                r["status"].as_str().expect("status").to_owned(),
                r["code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn accepted(n: usize) -> Vec<(String, Option<String>)> {
    vec![("accepted".to_owned(), None); n]
}

/// Asserts a SPEC §10 refusal with `Retry-After`.
fn assert_refused(answer: &TxnAnswer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.body["error"], code, "{answer:?}");
    assert!(answer.body["message"].is_string(), "{answer:?}");
    let secs: u64 = answer
        .retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in seconds: {answer:?}"));
    assert!(secs >= 1, "{answer:?}");
}

/// SPEC §9.4, §13.6: with 2 transactions per origin and 3 in all, while an origin's two are
/// held (their sender look-ups wait at the origin) its third is 429 `rate_limited` with
/// `Retry-After`; while a second origin holds the third place, its
/// next is 503 `overloaded` with `Retry-After`. Once the look-ups are answered, the held ones
/// are accepted and the refused ones, sent again with the same ids, too: nothing is lost.
#[tokio::test]
async fn transactions_in_flight_are_capped_per_origin_and_in_total() {
    let (net, bob) = b_with(
        "max_inflight_txns_per_origin = 2\nmax_inflight_txns = 3\nrequest_timeout_secs = 60",
    )
    .await;
    let slow = rogue(&net, "slow.test").await;
    let other = rogue(&net, "other.test").await;
    slow.hold_lookups(Held::Everyone);
    other.hold_lookups(Held::Everyone);

    let held = async {
        tokio::join!(
            send(&slow, &bob, "s1", &[("ann", "s1")]),
            send(&slow, &bob, "s2", &[("ben", "s2")]),
            send(&other, &bob, "o1", &[("cat", "o1")]),
        )
    };
    let probe = async {
        net::eventually("three transactions wait on their look-ups", || async {
            (slow.lookup_counts().in_flight == 2 && other.lookup_counts().in_flight == 1)
                .then_some(())
        })
        .await;
        let over_origin = send(&slow, &bob, "s3", &[("dan", "s3")]).await;
        let over_total = send(&other, &bob, "o2", &[("eve", "o2")]).await;
        slow.hold_lookups(Held::Nobody);
        other.hold_lookups(Held::Nobody);
        (over_origin, over_total)
    };
    let ((s1, s2, o1), (over_origin, over_total)) = tokio::join!(held, probe);
    assert_refused(&over_origin, 429, "rate_limited");
    assert_refused(&over_total, 503, "overloaded");
    for answer in [&s1, &s2, &o1] {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(statuses(answer), accepted(1));
    }
    // The places are free again: the refused transactions, sent again, are taken.
    let s3 = send(&slow, &bob, "s3", &[("dan", "s3")]).await;
    assert_eq!(statuses(&s3), accepted(1));
    let o2 = send(&other, &bob, "o2", &[("eve", "o2")]).await;
    assert_eq!(statuses(&o2), accepted(1));
    let mut texts: Vec<String> = bob.inbox(0).await.into_iter().map(|m| m.2).collect();
    texts.sort();
    assert_eq!(texts, ["o1", "o2", "s1", "s2", "s3"]);
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.4 check 5: the distinct senders of one transaction are looked up together, at most
/// `sender_lookup_concurrency` at once (the origin counts them: more than one, never more than
/// 4), and the whole look-up is bounded by the request timeout: with every look-up held, the
/// transaction is still answered — every envelope deferred `unavailable`, none lost, none
/// rejected — and taken in full when sent again once the origin answers.
#[tokio::test]
async fn a_transactions_senders_are_looked_up_together_within_a_bound() {
    let (net, bob) = b_with("sender_lookup_concurrency = 4\nrequest_timeout_secs = 3").await;
    let slow = rogue(&net, "slow.test").await;
    slow.hold_lookups(Held::Everyone);
    let senders: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    let envelopes: Vec<Value> = senders
        .iter()
        .map(|s| slow.envelope(s, &bob.address, &bob.primary(), s))
        .collect();
    // Twelve held look-ups one after another would take 36 s; together, the bound.
    let answer = send_envelopes(&slow, "all-held", &envelopes).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    for (status, code) in statuses(&answer) {
        assert_eq!(
            (status.as_str(), code.as_deref()),
            ("deferred", Some("unavailable"))
        );
    }
    let counts = slow.lookup_counts();
    assert_eq!(counts.peak, 4, "look-ups at once: {counts:?}");
    assert!(bob.inbox(0).await.is_empty());

    // The origin answers again and sends the deferred envelopes again, as it must.
    slow.hold_lookups(Held::Nobody);
    net::eventually("the look-ups b gave up on end", || async {
        (slow.lookup_counts().in_flight == 0).then_some(())
    })
    .await;
    slow.reset_lookup_counts();
    let mut attempt = 0;
    net::eventually("every deferred envelope is taken when sent again", || {
        attempt += 1;
        let id = format!("again-{attempt}");
        let (slow, envelopes) = (&slow, &envelopes);
        async move {
            let answer = send_envelopes(slow, &id, envelopes).await;
            statuses(&answer)
                .iter()
                .all(|(status, _)| status == "accepted" || status == "duplicate")
                .then_some(())
        }
    })
    .await;
    assert!(slow.lookup_counts().peak <= 4, "{:?}", slow.lookup_counts());
    assert_eq!(bob.inbox(0).await.len(), senders.len());
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.4, §9.5: a sender whose look-up is held past the bound has its envelopes deferred
/// `unavailable` — all of them, in order, with the same `retry_after` — while the other
/// senders' envelopes in the same transaction are accepted; sent again once the origin
/// answers, they are accepted, in their order.
#[tokio::test]
async fn a_sender_held_past_the_bound_is_deferred_alone() {
    let (net, bob) = b_with("sender_lookup_concurrency = 4\nrequest_timeout_secs = 3").await;
    let slow = rogue(&net, "slow.test").await;
    slow.hold_lookups(Held::only(["stuck"]));
    let letters = [
        ("ann", "ann 1"),
        ("stuck", "stuck 1"),
        ("ben", "ben 1"),
        ("stuck", "stuck 2"),
        ("ann", "ann 2"),
    ];
    let envelopes: Vec<Value> = letters
        .iter()
        .map(|(from, text)| slow.envelope(from, &bob.address, &bob.primary(), text))
        .collect();
    let answer = send_envelopes(&slow, "one-stuck", &envelopes).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let deferred = ("deferred".to_owned(), Some("unavailable".to_owned()));
    let taken = ("accepted".to_owned(), None);
    assert_eq!(
        statuses(&answer),
        [
            taken.clone(),
            deferred.clone(),
            taken.clone(),
            deferred,
            taken
        ]
    );
    let results = answer.body["results"].as_array().expect("results");
    assert_eq!(results[1]["retry_after"], results[3]["retry_after"]);
    assert!(results[1]["retry_after"].as_u64() >= Some(1), "{results:?}");

    slow.hold_lookups(Held::Nobody);
    let stuck = [envelopes[1].clone(), envelopes[3].clone()];
    let mut attempt = 0;
    net::eventually("the deferred envelopes are taken when sent again", || {
        attempt += 1;
        let id = format!("again-{attempt}");
        let (slow, stuck) = (&slow, &stuck);
        async move {
            let answer = send_envelopes(slow, &id, stuck).await;
            (statuses(&answer) == accepted(2)).then_some(())
        }
    })
    .await;
    let texts: Vec<String> = bob.inbox(0).await.into_iter().map(|m| m.2).collect();
    assert_eq!(texts, ["ann 1", "ben 1", "ann 2", "stuck 1", "stuck 2"]);
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.4, §13.6: a transaction counts against its origin's share only once its signature
/// is verified. A body held open half-way in the origin's name (anyone who saw one of its
/// headers could replay it) spends none of the share: with one place per origin, the
/// origin's own next transaction is taken while the held one still waits for its body.
#[tokio::test]
async fn a_body_held_open_in_an_origins_name_spends_none_of_its_share() {
    let (net, bob) = b_with("max_inflight_txns_per_origin = 1").await;
    let origin = rogue(&net, "slow.test").await;
    let held_body =
        origin.txn_body(&[origin.envelope("ann", &bob.address, &bob.primary(), "held")]);
    let (release, gate) = tokio::sync::oneshot::channel();
    let held = origin.send_txn_held("b.test", "held", held_body, gate);
    let probe = async {
        // b is reading the held body: its first half is in b's memory budget.
        net::eventually("b reads the held body", || async {
            let metrics = bob
                .http
                .get(format!("{}/metrics", bob.home))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            metrics
                .lines()
                .filter_map(|l| l.strip_prefix("kezd_inflight_bytes "))
                .any(|n| n != "0")
                .then_some(())
        })
        .await;
        let own = send(&origin, &bob, "own", &[("ben", "own")]).await;
        let _ = release.send(());
        own
    };
    let (held, own) = tokio::join!(held, probe);
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(statuses(&own), accepted(1));
    let held = held.expect("held transaction answered");
    assert_eq!(statuses(&held), accepted(1));
    net.shutdown().await.expect("shutdown");
}
