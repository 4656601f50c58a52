//! SPEC §6 (and the encodings of §1): the envelope's members and their codes (§6.1), the
//! version (§1.1), canonical base64 and lowercase hex (§1), the body limit as the server
//! document publishes it (§6.5), and the end-to-end round trip a client relies on (§6.2, §6.3,
//! §6.6): what one client seals, the server stores and serves so the other opens it.

use kez_spec::auth::AuthRequest;
use serde_json::{Value, json};

use super::{expect_code, two_users};
use crate::case::{Case, CaseResult, Fail, Single};
use crate::user::{User, json_bytes, message_id, now_ms};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s6.members",
            &["§6.1", "§2.4", "§2.2"],
            "each envelope member violation gets §6.1's code: invalid_address for from/to \
             (uppercase server names included), invalid_primary, malformed_request for nonce, \
             ciphertext and ts",
            |s| Box::pin(members(s)),
        ),
        Case::single(
            "s6.encodings",
            &["§1", "§6.1"],
            "base64 must be canonical standard base64 with padding and hex lowercase: other \
             forms are 400 malformed_request",
            |s| Box::pin(encodings(s)),
        ),
        Case::single(
            "s6.version",
            &["§1.1", "§6.1"],
            "an envelope with v 2 is 400 unsupported_version; a v that is not an integer is \
             malformed_request",
            |s| Box::pin(version(s)),
        ),
        Case::single(
            "s6.body_limit",
            &["§6.5", "§9.2"],
            "a send body of exactly the published max_body_bytes is accepted, one byte more is \
             413 payload_too_large (also for registration and acknowledgement bodies)",
            |s| Box::pin(body_limit(s)),
        ),
        Case::single(
            "s6.body_limit.every_route",
            &["§6.5", "§9.2"],
            "a registration and an acknowledgement of exactly the published max_body_bytes are \
             accepted: one limit for every client request body",
            |s| Box::pin(body_limit_every_route(s)),
        ),
        Case::single(
            "s6.body_limit.read_bound",
            &["§6.5"],
            "a chunked send body that stalls after max_body_bytes + 1 bytes is answered 413 \
             payload_too_large at once: the server reads no more than one byte past the limit",
            |s| Box::pin(body_read_bound(s)),
        ),
        Case::single(
            "s6.e2ee.round_trip",
            &["§6.2", "§6.3", "§6.6"],
            "a sealed message is served so that the recipient verifies the signature with \
             from_primary, finds its own address in to, and opens the plaintext",
            |s| Box::pin(round_trip(s)),
        ),
    ]
}

async fn members(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    address_members(&alice, &bob).await?;
    encoded_members(&alice, &bob).await?;
    body_members(&alice, &bob).await
}

/// §6.1's address members (`from`, `to`): each violation is invalid_address, or
/// malformed_request when not a string.
async fn address_members(alice: &User, bob: &User) -> CaseResult {
    let name = alice.server.name.as_str();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("from without server", json!(alice.handle.as_str()), "from"),
        (
            "from uppercase handle",
            json!(alice.address.to_string().to_uppercase()),
            "from",
        ),
        (
            "to uppercase server",
            json!(format!("{}@{}", bob.handle, name.to_uppercase())),
            "to",
        ),
        (
            "to with trailing dot",
            json!(format!("{}@{name}.", bob.handle)),
            "to",
        ),
        (
            "to an IP literal",
            json!(format!("{}@127.0.0.1", bob.handle)),
            "to",
        ),
        ("to a number", json!(5), "to"),
    ];
    for (what, value, member) in cases {
        let mut f = alice.envelope_fields(&bob.peer(), what);
        f.insert(member.into(), value.clone());
        let env = alice.sign(f);
        let to = if member == "to" {
            value.clone()
        } else {
            json!(bob.address.to_string())
        };
        let body = json!({"to": to, "envelope": env});
        let code = if value.is_string() {
            "invalid_address"
        } else {
            "malformed_request"
        };
        expect_code(alice.send_raw(json_bytes(&body)).await?, 400, code, what)?;
    }
    Ok(())
}

/// `from_primary`, `nonce`, `ciphertext` and `ts`: each violation gets §6.1's code.
async fn encoded_members(alice: &User, bob: &User) -> CaseResult {
    let mut f = alice.envelope_fields(&bob.peer(), "p");
    f.insert("from_primary".into(), json!("ed25519:00"));
    expect_code(
        alice.send(&alice.sign(f)).await?,
        400,
        "invalid_primary",
        "from_primary",
    )?;
    let malformed: Vec<(&str, &str, Value)> = vec![
        ("nonce 11 bytes", "nonce", json!("000102030405060708090a")),
        (
            "nonce 13 bytes",
            "nonce",
            json!("000102030405060708090a0b0c"),
        ),
        (
            "ciphertext 15 bytes",
            "ciphertext",
            json!("AAAAAAAAAAAAAAAAAAAA"),
        ),
        ("ciphertext empty", "ciphertext", json!("")),
        ("ts a string", "ts", json!("1767225600123")),
        ("ts negative", "ts", json!(-1)),
        ("nonce missing", "nonce", Value::Null),
    ];
    for (what, member, value) in malformed {
        let mut f = alice.envelope_fields(&bob.peer(), what);
        if value.is_null() {
            f.remove(member);
        } else {
            f.insert(member.into(), value);
        }
        expect_code(
            alice.send(&alice.sign(f)).await?,
            400,
            "malformed_request",
            what,
        )?;
    }
    Ok(())
}

/// The send body's own members (`to`, `envelope`): malformed_request.
async fn body_members(alice: &User, bob: &User) -> CaseResult {
    let env = alice.envelope(&bob.peer(), "body");
    for (what, body) in [
        ("no to", json!({"envelope": env})),
        ("no envelope", json!({"to": bob.address.to_string()})),
        (
            "envelope a string",
            json!({"to": bob.address.to_string(), "envelope": "x"}),
        ),
    ] {
        expect_code(
            alice.send_raw(json_bytes(&body)).await?,
            400,
            "malformed_request",
            what,
        )?;
    }
    Ok(())
}

async fn encodings(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    // {"text":"encoding"} is 19 bytes, 35 with the tag: base64 with one '=' and two unused bits.
    let fields = alice.envelope_fields(&bob.peer(), "encoding");
    let ciphertext = fields["ciphertext"].as_str().unwrap_or("").to_owned();
    let nonce = fields["nonce"].as_str().unwrap_or("").to_owned();
    let mut variants: Vec<(&str, &str, String)> = vec![
        (
            "ciphertext without padding",
            "ciphertext",
            ciphertext.trim_end_matches('=').to_owned(),
        ),
        (
            "ciphertext with a line break",
            "ciphertext",
            format!("{}\n{}", &ciphertext[..8], &ciphertext[8..]),
        ),
        (
            "ciphertext with a space",
            "ciphertext",
            format!("{} ", &ciphertext),
        ),
        (
            "ciphertext in the URL-safe alphabet",
            "ciphertext",
            url_safe_variant(&ciphertext),
        ),
        ("nonce uppercase", "nonce", nonce.to_uppercase()),
        ("nonce not hex", "nonce", format!("zz{}", &nonce[2..])),
    ];
    if let Some(noncanonical) = noncanonical_tail(&ciphertext) {
        variants.push((
            "ciphertext with non-zero unused bits",
            "ciphertext",
            noncanonical,
        ));
    }
    for (what, member, value) in variants {
        if member == "nonce" && value == nonce || member == "ciphertext" && value == ciphertext {
            continue;
        }
        let mut f = fields.clone();
        f.insert(member.into(), json!(value));
        expect_code(
            alice.send(&alice.sign(f)).await?,
            400,
            "malformed_request",
            what,
        )?;
    }
    Ok(())
}

/// The base64 text with `+`/`/` swapped for `-`/`_` (or, if it has none, a `-` in front of
/// a padded quartet's worth of symbols, still not standard base64).
fn url_safe_variant(b64: &str) -> String {
    if b64.contains(['+', '/']) {
        b64.replace('+', "-").replace('/', "_")
    } else {
        format!("-___{b64}")
    }
}

/// The base64 text with its last data symbol changed so the unused low bits are not zero.
fn noncanonical_tail(b64: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let trimmed = b64.trim_end_matches('=');
    let pads = b64.len() - trimmed.len();
    if !(1..=2).contains(&pads) {
        return None;
    }
    let last = *trimmed.as_bytes().last()?;
    let index = ALPHABET.iter().position(|c| *c == last)?;
    let changed = ALPHABET[(index | 1) % 64];
    let mut out = trimmed[..trimmed.len() - 1].to_owned();
    out.push(char::from(changed));
    out.push_str(&"=".repeat(pads));
    (out != b64).then_some(out)
}

async fn version(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    for (what, v, code) in [
        ("v 2", json!(2), "unsupported_version"),
        ("v 0", json!(0), "unsupported_version"),
        ("v \"1\"", json!("1"), "malformed_request"),
    ] {
        let mut f = alice.envelope_fields(&bob.peer(), what);
        f.insert("v".into(), v);
        expect_code(alice.send(&alice.sign(f)).await?, 400, code, what)?;
    }
    Ok(())
}

/// The published `max_body_bytes` (§6.5's 262,144 from a server without a document), which
/// must not exceed §6.5's limit.
fn published_body_limit(s: &Single) -> Result<usize, Fail> {
    let limit = match s.server.limit("/max_body_bytes") {
        Some(limit) => usize::try_from(limit).unwrap_or(usize::MAX),
        None if s.server.federates() => fail!("the server document publishes no max_body_bytes"),
        None => kez_spec::envelope::MAX_BYTES,
    };
    check!(
        limit <= kez_spec::envelope::MAX_BYTES,
        "max_body_bytes {limit} exceeds §6.5's 262,144"
    );
    Ok(limit)
}

async fn body_limit(s: Single) -> CaseResult {
    let limit = published_body_limit(&s)?;
    let (alice, bob) = two_users(&s.server).await?;
    let env = alice.envelope(&bob.peer(), "limit");
    let body = json_bytes(&json!({"to": env["to"], "envelope": env}));
    check!(
        body.len() < limit,
        "a minimal send is {} bytes, over the limit {limit}",
        body.len()
    );
    // JSON whitespace pads the body to exactly the limit: still a valid send.
    let exact = padded(&body, limit);
    check_eq!(exact.len(), limit, "padded body length");
    let answer = alice.send_raw(exact).await?.expect_json(201)?;
    check_eq!(
        answer["id"],
        json!(message_id(&env)),
        "the padded send's id"
    );
    let over = padded(&body, limit + 1);
    expect_code(
        alice.send_raw(over.clone()).await?,
        413,
        "payload_too_large",
        "send of limit + 1 bytes",
    )?;
    expect_code(
        bob.register_raw(over.clone()).await?,
        413,
        "payload_too_large",
        "registration of limit + 1 bytes",
    )?;
    expect_code(
        bob.ack_with(over, None).await?,
        413,
        "payload_too_large",
        "acknowledgement of limit + 1 bytes",
    )?;
    Ok(())
}

/// `body`, a JSON object, padded with JSON whitespace before its last byte to `len` bytes.
/// A server that read on past the limit would wait for bytes that never come.
async fn body_read_bound(s: Single) -> CaseResult {
    let limit = published_body_limit(&s)?;
    let over = vec![b' '; limit + 1];
    let resp = s.server.post_stalled("/v1/messages", over).await?;
    expect_code(
        resp,
        413,
        "payload_too_large",
        "a chunked send body stalled one byte past the limit",
    )?;
    Ok(())
}

fn padded(body: &[u8], len: usize) -> Vec<u8> {
    let mut out = body.to_vec();
    let last = out.pop().unwrap_or(b'}');
    out.resize(len.saturating_sub(1), b' ');
    out.push(last);
    out
}

async fn body_limit_every_route(s: Single) -> CaseResult {
    let limit = published_body_limit(&s)?;
    let newcomer = User::generate(&s.server);
    let registration = padded(&json_bytes(&newcomer.registration(now_ms())), limit);
    check_eq!(registration.len(), limit, "padded registration length");
    newcomer.register_raw(registration).await?.expect(201)?;
    let through = 0;
    let credential = newcomer.credential(AuthRequest::Ack {
        handle: &newcomer.handle,
        through,
    });
    let ack = padded(&json_bytes(&json!({ "through": through })), limit);
    check_eq!(ack.len(), limit, "padded acknowledgement length");
    let answer = newcomer
        .ack_with(ack, Some(&credential))
        .await?
        .expect_json(200)?;
    check_eq!(
        answer,
        json!({"deleted": 0}),
        "the acknowledgement's answer"
    );
    Ok(())
}

async fn round_trip(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let plaintext = json!({"text": "h\u{e9}llo \u{1f30d}", "x-future": {"n": 1}}).to_string();
    let mut nonce = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let env = kez_spec::envelope::Envelope::seal(
        &alice.key,
        alice.address.clone(),
        bob.address.clone(),
        &bob.primary,
        now_ms(),
        nonce,
        plaintext.as_bytes(),
    )
    .map_err(|e| Fail::Fail(format!("sealing: {e}")))?
    .sign(&alice.key);
    alice.send(&env).await?.expect(201)?;
    let messages = bob.messages(0).await?;
    let served = messages
        .first()
        .ok_or_else(|| Fail::Fail("the message is not in the inbox".into()))?;
    let parsed = kez_spec::envelope::SignedEnvelope::parse(&json_bytes(&served["envelope"]))
        .map_err(|e| Fail::Fail(format!("the served envelope does not parse: {e}")))?;
    parsed
        .verify()
        .map_err(|e| Fail::Fail(format!("the served envelope's signature fails: {e}")))?;
    check_eq!(parsed.envelope.to, bob.address, "the served envelope's to");
    check_eq!(parsed.envelope.from_primary, alice.primary, "from_primary");
    let opened = parsed
        .envelope
        .open(&bob.key)
        .map_err(|e| Fail::Fail(format!("the recipient cannot open the message: {e}")))?;
    check_eq!(
        String::from_utf8_lossy(&opened),
        plaintext,
        "the opened plaintext"
    );
    Ok(())
}
