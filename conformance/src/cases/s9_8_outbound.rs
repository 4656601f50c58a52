//! SPEC §9.1 and §9.8 on the connecting side (`--spawn` only): where the server under test is
//! willing to connect and what it accepts from the other end. A rogue peer has a user `r` and
//! one flaw — a certificate for another name, one from a CA nobody trusts, redirects on every
//! path (to a path that serves the real answer), an address outside the spawned nodes'
//! `allowed_private_addresses`, or an SRV target that is its IP literal rather than a name —
//! and the server is asked to look `r` up (`GET /v1/u/r@<rogue>`) and to deliver a message to
//! it. It must answer the look-up 503 `unavailable` and never deliver; for the address and the
//! address target it must not connect at all (the forbidden address fails the message with
//! `forbidden_address`).

use std::net::IpAddr;
use std::time::Duration;

use kez_spec::Address;
use kez_testnet::dns::TTL_SECS;
use kez_testnet::{RogueCert, RogueOptions, TestnetError};
use serde_json::Value;

use super::s9_6_rogue_receiver::with_peer;
use super::{clock_passes, expect_code};
use crate::case::{Case, CaseResult, Fail, Rogue};
use crate::user::{Peer, User, now_ms};

/// The bound on waiting for the server's first delivery attempt: only a server that never
/// tries (or a badly overloaded machine) reaches it.
const ATTEMPT_WAIT: Duration = Duration::from_secs(25);

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::rogue(
            "s9.outbound.certificate_name",
            &["§9.1"],
            "a peer whose certificate (from a trusted CA) is for another name is not talked \
             to: the look-up of its user is 503 unavailable, no request reaches it, and a \
             message to it is not delivered",
            |r| Box::pin(certificate(r, RogueCert::ForName("elsewhere.test".into()))),
        ),
        Case::rogue(
            "s9.outbound.unknown_ca",
            &["§9.1"],
            "a peer whose certificate is for its name but from a CA the server does not trust \
             is not talked to: the look-up is 503 unavailable, no request reaches it, no \
             delivery",
            |r| Box::pin(certificate(r, RogueCert::FromUnknownCa)),
        ),
        Case::rogue(
            "s9.outbound.redirect",
            &["§9.8"],
            "a peer that answers every request with 307 to a path serving the real answer is \
             not followed: the look-up is 503 unavailable, the redirect target is never \
             requested, and a message to it is not delivered",
            |r| Box::pin(redirect(r)),
        ),
        Case::rogue(
            "s9.outbound.forbidden_address",
            &["§9.8", "§9.7"],
            "a peer whose name resolves to a loopback address the operator did not allow is \
             never connected to: the look-up is 503 unavailable and a message to it fails with \
             forbidden_address",
            |r| Box::pin(forbidden_address(r)),
        ),
        Case::rogue(
            "s9.outbound.address_target",
            &["§9.8"],
            "a peer whose SRV target is its IP literal (127.0.2.x., an allowed address) is \
             never connected to: the target is not a host name, so it is skipped; the look-up \
             is 503 unavailable and a message to it is not delivered",
            |r| Box::pin(address_target(r)),
        ),
        Case::rogue(
            "s9.outbound.rebinding",
            &["§9.8"],
            "a peer whose SRV target resolves to an allowed address for one look-up and to a \
             forbidden one after (DNS rebinding) is never connected to at the forbidden \
             address: both look-ups of its users are 503 unavailable",
            |r| Box::pin(rebinding(r)),
        ),
    ]
}

/// `GET /v1/u/<peer>` on the server under test must be 503 `unavailable` (§10: a peer that
/// cannot be reached for a look-up).
async fn lookup_refused(r: &Rogue, address: &Address, why: &str) -> CaseResult {
    let resp = r.server.get(&format!("/v1/u/{address}")).await?;
    expect_code(
        resp,
        503,
        "unavailable",
        &format!("looking up {address} ({why})"),
    )?;
    Ok(())
}

/// Sends to `peer` and waits until the server has made a delivery attempt that failed: the
/// status has an error (or is `failed`). Returns that status.
async fn failed_attempt(sender: &User, peer: &Peer) -> Result<Value, Fail> {
    let (answer, _) = sender.send_ok(peer, "to a hostile peer").await?;
    let id = answer["id"].as_str().unwrap_or("").to_owned();
    let deadline = tokio::time::Instant::now() + ATTEMPT_WAIT;
    loop {
        let status = sender.status(&id).await?.expect_json(200)?;
        check!(
            status["status"] != "delivered",
            "the message to {} was delivered: {status}",
            peer.address
        );
        if status["error"].is_string() || status["status"] == "failed" {
            return Ok(status);
        }
        if tokio::time::Instant::now() >= deadline {
            fail!("no failed delivery attempt within {ATTEMPT_WAIT:?}: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn certificate(r: Rogue, cert: RogueCert) -> CaseResult {
    let why = format!("its certificate is {cert:?}");
    let (rogue, peer, alice) = with_peer(&r, RogueOptions::new().certificate(cert)).await?;
    lookup_refused(&r, &peer.address, &why).await?;
    let status = failed_attempt(&alice, &peer).await?;
    let traffic = rogue.traffic();
    check_eq!(
        traffic.requests,
        0,
        "HTTP requests that reached a peer whose certificate does not verify (status {status})"
    );
    check!(
        rogue.accepted().is_empty(),
        "the peer received the message over a certificate that does not verify"
    );
    Ok(())
}

async fn redirect(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = with_peer(&r, RogueOptions::new().redirects()).await?;
    lookup_refused(&r, &peer.address, "it answers with redirects").await?;
    let status = failed_attempt(&alice, &peer).await?;
    let traffic = rogue.traffic();
    check!(
        traffic.requests >= 2,
        "the server never asked the peer (requests: {})",
        traffic.requests
    );
    check_eq!(
        traffic.redirected,
        0,
        "requests that followed a redirect (status {status})"
    );
    check!(
        rogue.accepted().is_empty(),
        "the message reached the peer through a redirect"
    );
    Ok(())
}

async fn forbidden_address(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = with_peer(&r, RogueOptions::new().unlisted_address()).await?;
    lookup_refused(&r, &peer.address, "it resolves to a forbidden address").await?;
    let status = failed_attempt(&alice, &peer).await?;
    check_eq!(status["status"], "failed", "the status ({status})");
    check_eq!(status["error"], "forbidden_address", "the error ({status})");
    check_eq!(
        rogue.traffic().connections,
        0,
        "connections to an address the server must not connect to"
    );
    Ok(())
}

async fn address_target(r: Rogue) -> CaseResult {
    let (rogue, peer, alice) = with_peer(&r, RogueOptions::new().address_target()).await?;
    lookup_refused(&r, &peer.address, "its SRV target is an IP literal").await?;
    let status = failed_attempt(&alice, &peer).await?;
    check_eq!(
        rogue.traffic().connections,
        0,
        "connections to an SRV target that is an address, not a name (status {status})"
    );
    Ok(())
}

/// The rogue listens at a forbidden address; its SRV target first resolves to an allowed one
/// where nothing listens on its port. After a look-up there, the target moves to the rogue's
/// real address, and once DNS's TTL has passed a second user of the same peer is looked up
/// (a fresh key, so no answer cached for the first applies): a server that checks one answer
/// and connects to another reaches the rogue.
async fn rebinding(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new().unlisted_address()).await?;
    let IpAddr::V4(forbidden) = rogue.addr().ip() else {
        fail!("the rogue listens at {}, not an IPv4 address", rogue.addr());
    };
    let moved = |e: TestnetError| Fail::Fail(format!("changing the peer's DNS: {e}"));
    rogue
        .point_target_at(&r.net, r.net.rogue_ip(true))
        .await
        .map_err(moved)?;
    let why = "its SRV target resolves to an allowed address where nothing listens";
    lookup_refused(&r, &rogue.address("r"), why).await?;
    rogue
        .point_target_at(&r.net, forbidden)
        .await
        .map_err(moved)?;
    clock_passes(now_ms() + u64::from(TTL_SECS) * 1000 + 300).await;
    let why = format!("its SRV target moved to the forbidden {forbidden}");
    let looked_up = lookup_refused(&r, &rogue.address("s"), &why).await;
    check_eq!(
        rogue.traffic().connections,
        0,
        "connections to {forbidden}, where the peer's name moved after a look-up (DNS \
         rebinding)"
    );
    looked_up
}
