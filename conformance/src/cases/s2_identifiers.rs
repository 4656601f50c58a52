//! SPEC §2, identifiers: the handle grammar (§2.1) and the primary's encoding and curve checks
//! (§2.3), as the lookup endpoints apply them. Registration applies them too (§4.1's cases).

use crate::case::{Case, CaseResult, Single};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s2.handle.grammar",
            &["§2.1", "§4.2"],
            "GET /v1/u/ answers 400 invalid_handle for every handle that breaks §2.1 (uppercase, \
             leading or trailing punctuation, '..', 33 characters) and 404 for valid unknown ones",
            |s| Box::pin(handle_grammar(s)),
        ),
        Case::single(
            "s2.primary.invalid",
            &["§2.3", "§1", "§4.3"],
            "GET /v1/by-primary/ answers 400 invalid_primary for uppercase hex, a short key, a \
             wrong prefix, a non-canonical or off-curve point and small-order points",
            |s| Box::pin(primary_invalid(s)),
        ),
    ]
}

/// Handles that break §2.1.
pub const INVALID_HANDLES: &[&str] = &[
    "Alice",
    "ALICE",
    "-alice",
    ".alice",
    "_alice",
    "alice-",
    "alice.",
    "alice_",
    "al..ice",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "al%20ice",
    "al+ice",
];

async fn handle_grammar(s: Single) -> CaseResult {
    for bad in INVALID_HANDLES {
        s.server
            .get(&format!("/v1/u/{bad}"))
            .await?
            .expect_error(400, "invalid_handle")?;
    }
    // Valid but (almost surely) unregistered: the grammar admits them, so 404, not 400.
    for good in [
        "zz9",
        "a",
        "a.b-c_d",
        "kc-unused.handle_zz",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9",
    ] {
        s.server
            .get(&format!("/v1/u/{good}"))
            .await?
            .expect_error(404, "unknown_handle")?;
    }
    Ok(())
}

/// Primaries that break §2.3 (the suffix after `ed25519:` where given).
pub fn invalid_primaries(valid: &str) -> Vec<String> {
    let hex = valid.trim_start_matches("ed25519:");
    vec![
        // Uppercase hex (§1: hex is lowercase).
        format!("ed25519:{}", hex.to_uppercase()),
        // Too short, too long.
        format!("ed25519:{}", &hex[..62]),
        format!("ed25519:{hex}00"),
        // Wrong prefix.
        format!("x25519:{hex}"),
        format!("ED25519:{hex}"),
        hex.to_owned(),
        // The identity point (small order).
        format!("ed25519:01{}", "00".repeat(31)),
        // A point of order 2 (y = −1), small order.
        format!("ed25519:ec{}7f", "ff".repeat(30)),
        // y = p (non-canonical encoding of 0).
        format!("ed25519:ed{}7f", "ff".repeat(30)),
        // y = 2: not on the curve.
        format!("ed25519:02{}", "00".repeat(31)),
    ]
}

async fn primary_invalid(s: Single) -> CaseResult {
    let user = crate::user::User::generate(&s.server);
    for bad in invalid_primaries(&user.primary.to_string()) {
        s.server
            .get(&format!("/v1/by-primary/{bad}"))
            .await?
            .expect_error(400, "invalid_primary")?;
    }
    // A valid, unregistered primary.
    s.server
        .get(&format!("/v1/by-primary/{}", user.primary))
        .await?
        .expect_error(404, "unknown_primary")?;
    Ok(())
}
