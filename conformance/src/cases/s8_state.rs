//! SPEC §8 over time: what must still hold after acknowledgements, restarts, the passing of
//! `max_age` and of a send's window. Sequence numbers are never reused (§8.2) — after every
//! message is acknowledged, and after a restart — and `ready` carries the highest seq ever
//! assigned (§8.5); retention deletes on the right side of `max_age` only (§8.4); a resend is
//! recognised right after check 4 (§8.1), so it is a duplicate even once its `ts` has left the
//! window; and a `limit` exactly at the page maximum and one above it (§8.2). The cases that
//! need a restart or a configuration of their own run on own nodes (`--spawn`).

use std::time::Duration;

use serde_json::{Value, json};

use super::{EDGE_MARGIN_SECS, clock_passes, expect_code, two_users};
use crate::case::{Case, CaseResult, Fail, Own, Single};
use crate::user::{User, ids, message_id, now_ms, seqs};

/// How long a stream event may take to arrive.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// The `max_age` of the retention case's node, in seconds: short, so the case takes seconds,
/// and long enough that a message sent half-way is clearly younger when the first expires.
const RETENTION_MAX_AGE_SECS: u64 = 3;

/// The page maximum of the paging case's node: small, so a page one over it is cheap to fill.
const PAGE_MAX: u64 = 5;

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s8.state.seq_after_ack",
            &["§8.2", "§8.3", "§8.5"],
            "after every message is acknowledged, a live-only stream's ready is still the \
             highest seq assigned, and the next message gets the seq after it",
            |s| Box::pin(seq_after_ack(s)),
        ),
        Case::own(
            "s8.state.restart",
            &["§8.2", "§8.5", "§8.7"],
            "after a restart in place, ready is the highest seq assigned before it, the next \
             message continues above it, stored messages remain, and a resend of an \
             acknowledged message is still a duplicate with its seq",
            |o| Box::pin(restart(o)),
        ),
        Case::own(
            "s8.retention.max_age",
            &["§8.4", "§9.2"],
            "on a node with retention.max_age of 3 s, a message is deleted once older than \
             max_age and not before, while a younger one is kept",
            |o| Box::pin(retention(o)),
        )
        .with_timeout(Duration::from_secs(40)),
        Case::own(
            "s8.poll.page_max",
            &["§8.2", "§9.2"],
            "on a node with a published inbox_page_max of 5 and 6 messages, limit 5 returns 5 \
             and limit 6 is capped at 5",
            |o| Box::pin(page_max(o)),
        ),
        Case::single(
            "s8.send.duplicate_out_of_window",
            &["§8.1", "§8.7"],
            "a resend is recognised after check 4: an envelope accepted 2 s inside the past \
             edge is 200 duplicate once its ts is 2 s outside, while a new envelope with that \
             ts is 400 stale_timestamp",
            |s| Box::pin(duplicate_out_of_window(s)),
        ),
    ]
}

/// The `seq` of a send answer.
fn answer_seq(answer: &Value) -> Option<u64> {
    answer.get("seq").and_then(Value::as_u64)
}

/// The `ready` of a new live-only stream of `user`, which is then closed.
async fn live_ready(user: &User) -> Result<Value, Fail> {
    let mut stream = user.stream(None).await?.expect_open().await?;
    let (_, ready) = stream.until_ready(EVENT_WAIT).await?;
    Ok(ready)
}

async fn seq_after_ack(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    alice.send_ok(&bob.peer(), "one").await?;
    alice.send_ok(&bob.peer(), "two").await?;
    check_eq!(
        bob.ack(2).await?.expect_json(200)?,
        json!({"deleted": 2}),
        "acknowledging every message"
    );
    check_eq!(
        live_ready(&bob).await?,
        json!({"seq": 2}),
        "ready of an inbox whose messages are all acknowledged"
    );
    let (answer, _) = alice.send_ok(&bob.peer(), "three").await?;
    check_eq!(
        answer_seq(&answer),
        Some(3),
        "the seq of the message after the acknowledged ones"
    );
    check_eq!(seqs(&bob.messages(0).await?), vec![3], "the inbox");
    Ok(())
}

async fn restart(o: Own) -> CaseResult {
    let mut node = o.start("").await?;
    let (alice, bob) = two_users(node.server()).await?;
    let (_, first) = alice.send_ok(&bob.peer(), "one").await?;
    alice.send_ok(&bob.peer(), "two").await?;
    bob.ack(2).await?.expect(200)?;
    let (answer, third) = alice.send_ok(&bob.peer(), "three").await?;
    check_eq!(
        answer_seq(&answer),
        Some(3),
        "the seq after acknowledging all"
    );
    let server = node.restart().await?;
    let (alice, bob) = (alice.via(&server), bob.via(&server));
    check_eq!(
        live_ready(&bob).await?,
        json!({"seq": 3}),
        "ready after the restart"
    );
    let (answer, fourth) = alice.send_ok(&bob.peer(), "four").await?;
    check_eq!(
        answer_seq(&answer),
        Some(4),
        "the seq of the first message after the restart"
    );
    check_eq!(
        ids(&bob.messages(0).await?),
        vec![message_id(&third), message_id(&fourth)],
        "the inbox after the restart: the unacknowledged message and the new one"
    );
    let again = alice.send(&first).await?.expect_json(200)?;
    check_eq!(
        again,
        json!({"id": message_id(&first), "seq": 1, "status": "stored", "duplicate": true}),
        "a resend of the first, acknowledged message after the restart"
    );
    Ok(())
}

async fn retention(o: Own) -> CaseResult {
    let node = o
        .start(&format!(
            "[retention]\nmax_age_secs = {RETENTION_MAX_AGE_SECS}\nsweep_interval_secs = 1\n"
        ))
        .await?;
    check_eq!(
        node.server().limit("/retention/max_age"),
        Some(RETENTION_MAX_AGE_SECS),
        "the published retention.max_age"
    );
    let max_age_ms = RETENTION_MAX_AGE_SECS * 1000;
    let (alice, bob) = two_users(node.server()).await?;
    let (_, old) = alice.send_ok(&bob.peer(), "old").await?;
    let old_at = received_at(&bob, &message_id(&old)).await?;
    // Half-way to the first one's expiry: clearly younger than max_age when it expires.
    clock_passes(old_at + max_age_ms / 2).await;
    let (_, young) = alice.send_ok(&bob.peer(), "young").await?;
    let young_at = received_at(&bob, &message_id(&young)).await?;
    // The bound: max_age, a sweep interval, and a margin for a busy machine.
    let deadline = old_at + max_age_ms + 10_000;
    loop {
        let inbox = ids(&bob.messages(0).await?);
        let seen = now_ms();
        if inbox.contains(&message_id(&old)) {
            check!(
                seen < deadline,
                "a message {} ms old is still in the inbox; max_age is {max_age_ms} ms",
                seen.saturating_sub(old_at)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        check!(
            seen >= old_at + max_age_ms,
            "a message was deleted {} ms after it was stored, before max_age ({max_age_ms} ms)",
            seen.saturating_sub(old_at)
        );
        check!(
            inbox.contains(&message_id(&young)),
            "a message {} ms old was deleted with one older than max_age ({max_age_ms} ms)",
            seen.saturating_sub(young_at)
        );
        return Ok(());
    }
}

/// The `received_at` of the message `id` in `user`'s inbox.
async fn received_at(user: &User, id: &str) -> Result<u64, Fail> {
    user.messages(0)
        .await?
        .iter()
        .find(|m| m["id"] == json!(id))
        .and_then(|m| m["received_at"].as_u64())
        .ok_or_else(|| Fail::Fail(format!("the message {id} has no received_at in the inbox")))
}

async fn page_max(o: Own) -> CaseResult {
    let node = o
        .start(&format!(
            "[inbox]\npage_default = 3\npage_max = {PAGE_MAX}\n"
        ))
        .await?;
    check_eq!(
        node.server().limit("/inbox_page_max"),
        Some(PAGE_MAX),
        "the published inbox_page_max"
    );
    let (alice, bob) = two_users(node.server()).await?;
    for i in 0..=PAGE_MAX {
        alice.send_ok(&bob.peer(), &format!("p{i}")).await?;
    }
    let full: Vec<u64> = (1..=PAGE_MAX).collect();
    for (limit, what) in [
        (PAGE_MAX, "limit at the maximum"),
        (PAGE_MAX + 1, "limit one above the maximum"),
    ] {
        let page = bob.poll(Some(0), Some(limit)).await?.expect_json(200)?;
        check_eq!(
            seqs(page["messages"].as_array().map_or(&[][..], |v| v)),
            full,
            "{what} ({limit})"
        );
        check_eq!(page["next_since"], json!(PAGE_MAX), "next_since, {what}");
    }
    Ok(())
}

async fn duplicate_out_of_window(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let window = kez_spec::envelope::DEFAULT_SKEW_MS;
    let margin = EDGE_MARGIN_SECS * 1000;
    let ts = now_ms() - (window - margin);
    let env = alice.sign(alice.envelope_fields_at(&bob.peer(), "edge", ts));
    let first = alice.send(&env).await?.expect_json(201)?;
    clock_passes(ts + window + margin).await;
    let fresh = alice.sign(alice.envelope_fields_at(&bob.peer(), "fresh", ts));
    expect_code(
        alice.send(&fresh).await?,
        400,
        "stale_timestamp",
        "a new envelope now 2 s outside the past edge",
    )?;
    let again = alice.send(&env).await?.expect_json(200)?;
    check_eq!(
        again,
        json!({"id": message_id(&env), "seq": first["seq"], "status": "stored", "duplicate": true}),
        "the resend of an envelope accepted inside the window, now outside it"
    );
    Ok(())
}
