//! SPEC §9.4 check 8 at its edges, with a rogue peer as the sender (`--spawn` only): the
//! envelope window `now − 7 days ≤ ts ≤ now + 300 s` probed 2 s inside and outside both edges,
//! and the order of checks 3 and 8 over time — an envelope accepted just inside the past edge
//! is still a `duplicate` once its `ts` has left the window.

use kez_spec::api::txn::{ENVELOPE_FUTURE_MS, ENVELOPE_PAST_MS};
use kez_testnet::{RogueOptions, Sign};
use serde_json::{Value, json};

use super::s9_3_rogue_sender::{envelope_with, expect_status, recipient, send};
use super::{EDGE_MARGIN_SECS, clock_passes, edges};
use crate::case::{Case, CaseResult, Rogue};
use crate::user::{message_id, now_ms};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::rogue(
            "s9.rogue.envelope_window",
            &["§9.4"],
            "check 8 at its edges: envelopes 7 days − 2 s old and 298 s ahead are accepted, 7 \
             days + 2 s old and 302 s ahead are rejected stale_timestamp",
            |r| Box::pin(envelope_window(r)),
        ),
        Case::rogue(
            "s9.rogue.duplicate_out_of_window",
            &["§9.4", "§8.7"],
            "check 3 comes before check 8: an envelope accepted 2 s inside the past edge is a \
             duplicate once its ts is 2 s outside, while a new envelope with that ts is \
             rejected stale_timestamp",
            |r| Box::pin(duplicate_out_of_window(r)),
        ),
    ]
}

async fn envelope_window(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let key = rogue.user("mallory");
    let from = rogue.address("mallory");
    let probes = edges(ENVELOPE_PAST_MS, ENVELOPE_FUTURE_MS, 1000);
    let envelopes: Vec<Value> = probes
        .iter()
        .map(|edge| envelope_with(&key, &from, &bob.peer(), edge.ts(), |_| {}))
        .collect();
    let answer = send(&r, &rogue, "edges", rogue.txn_body(&envelopes), Sign::Good).await?;
    expect_status("the transaction", &answer, 200, None)?;
    let results = answer.1["results"].as_array().cloned().unwrap_or_default();
    check_eq!(results.len(), probes.len(), "one result per envelope");
    for ((edge, env), got) in probes.iter().zip(&envelopes).zip(&results) {
        let want = if edge.inside {
            json!({"id": message_id(env), "status": "accepted"})
        } else {
            json!({"id": message_id(env), "status": "rejected", "code": "stale_timestamp"})
        };
        check_eq!(got, &want, "the envelope {}", edge.what);
    }
    Ok(())
}

async fn duplicate_out_of_window(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let key = rogue.user("mallory");
    let from = rogue.address("mallory");
    let margin = EDGE_MARGIN_SECS * 1000;
    let ts = now_ms() - (ENVELOPE_PAST_MS - margin);
    let first = envelope_with(&key, &from, &bob.peer(), ts, |_| {});
    let answer = send(
        &r,
        &rogue,
        "inside",
        rogue.txn_body(std::slice::from_ref(&first)),
        Sign::Good,
    )
    .await?;
    check_eq!(
        answer.1,
        json!({"results": [{"id": message_id(&first), "status": "accepted"}]}),
        "an envelope 2 s inside the past edge"
    );
    clock_passes(ts + ENVELOPE_PAST_MS + margin).await;
    let fresh = envelope_with(&key, &from, &bob.peer(), ts, |_| {});
    let answer = send(
        &r,
        &rogue,
        "outside",
        rogue.txn_body(&[fresh.clone(), first.clone()]),
        Sign::Good,
    )
    .await?;
    expect_status("the transaction", &answer, 200, None)?;
    check_eq!(
        answer.1,
        json!({"results": [
            {"id": message_id(&fresh), "status": "rejected", "code": "stale_timestamp"},
            {"id": message_id(&first), "status": "duplicate"},
        ]}),
        "a new envelope and the accepted one, both now 2 s outside the past edge"
    );
    Ok(())
}
