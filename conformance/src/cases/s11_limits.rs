//! SPEC §11, limits: every limit is published in the server document's `limits.rate` (the
//! document case checks presence), and the published numbers are what the server enforces
//! where the suite can observe it cheaply: the body limit (§6.5's case) and the inbox page
//! maximum (§8.2's case). Rate limits themselves are not provoked: doing so would lock the
//! suite's own address out of a shared deployment.

use crate::case::{Case, CaseResult, Single};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![Case::single(
        "s11.published",
        &["§11", "§9.2"],
        "limits.rate publishes the six per-period limits as positive integers",
        |s| Box::pin(published(s)),
    )]
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
