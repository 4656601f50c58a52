//! SPEC §2, identifiers: the handle grammar (§2.1), server names that cannot carry an IP
//! address (§2.2, from `spec/vectors/kez-server-names.json`), and the primary's encoding and
//! curve checks (§2.3), as the lookup endpoints apply them. Registration applies them too
//! (§4.1's cases).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::case::Fail;
use crate::case::{Case, CaseResult, Single};
use crate::user::{User, json_bytes, now_ms};

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
            "s2.server_name.numeric",
            &["§2.2", "§2.4", "§4.1", "§4.2", "§9.8", "§13.2"],
            "a server name whose last label ends in a number (every decimal, octal, hex and \
             mixed IPv4 spelling) or an IPv6 literal is refused before any connection: \
             GET /v1/u/bob@<it> is 400 invalid_handle (§4.2), a registration naming it 400 \
             wrong_server (§4.1 step 5), a send to bob@<it> 400 invalid_address; with a port, a \
             listener of the suite's on 127.0.0.1 sees no connection",
            |s| Box::pin(server_name_numeric(s)),
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

/// The server names of `spec/vectors/kez-server-names.json` that §2.2 refuses.
fn invalid_server_names() -> Vec<String> {
    let doc: Value =
        serde_json::from_str(include_str!("../../../spec/vectors/kez-server-names.json"))
            .unwrap_or(Value::Null);
    doc["server_names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["valid"] == false)
        .filter_map(|v| v["server_name"].as_str().map(str::to_owned))
        .collect()
}

async fn server_name_numeric(s: Single) -> CaseResult {
    let names = invalid_server_names();
    if names.is_empty() {
        fail!("spec/vectors/kez-server-names.json lists no invalid server names");
    }
    // A server under test on this machine would connect here if it read a name as 127.0.0.1.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Fail::Fail(format!("binding a listener: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Fail::Fail(e.to_string()))?
        .port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let watch = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let alice = User::registered(&s.server).await?;
    let bob = User::generate(&s.server);
    for name in &names {
        for server in [name.clone(), format!("{name}:{port}")] {
            let address = format!("{}@{server}", bob.handle);
            // §4.2: one code for every segment that is neither a handle nor an address.
            s.server
                .get(&format!("/v1/u/{address}"))
                .await?
                .expect_error(400, "invalid_handle")?;
            let mut registration = bob.registration_fields(now_ms());
            registration.insert("server".into(), json!(server));
            bob.register_raw(json_bytes(&bob.sign(registration)))
                .await?
                .expect_error(400, "wrong_server")?;
            let mut envelope = alice.envelope_fields(&bob.peer(), "to a number");
            envelope.insert("to".into(), json!(address));
            let body = json!({"to": address, "envelope": alice.sign(envelope)});
            alice
                .send_raw(json_bytes(&body))
                .await?
                .expect_error(400, "invalid_address")?;
        }
    }
    watch.abort();
    check!(
        accepted.load(Ordering::SeqCst) == 0,
        "the server connected to 127.0.0.1:{port}, named by a numeric server name"
    );
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
        // y = p + 3: a non-canonical encoding of the point with y = 3, which is on the curve and
        // not of small order, so only the canonical-encoding rule refuses it (y < p, §2.3).
        format!("ed25519:f0{}7f", "ff".repeat(30)),
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
