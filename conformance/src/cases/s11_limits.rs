//! SPEC §11, limits: every limit is published in the server document's `limits.rate` (the
//! document case checks presence), and the published numbers are what the server enforces
//! where the suite can observe it cheaply: the body limit (§6.5's case) and the inbox page
//! maximum (§8.2's case). Of the rate limits, only the per-recipient one is provoked, and only
//! when it is small (as on spawned nodes): it locks out one fresh recipient, not the suite's
//! address.

use crate::case::{Case, CaseResult, Single};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s11.published",
            &["§11", "§9.2"],
            "limits.rate publishes the eight per-period limits as positive integers",
            |s| Box::pin(published(s)),
        ),
        Case::single(
            "s11.recipient_limit",
            &["§11", "§10"],
            "sends beyond the published recipient_per_minute are 429 rate_limited with a \
             Retry-After in seconds (run when the limit is 100 or less, as under --spawn)",
            |s| Box::pin(recipient_limit(s)),
        ),
    ]
}

async fn published(s: Single) -> CaseResult {
    if !s.server.federates() {
        skip!("the server serves no /.well-known/kez, where the limits are published");
    }
    for key in [
        "client_per_minute",
        "register_per_hour",
        "sender_per_minute",
        "recipient_per_minute",
        "origin_per_minute",
        "first_contacts_per_hour",
        "remote_lookups_per_minute",
        "remote_lookups_per_server_per_minute",
    ] {
        check!(
            s.server
                .limit(&format!("/rate/{key}"))
                .is_some_and(|v| v > 0),
            "limits.rate.{key} must be a positive integer: {}",
            s.server.document["limits"]
        );
    }
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
    for i in 0..limit {
        alice.send_ok(&bob.peer(), &format!("n{i}")).await?;
    }
    let env = alice.envelope(&bob.peer(), "one too many");
    let resp = alice.send(&env).await?;
    let retry_after = resp.header("retry-after").map(str::to_owned);
    super::expect_code(resp, 429, "rate_limited", "the send past the limit")?;
    check!(
        retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n > 0)),
        "a 429 must carry Retry-After in seconds, got {retry_after:?}"
    );
    Ok(())
}
