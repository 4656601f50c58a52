//! A rogue peer sends to b.test (SPEC §9.3, §9.4, §9.9): every request-level check refuses
//! with its own status and code before anything is stored, every envelope-level check rejects
//! just that envelope, and a replayed transaction gets its stored answer.

use kez_testnet::Testnet;
use kez_testnet::rogue::{self, RogueOptions, RoguePeer, Sign};
use serde_json::Value;

use super::net::{self, Person};

/// b.test (with `extra` TOML) and a.test, bob on b, and a rogue peer `rogue.test`.
async fn setup(extra_b: &str, options: RogueOptions) -> (Testnet, Person, RoguePeer) {
    let net = net::start_nodes(vec![
        ("a.test", net::options("")),
        ("b.test", net::options(extra_b)),
    ])
    .await;
    let bob = Person::register(&net, "bob", "b.test").await;
    let rogue = RoguePeer::start(&net, "rogue.test", options)
        .await
        .expect("rogue starts");
    (net, bob, rogue)
}

/// A transaction from mallory@rogue.test to bob.
fn one_envelope(rogue: &RoguePeer, bob: &Person, text: &str) -> Vec<u8> {
    rogue.txn_body(&[rogue.envelope("mallory", &bob.address, &bob.primary(), text)])
}

/// Asserts a SPEC §10 error answer.
fn assert_error(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"], code, "{}", answer.1);
}

fn statuses(answer: &Value) -> Vec<(String, Option<String>)> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().expect("status").to_owned(),
                r["code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// SPEC §9.3 check 6: a request whose signature is not by the key it names is 401
/// `invalid_signature`, and nothing of it is stored; the same body signed correctly is taken.
#[tokio::test]
async fn forged_origin_signature_is_refused() {
    let (net, bob, rogue) = setup("", RogueOptions::new()).await;
    let body = one_envelope(&rogue, &bob, "forged");
    let forged = rogue
        .send_txn("b.test", "forged-1", body.clone(), Sign::WithRandomKey)
        .await
        .expect("send");
    assert_error(&forged, 401, "invalid_signature");
    assert!(bob.inbox(0).await.is_empty());
    // The same transaction id, signed correctly, was never stored: it is processed now.
    let good = rogue
        .send_txn("b.test", "forged-1", body, Sign::Good)
        .await
        .expect("send");
    assert_eq!(good.0, 200, "{}", good.1);
    assert_eq!(statuses(&good.1), [("accepted".to_owned(), None)]);
    assert_eq!(bob.inbox(0).await.len(), 1);
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.2 key validity, §9.3 check 5: a key the origin publishes with a `valid_until` in
/// the past is not trusted: 401 `unknown_key`.
#[tokio::test]
async fn expired_server_key_is_unknown() {
    let (net, bob, rogue) = setup("", RogueOptions::new().expired_key()).await;
    let answer = rogue
        .send_txn("b.test", "t1", one_envelope(&rogue, &bob, "x"), Sign::Good)
        .await
        .expect("send");
    assert_error(&answer, 401, "unknown_key");
    assert!(bob.inbox(0).await.is_empty());
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.2 key validity: a rotated-out key verifies what it signed up to its `expired_at`
/// and nothing signed after; the current key works.
#[tokio::test]
async fn rotated_out_key_is_trusted_only_before_its_expiry() {
    let (net, bob, rogue) = setup("", RogueOptions::new().rotated()).await;
    // The document says when k1 was retired.
    let document = rogue.document();
    let expired_at_ms = document["old_verify_keys"]["ed25519:k1"]["expired_at"]
        .as_u64()
        .expect("k1 is retired");
    // Signed after the rotation: refused.
    net::eventually("a second passes after the rotation", || async {
        (net::now_ms() / 1000 * 1000 > expired_at_ms).then_some(())
    })
    .await;
    let after = rogue
        .send_txn(
            "b.test",
            "old-now",
            one_envelope(&rogue, &bob, "late"),
            Sign::WithOldKey,
        )
        .await
        .expect("send");
    assert_error(&after, 401, "unknown_key");
    // Signed at the moment of rotation (a request in flight then): still trusted.
    let before = rogue
        .send_txn(
            "b.test",
            "old-before",
            one_envelope(&rogue, &bob, "in flight"),
            Sign::OldKeyAt(expired_at_ms / 1000),
        )
        .await
        .expect("send");
    assert_eq!(before.0, 200, "{}", before.1);
    assert_eq!(statuses(&before.1), [("accepted".to_owned(), None)]);
    let current = rogue
        .send_txn(
            "b.test",
            "new",
            one_envelope(&rogue, &bob, "new"),
            Sign::Good,
        )
        .await
        .expect("send");
    assert_eq!(current.0, 200, "{}", current.1);
    let texts: Vec<String> = bob.inbox(0).await.into_iter().map(|m| m.2).collect();
    assert_eq!(texts, ["in flight", "new"]);
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.3 check 2: a request signed for another server is 401 `wrong_destination`.
#[tokio::test]
async fn request_for_another_destination_is_refused() {
    let (net, bob, rogue) = setup("", RogueOptions::new()).await;
    let answer = rogue
        .send_txn(
            "b.test",
            "t1",
            one_envelope(&rogue, &bob, "x"),
            Sign::For("a.test".into()),
        )
        .await
        .expect("send");
    assert_error(&answer, 401, "wrong_destination");
    assert!(bob.inbox(0).await.is_empty());
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.3 check 3: a request signed more than 120 s before or after now is 401
/// `stale_timestamp`.
#[tokio::test]
async fn stale_request_is_refused() {
    let (net, bob, rogue) = setup("", RogueOptions::new()).await;
    let now = net::now_ms() / 1000;
    for (id, ts) in [("past", now - 300), ("future", now + 300)] {
        let answer = rogue
            .send_txn("b.test", id, one_envelope(&rogue, &bob, id), Sign::At(ts))
            .await
            .expect("send");
        assert_error(&answer, 401, "stale_timestamp");
    }
    assert!(bob.inbox(0).await.is_empty());
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.9, §9.3 check 4: an origin the operator blocks gets 403 `origin_blocked`, even for
/// a correctly signed request.
#[tokio::test]
async fn blocked_origin_is_refused() {
    let (net, bob, rogue) = setup(
        "[federation]\nblock = [\"rogue.test\"]",
        RogueOptions::new(),
    )
    .await;
    let answer = rogue
        .send_txn("b.test", "t1", one_envelope(&rogue, &bob, "x"), Sign::Good)
        .await
        .expect("send");
    assert_error(&answer, 403, "origin_blocked");
    assert!(bob.inbox(0).await.is_empty());
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.4 checks 4, 5 and 6: in one correctly signed transaction, an envelope claiming a
/// user of another server is rejected `sender_not_of_origin` (even signed by that user's own
/// key), one from a handle the origin does not publish or with a primary it does not publish
/// for the handle `unknown_sender`, a tampered one `invalid_signature` — and the good envelope
/// among them is accepted: one bad envelope does not fail the transaction.
#[tokio::test]
async fn bad_envelopes_are_rejected_one_by_one() {
    let (net, bob, rogue) = setup("", RogueOptions::new()).await;
    let alice = Person::register(&net, "alice", "a.test").await;
    let to = (&bob.address, &bob.primary());
    let claimed = rogue::envelope_as(&alice.key, &alice.address, to.0, to.1, "I am alice");
    let stranger = rogue::envelope_as(
        &rogue.user("mallory"),
        &rogue.address("nobody"),
        to.0,
        to.1,
        "unregistered",
    );
    let wrong_primary = rogue::envelope_as(
        &rogue.user("eve"),
        &rogue.address("mallory"),
        to.0,
        to.1,
        "eve as mallory",
    );
    let tampered = rogue::tamper(&rogue.envelope("mallory", to.0, to.1, "tampered"));
    let good = rogue.envelope("mallory", to.0, to.1, "good");
    let envelopes = [claimed, stranger, wrong_primary, tampered, good];
    let answer = rogue
        .send_txn("b.test", "mixed", rogue.txn_body(&envelopes), Sign::Good)
        .await
        .expect("send");
    assert_eq!(answer.0, 200, "{}", answer.1);
    let rejected = |code: &str| ("rejected".to_owned(), Some(code.to_owned()));
    assert_eq!(
        statuses(&answer.1),
        [
            rejected("sender_not_of_origin"),
            rejected("unknown_sender"),
            rejected("unknown_sender"),
            rejected("invalid_signature"),
            ("accepted".to_owned(), None),
        ]
    );
    // Each result names its element's message id, in order (SPEC §9.4 results).
    let ids: Vec<String> = envelopes.iter().map(rogue::message_id).collect();
    let answered: Vec<&str> = answer.1["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(answered, ids);
    let inbox = bob.inbox(0).await;
    assert_eq!(
        inbox,
        vec![(1, "mallory@rogue.test".to_owned(), "good".to_owned())]
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.4 idempotency: the same (origin, txn id) again gets the stored answer without
/// re-processing, whatever the body; the message is stored once, and the same envelope in a
/// new transaction is a `duplicate` (SPEC §8.7).
#[tokio::test]
async fn replayed_transaction_gets_the_stored_answer() {
    let (net, bob, rogue) = setup("", RogueOptions::new()).await;
    let first = rogue.envelope("mallory", &bob.address, &bob.primary(), "once");
    let body = rogue.txn_body(std::slice::from_ref(&first));
    let answer = rogue
        .send_txn("b.test", "replay-1", body.clone(), Sign::Good)
        .await
        .expect("send");
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(statuses(&answer.1), [("accepted".to_owned(), None)]);

    let again = rogue
        .send_txn("b.test", "replay-1", body, Sign::Good)
        .await
        .expect("send");
    assert_eq!(again, answer, "the stored answer, verbatim");
    let other = rogue.envelope("mallory", &bob.address, &bob.primary(), "never processed");
    let different = rogue
        .send_txn(
            "b.test",
            "replay-1",
            rogue.txn_body(&[first.clone(), other]),
            Sign::Good,
        )
        .await
        .expect("send");
    assert_eq!(different, answer, "the stored answer, whatever the body");

    let new_txn = rogue
        .send_txn("b.test", "replay-2", rogue.txn_body(&[first]), Sign::Good)
        .await
        .expect("send");
    assert_eq!(statuses(&new_txn.1), [("duplicate".to_owned(), None)]);
    let inbox = bob.inbox(0).await;
    assert_eq!(
        inbox,
        vec![(1, "mallory@rogue.test".to_owned(), "once".to_owned())]
    );
    net.shutdown().await.expect("shutdown");
}

/// SPEC §9.1, §9.4 check 5: an envelope whose sender cannot be looked up because the origin
/// does not answer (here: 503, as while it restarts) is deferred `unavailable` for as long as
/// the failure is remembered — seconds, not the minute a definitive failure is — and accepted
/// when sent again after that, once the origin answers.
#[tokio::test]
async fn a_sender_whose_server_was_briefly_down_is_accepted_seconds_later() {
    let (net, bob, rogue) = setup("", RogueOptions::new()).await;
    rogue.set_lookups_down(true);
    let envelope = rogue.envelope("mallory", &bob.address, &bob.primary(), "after a restart");
    let body = rogue.txn_body(std::slice::from_ref(&envelope));
    let answer = rogue
        .send_txn("b.test", "restart-1", body.clone(), Sign::Good)
        .await
        .expect("send");
    assert_eq!(answer.0, 200, "{}", answer.1);
    let result = &answer.1["results"][0];
    assert_eq!(result["status"], "deferred", "{result}");
    assert_eq!(result["code"], "unavailable", "{result}");
    let retry_after = result["retry_after"].as_u64().expect("retry_after");
    assert!((1..=5).contains(&retry_after), "{result}");

    // The origin answers again; after retry_after the envelope is taken.
    rogue.set_lookups_down(false);
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let again = rogue
        .send_txn(
            "b.test",
            "restart-2",
            rogue.txn_body(&[envelope]),
            Sign::Good,
        )
        .await
        .expect("send");
    assert_eq!(statuses(&again.1), [("accepted".to_owned(), None)]);
    assert_eq!(
        bob.inbox(0).await,
        vec![(
            1,
            "mallory@rogue.test".to_owned(),
            "after a restart".to_owned()
        )]
    );
    net.shutdown().await.expect("shutdown");
}
