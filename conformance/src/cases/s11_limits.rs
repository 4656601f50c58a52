//! SPEC §11, limits: every limit is published in the server document's `limits.rate` (the
//! document case checks presence), and the published numbers are what the server enforces
//! where the suite can observe it cheaply: the body limit (§6.5's case) and the inbox page
//! maximum (§8.2's case). Of the rate limits, the recipient's two budgets are provoked, and
//! only when they are small (as on spawned nodes): each locks out one fresh recipient, not the
//! suite's address. The strangers' case is the §11 promise that senders a recipient never wrote
//! to cannot make the server refuse the messages of one it did.

use std::time::Instant;

use crate::case::{Case, CaseResult, Single};
use crate::user::User;

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s11.published",
            &["§11", "§9.2"],
            "limits.rate publishes the nine per-period limits as positive integers, and \
             limits.conversations.memory how long a conversation is remembered",
            |s| Box::pin(published(s)),
        ),
        Case::single(
            "s11.recipient_limit",
            &["§11", "§10"],
            "sends from a contact (the recipient wrote to them) beyond the published \
             recipient_per_minute are 429 rate_limited with a Retry-After in seconds (run when \
             the limit is 100 or less, as under --spawn)",
            |s| Box::pin(recipient_limit(s)),
        ),
        Case::single(
            "s11.strangers_cannot_lock_an_inbox",
            &["§11", "§10"],
            "once senders the recipient never wrote to have used recipient_strangers_per_minute, \
             the next stranger gets 429 rate_limited and a contact still gets through (run when \
             the limit is 100 or less)",
            |s| Box::pin(strangers_cannot_lock_an_inbox(s)),
        ),
    ]
}

async fn published(s: Single) -> CaseResult {
    if !s.server.federates() {
        skip!("the server serves no /.well-known/kez, where the limits are published");
    }
    for key in [
        "rate/client_per_minute",
        "rate/register_per_hour",
        "rate/sender_per_minute",
        "rate/recipient_per_minute",
        "rate/recipient_strangers_per_minute",
        "rate/origin_per_minute",
        "rate/first_contacts_per_hour",
        "rate/remote_lookups_per_minute",
        "rate/remote_lookups_per_server_per_minute",
        "conversations/memory",
    ] {
        check!(
            s.server.limit(&format!("/{key}")).is_some_and(|v| v > 0),
            "limits.{} must be a positive integer: {}",
            key.replace('/', "."),
            s.server.document["limits"]
        );
    }
    Ok(())
}

/// Expects `resp` to be a 429 `rate_limited` with a Retry-After in whole seconds.
fn expect_limited(resp: crate::server::Resp, what: &str) -> CaseResult {
    let retry_after = resp.header("retry-after").map(str::to_owned);
    super::expect_code(resp, 429, "rate_limited", what)?;
    check!(
        retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n > 0)),
        "a 429 must carry Retry-After in seconds, got {retry_after:?}"
    );
    Ok(())
}

async fn recipient_limit(s: Single) -> CaseResult {
    let (Some(limit), Some(sender_limit)) = (
        s.server.limit("/rate/recipient_per_minute"),
        s.server.limit("/rate/sender_per_minute"),
    ) else {
        skip!("the server publishes no recipient_per_minute or sender_per_minute");
    };
    if limit > 100 || sender_limit <= limit {
        skip!(
            "recipient_per_minute is {limit} (sender_per_minute {sender_limit}): too many \
             messages to provoke it cheaply"
        );
    }
    let (alice, bob) = super::two_users(&s.server).await?;
    // Bob writes to alice first, which makes her one of his contacts.
    bob.send_ok(&alice.peer(), "hello alice").await?;
    let started = Instant::now();
    for i in 0..limit {
        alice.send_ok(&bob.peer(), &format!("n{i}")).await?;
    }
    // Past the burst, only what the window refilled since it began may pass.
    let mut extra = 0;
    loop {
        let env = alice.envelope(&bob.peer(), &format!("one too many {extra}"));
        let resp = alice.send(&env).await?;
        if resp.status == 429 || extra >= refilled(started, limit) {
            return expect_limited(resp, "the send past the limit");
        }
        extra += 1;
    }
}

/// How many sends a limit of `per_minute` has let through since `started` beyond its burst: one
/// every 60 / `per_minute` s, rounded up. A loaded machine takes longer over the burst, and the
/// window refills meanwhile; only a send past that is owed a 429.
fn refilled(started: Instant, per_minute: u64) -> u64 {
    // Seconds to the millisecond: the refill is at most one send per 0.6 s (100 a minute).
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (ms.saturating_mul(per_minute)).div_ceil(60_000)
}

/// Strangers registered beyond the budget and the one past it, for what the window refills
/// while the others send.
const STRANGER_SPARES: u64 = 10;

async fn strangers_cannot_lock_an_inbox(s: Single) -> CaseResult {
    let (Some(limit), Some(contacts)) = (
        s.server.limit("/rate/recipient_strangers_per_minute"),
        s.server.limit("/rate/recipient_per_minute"),
    ) else {
        skip!("the server publishes no recipient_strangers_per_minute");
    };
    let registrations = s.server.limit("/rate/register_per_hour").unwrap_or(0);
    if limit > 100 || contacts < 2 || registrations < limit + 3 {
        skip!(
            "recipient_strangers_per_minute is {limit} (register_per_hour {registrations}): \
             too many senders to register cheaply"
        );
    }
    let (victim, friend) = super::two_users(&s.server).await?;
    victim.send_ok(&friend.peer(), "hello friend").await?;
    // One stranger per send: the budget's worth, one past it, and spares for what the window
    // refills while they send (as many as the registration limit leaves, up to a few).
    let spares = registrations.saturating_sub(limit + 3).min(STRANGER_SPARES);
    let mut strangers: Vec<User> = Vec::new();
    for _ in 0..=limit + spares {
        strangers.push(User::registered(&s.server).await?);
    }
    let mut strangers = strangers.into_iter();
    let started = Instant::now();
    for (i, stranger) in strangers
        .by_ref()
        .take(usize::try_from(limit).unwrap_or(0))
        .enumerate()
    {
        stranger
            .send_ok(&victim.peer(), &format!("stranger {i}"))
            .await?;
    }
    let mut extra = 0;
    loop {
        let Some(last) = strangers.next() else {
            fail!("the strangers' budget refilled faster than {spares} spare strangers used it");
        };
        let env = last.envelope(&victim.peer(), "one stranger too many");
        let resp = last.send(&env).await?;
        if resp.status == 429 || extra >= refilled(started, limit) {
            expect_limited(resp, "a stranger past the strangers' budget")?;
            break;
        }
        extra += 1;
    }
    friend.send_ok(&victim.peer(), "still here").await?;
    Ok(())
}
