//! SPEC §9.5–§9.6 (and §9.3, §9.8 for the server's own requests) with a rogue peer as the
//! receiver (`--spawn` only): the server under test signs its transactions correctly, backs
//! off after 5xx and still delivers, obeys `Retry-After` and `retry_after`, gives up on a peer
//! that never answers (a total timeout) and retries, and keeps one sender's order across
//! failures.

use std::time::Duration;

use kez_spec::Primary;
use kez_testnet::{Behaviour, RogueOptions, RoguePeer};
use serde_json::{Value, json};

use crate::case::{Case, CaseResult, Fail, Rogue};
use crate::user::{Peer, User, message_id};

/// How long the server under test may take to deliver to the rogue: the wait ends at the
/// delivery, so only a server that never delivers (or a badly overloaded machine) reaches it.
const DELIVERY_WAIT: Duration = Duration::from_secs(120);

/// The bound on a retry case: only a hang should reach it. The cases wait on the server's own
/// backoff and the peer's delays, which a loaded machine stretches well past their nominal
/// seconds.
const RETRY_CASE_TIMEOUT: Duration = Duration::from_secs(180);

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::rogue(
            "s9.outbound.signed",
            &["§9.3", "§9.1", "§9.4"],
            "the server's transactions carry a valid Authorization for the peer (checked as a \
             strict receiver does) and a body naming it as origin with the envelope unchanged",
            |r| Box::pin(outbound_signed(r)),
        ),
        Case::rogue(
            "s9.retry.server_error",
            &["§9.6", "§9.7"],
            "after a 500 the server backs off and retries, and the message is delivered; its \
             status then says delivered",
            |r| Box::pin(server_error(r)),
        )
        .with_timeout(RETRY_CASE_TIMEOUT),
        Case::rogue(
            "s9.retry.retry_after",
            &["§9.6", "§10"],
            "after a 429 with Retry-After: 3 nothing is sent to the peer for 3 s, then the \
             message is delivered",
            |r| Box::pin(retry_after(r)),
        )
        .with_timeout(RETRY_CASE_TIMEOUT),
        Case::rogue(
            "s9.retry.slow",
            &["§9.6", "§9.8"],
            "a peer that never answers does not stall delivery: the request times out, the \
             server retries, and the message arrives once the peer answers",
            |r| Box::pin(slow(r)),
        )
        .with_timeout(RETRY_CASE_TIMEOUT),
        Case::rogue(
            "s9.retry.deferred",
            &["§9.4", "§9.6"],
            "an envelope deferred with retry_after 2 is sent again no sooner than 2 s later and \
             is then delivered",
            |r| Box::pin(deferred(r)),
        )
        .with_timeout(RETRY_CASE_TIMEOUT),
        Case::rogue(
            "s9.retry.order",
            &["§9.5"],
            "one sender's messages held back by a failure reach the peer in the order the \
             server accepted them",
            |r| Box::pin(order(r)),
        )
        .with_timeout(RETRY_CASE_TIMEOUT),
    ]
}

/// A rogue with a user `r` and a sender on the server under test.
async fn setup(r: &Rogue, behaviour: Behaviour) -> Result<(RoguePeer, Peer, User), Fail> {
    with_peer(r, RogueOptions::new().behaviour(behaviour)).await
}

/// A rogue started with `options`, its user `r`, and a sender on the server under test.
pub(super) async fn with_peer(
    r: &Rogue,
    options: RogueOptions,
) -> Result<(RoguePeer, Peer, User), Fail> {
    let rogue = r.start(options).await?;
    let key = rogue.user("r");
    let peer = Peer {
        address: rogue.address("r"),
        primary: Primary::from(&key),
    };
    let sender = User::registered(&r.server).await?;
    Ok((rogue, peer, sender))
}

/// Waits until the rogue accepted `n` envelopes; their ids in order of acceptance.
async fn accepted_ids(rogue: &RoguePeer, n: usize) -> Result<Vec<String>, Fail> {
    let accepted = rogue.wait_accepted(n, DELIVERY_WAIT).await;
    if accepted.len() < n {
        let statuses: Vec<u16> = rogue.received().iter().map(|t| t.status).collect();
        fail!(
            "the peer accepted {} of {n} envelopes within {DELIVERY_WAIT:?} (transactions \
             answered: {statuses:?})",
            accepted.len()
        );
    }
    Ok(accepted.iter().map(message_id).collect())
}

async fn outbound_signed(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = setup(&r, Behaviour::Accept).await?;
    let (_, env) = alice.send_ok(&peer, "out").await?;
    check_eq!(
        accepted_ids(&rogue, 1).await?,
        vec![message_id(&env)],
        "delivered ids"
    );
    let txns = rogue.received();
    let txn = &txns[0];
    if let Err(code) = &txn.auth {
        fail!(
            "the server's Authorization fails a strict receiver's check: {code} ({:?})",
            txn.authorization
        );
    }
    check_eq!(
        txn.body["origin"],
        json!(r.server.name.as_str()),
        "the body's origin"
    );
    check_eq!(
        kez_spec::json::canonical(&txn.body["envelopes"][0]),
        kez_spec::json::canonical(&env),
        "the envelope as sent (JCS)"
    );
    Ok(())
}

async fn server_error(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = setup(&r, Behaviour::Accept).await?;
    rogue.script([Behaviour::Fail {
        status: 500,
        retry_after: None,
    }]);
    let (answer, env) = alice.send_ok(&peer, "retry").await?;
    check_eq!(
        accepted_ids(&rogue, 1).await?,
        vec![message_id(&env)],
        "delivered ids"
    );
    let txns = rogue.received();
    check!(
        txns.len() >= 2,
        "expected a failed and a retried transaction, got {}",
        txns.len()
    );
    check_eq!(txns[0].status, 500, "the first answer");
    let gap = txns[1]
        .received_at
        .saturating_duration_since(txns[0].answered_at);
    check!(
        gap >= Duration::from_millis(500),
        "the retry came {gap:?} after the 500: no backoff"
    );
    let id = answer["id"].as_str().unwrap_or("").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = alice.status(&id).await?.expect_json(200)?;
        if status["status"] == json!("delivered") {
            check!(
                status["attempts"].as_u64().is_some_and(|n| n >= 2),
                "attempts after a failure and a success: {status}"
            );
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            fail!("the peer accepted the message but its status is {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn retry_after(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = setup(&r, Behaviour::Accept).await?;
    rogue.script([Behaviour::Fail {
        status: 429,
        retry_after: Some(3),
    }]);
    let (_, env) = alice.send_ok(&peer, "wait").await?;
    check_eq!(
        accepted_ids(&rogue, 1).await?,
        vec![message_id(&env)],
        "delivered ids"
    );
    let txns = rogue.received();
    check_eq!(txns[0].status, 429, "the first answer");
    let gap = txns[1]
        .received_at
        .saturating_duration_since(txns[0].answered_at);
    check!(
        gap >= Duration::from_millis(2_900),
        "the server sent again {gap:?} after a 429 with Retry-After: 3"
    );
    Ok(())
}

async fn slow(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = setup(&r, Behaviour::Slow(Duration::from_secs(120))).await?;
    let (_, env) = alice.send_ok(&peer, "slow").await?;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    rogue.set_behaviour(Behaviour::Accept);
    check_eq!(
        accepted_ids(&rogue, 1).await?,
        vec![message_id(&env)],
        "delivered ids"
    );
    Ok(())
}

async fn deferred(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = setup(&r, Behaviour::Accept).await?;
    rogue.script([Behaviour::Defer {
        accept_first: 0,
        retry_after: 2,
    }]);
    let (_, env) = alice.send_ok(&peer, "later").await?;
    check_eq!(
        accepted_ids(&rogue, 1).await?,
        vec![message_id(&env)],
        "delivered ids"
    );
    let txns = rogue.received();
    check!(txns.len() >= 2, "expected the deferral and a resend");
    let deferred_result = &txns[0];
    check!(
        deferred_result.body["envelopes"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| message_id(e) == message_id(&env))),
        "the first transaction did not carry the message"
    );
    let gap = txns[1]
        .received_at
        .saturating_duration_since(txns[0].answered_at);
    check!(
        gap >= Duration::from_millis(1_900),
        "the deferred envelope came back {gap:?} after retry_after: 2"
    );
    Ok(())
}

async fn order(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = setup(&r, Behaviour::Accept).await?;
    rogue.script([Behaviour::Fail {
        status: 503,
        retry_after: None,
    }]);
    let mut sent = Vec::new();
    for i in 0..5 {
        let (_, env) = alice.send_ok(&peer, &format!("o{i}")).await?;
        sent.push(message_id(&env));
    }
    let got = accepted_ids(&rogue, 5).await?;
    check_eq!(got, sent, "the order the peer received them in");
    let envelopes: Vec<Value> = rogue.accepted();
    check_eq!(envelopes.len(), 5, "envelopes accepted once each");
    Ok(())
}
