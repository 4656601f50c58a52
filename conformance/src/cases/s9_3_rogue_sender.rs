//! SPEC §9.2–§9.4 with a rogue peer as the sender (`--spawn` only): a transaction signed well
//! is accepted; forged, expired-key, retired-key, misaddressed and out-of-window requests get
//! their 401 codes; oversized and mis-originated bodies their 413 and 400; each bad envelope its
//! own rejection inside an otherwise good transaction; and a replayed transaction id gets the
//! stored answer without being processed again.

use kez_spec::envelope::Envelope;
use kez_spec::{Address, SigningKey};
use kez_testnet::rogue::{envelope_as, tamper};
use kez_testnet::{RogueOptions, RoguePeer, Sign};
use serde_json::{Map, Value, json};

use crate::case::{Case, CaseResult, Fail, Rogue};
use crate::user::{Peer, User, message_id, now_ms, now_s, random_key};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::rogue(
            "s9.rogue.accepted",
            &["§9.3", "§9.4", "§6.4"],
            "a well-signed transaction from a peer is 200 with one accepted result per envelope \
             (id = SHA-256 of its JCS) and the message reaches the inbox",
            |r| Box::pin(accepted(r)),
        ),
        Case::rogue(
            "s9.rogue.forged",
            &["§9.3", "§3.4"],
            "a transaction signed with a key the origin does not publish is 401 \
             invalid_signature",
            |r| Box::pin(forged(r)),
        ),
        Case::rogue(
            "s9.rogue.expired_key",
            &["§9.2", "§9.3"],
            "a transaction signed with a key whose valid_until has passed is 401 unknown_key",
            |r| Box::pin(expired_key(r)),
        ),
        Case::rogue(
            "s9.rogue.retired_key",
            &["§9.2"],
            "a transaction signed now with a key the origin retired (old_verify_keys) is 401 \
             unknown_key",
            |r| Box::pin(retired_key(r)),
        ),
        Case::rogue(
            "s9.rogue.misaddressed",
            &["§9.3", "§13.1"],
            "a correctly signed transaction addressed to another server is 401 \
             wrong_destination",
            |r| Box::pin(misaddressed(r)),
        ),
        Case::rogue(
            "s9.rogue.out_of_window",
            &["§9.3"],
            "a correctly signed transaction 118 s old or ahead is 200; 122 s old or ahead is 401 \
             stale_timestamp (2 s inside and outside each edge of the 120 s window)",
            |r| Box::pin(out_of_window(r)),
        ),
        Case::rogue(
            "s9.rogue.replayed",
            &["§9.4"],
            "a repeated (origin, txn id) gets the stored answer whatever the body, without \
             processing it; the envelope in a new transaction is a duplicate",
            |r| Box::pin(replayed(r)),
        ),
        Case::rogue(
            "s9.rogue.body_origin",
            &["§9.4"],
            "a body whose origin differs from the Authorization origin is 400 \
             malformed_request",
            |r| Box::pin(body_origin(r)),
        ),
        Case::rogue(
            "s9.rogue.sender_not_of_origin",
            &["§9.4"],
            "an envelope from a user of another server (a forgery of that user) is rejected \
             sender_not_of_origin",
            |r| Box::pin(sender_not_of_origin(r)),
        ),
        Case::rogue(
            "s9.rogue.origin_blocked",
            &["§9.9", "§9.3"],
            "a well-signed transaction from an origin the operator blocks is 403 \
             origin_blocked",
            |r| Box::pin(origin_blocked(r)),
        ),
        Case::rogue(
            "s9.rogue.rate_limited",
            &["§9.4", "§11", "§9.5"],
            "envelopes over the recipient limit are deferred rate_limited with retry_after, and \
             every later envelope of that sender in the transaction is deferred too, even to \
             another recipient",
            |r| Box::pin(rate_limited(r)),
        ),
        Case::rogue(
            "s9.rogue.envelope_checks",
            &["§9.4", "§6.1", "§1.1"],
            "in one transaction each bad envelope gets its own result — malformed, \
             unsupported_version, unknown_sender, invalid_signature, unknown_recipient, \
             stale_timestamp — in order, and the good one is accepted",
            |r| Box::pin(envelope_checks(r)),
        ),
    ]
    .into_iter()
    .chain(size_cases())
    .collect()
}

/// The size limits of a transaction and of its envelopes (SPEC §9.4, §6.5).
fn size_cases() -> Vec<Case> {
    vec![
        Case::rogue(
            "s9.rogue.oversized",
            &["§9.4", "§6.5"],
            "more than max_txn_envelopes envelopes is 413 payload_too_large; an envelope of \
             exactly 262,144 JCS bytes is accepted, one of 262,145 is rejected \
             payload_too_large in its result",
            |r| Box::pin(oversized(r)),
        ),
        Case::rogue(
            "s9.rogue.txn_body_limit",
            &["§9.4"],
            "a transaction body of exactly the published max_txn_bytes (whitespace-padded) is \
             accepted, one byte more is 413 payload_too_large and stores nothing",
            |r| Box::pin(txn_body_limit(r)),
        ),
    ]
}

fn testnet_error(e: kez_testnet::TestnetError) -> Fail {
    Fail::Fail(format!("the rogue peer: {e}"))
}

/// A registered user of the server under test, as a recipient.
pub(super) async fn recipient(r: &Rogue) -> Result<User, Fail> {
    User::registered(&r.server).await
}

/// The rogue's transaction `txn` to the server under test: status and JSON body.
pub(super) async fn send(
    r: &Rogue,
    rogue: &RoguePeer,
    txn: &str,
    body: Vec<u8>,
    sign: Sign,
) -> Result<(u16, Value), Fail> {
    rogue
        .send_txn(r.server.name.as_str(), txn, body, sign)
        .await
        .map_err(testnet_error)
}

/// Fails unless the answer `got` to `what` is `status` (with error `code`, when given).
pub(super) fn expect_status(
    what: &str,
    got: &(u16, Value),
    status: u16,
    code: Option<&str>,
) -> CaseResult {
    let code_ok = code.is_none_or(|c| got.1["error"].as_str() == Some(c));
    if got.0 != status || !code_ok {
        fail!(
            "{what}: expected {status} {}, got {} {}",
            code.unwrap_or(""),
            got.0,
            got.1
        );
    }
    Ok(())
}

/// An envelope from `key`/`from` to `to` at `ts_ms` with members changed by `change`, signed.
pub(super) fn envelope_with(
    key: &SigningKey,
    from: &Address,
    to: &Peer,
    ts_ms: u64,
    change: impl FnOnce(&mut Map<String, Value>),
) -> Value {
    let mut nonce = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let signed = Envelope::seal(
        key,
        from.clone(),
        to.address.clone(),
        &to.primary,
        ts_ms,
        nonce,
        b"{\"text\":\"r\"}",
    )
    // Invariant: a Primary is a valid point, so sealing to it cannot fail.
    .expect("sealing to a valid primary")
    .sign(key);
    let mut fields = match signed {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    fields.remove("signature");
    change(&mut fields);
    kez_spec::signed::sign(fields, key, None)
}

async fn accepted(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "hello from a peer");
    let id = message_id(&env);
    let answer = send(
        &r,
        &rogue,
        "t1",
        rogue.txn_body(std::slice::from_ref(&env)),
        Sign::Good,
    )
    .await?;
    expect_status("a good transaction", &answer, 200, None)?;
    check_eq!(
        answer.1,
        json!({"results": [{"id": id, "status": "accepted"}]}),
        "the results"
    );
    let messages = bob.messages(0).await?;
    check_eq!(crate::user::ids(&messages), vec![id], "the inbox");
    check_eq!(messages[0]["envelope"], env, "the stored envelope");
    Ok(())
}

async fn forged(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "forged");
    let answer = send(
        &r,
        &rogue,
        "f1",
        rogue.txn_body(&[env]),
        Sign::WithRandomKey,
    )
    .await?;
    expect_status(
        "a forged signature",
        &answer,
        401,
        Some("invalid_signature"),
    )?;
    check!(
        bob.messages(0).await?.is_empty(),
        "a refused transaction stored a message"
    );
    Ok(())
}

async fn expired_key(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new().expired_key()).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "expired");
    let answer = send(&r, &rogue, "e1", rogue.txn_body(&[env]), Sign::Good).await?;
    expect_status(
        "a key past its valid_until",
        &answer,
        401,
        Some("unknown_key"),
    )
}

async fn retired_key(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new().rotated()).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "retired");
    // Signed 2 s from now: unambiguously after the rotation (expired_at, milliseconds), even
    // when the rogue started within the current second.
    let after = Sign::OldKeyAt(now_s() + 2);
    let answer = send(
        &r,
        &rogue,
        "k1",
        rogue.txn_body(std::slice::from_ref(&env)),
        after,
    )
    .await?;
    expect_status(
        "a retired key used after its expired_at",
        &answer,
        401,
        Some("unknown_key"),
    )?;
    let answer = send(&r, &rogue, "k2", rogue.txn_body(&[env]), Sign::Good).await?;
    expect_status("the current key after a rotation", &answer, 200, None)
}

async fn misaddressed(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "misaddressed");
    let other = r
        .net
        .nodes()
        .map(|n| n.name().to_owned())
        .find(|n| n != r.server.name.as_str())
        .unwrap_or_else(|| "elsewhere.test".to_owned());
    let answer = send(
        &r,
        &rogue,
        "m1",
        rogue.txn_body(&[env]),
        Sign::For(other.clone()),
    )
    .await?;
    expect_status(
        &format!("a transaction for {other}"),
        &answer,
        401,
        Some("wrong_destination"),
    )?;
    check!(
        bob.messages(0).await?.is_empty(),
        "a misaddressed transaction stored a message"
    );
    Ok(())
}

async fn out_of_window(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let window = kez_spec::s2s::DEFAULT_SKEW_SECS;
    let mut inside = Vec::new();
    for (i, edge) in super::edges(window, window, 1).into_iter().enumerate() {
        let env = rogue.envelope("mallory", &bob.address, &bob.primary, &edge.what);
        let answer = send(
            &r,
            &rogue,
            &format!("w{i}"),
            rogue.txn_body(std::slice::from_ref(&env)),
            Sign::At(edge.ts()),
        )
        .await?;
        if edge.inside {
            expect_status(&edge.what, &answer, 200, None)?;
            inside.push(message_id(&env));
        } else {
            expect_status(&edge.what, &answer, 401, Some("stale_timestamp"))?;
        }
    }
    check_eq!(
        crate::user::ids(&bob.messages(0).await?),
        inside,
        "the inbox: the envelopes of the transactions inside the window only"
    );
    Ok(())
}

async fn replayed(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let first = rogue.envelope("mallory", &bob.address, &bob.primary, "first");
    let second = rogue.envelope("mallory", &bob.address, &bob.primary, "second");
    let answer = send(
        &r,
        &rogue,
        "same-id",
        rogue.txn_body(std::slice::from_ref(&first)),
        Sign::Good,
    )
    .await?;
    expect_status("the first transaction", &answer, 200, None)?;
    let again = send(
        &r,
        &rogue,
        "same-id",
        rogue.txn_body(std::slice::from_ref(&second)),
        Sign::Good,
    )
    .await?;
    expect_status("the same txn id with another body", &again, 200, None)?;
    check_eq!(
        again.1,
        answer.1,
        "the answer to a repeated txn id (the stored one)"
    );
    check_eq!(
        crate::user::ids(&bob.messages(0).await?),
        vec![message_id(&first)],
        "the inbox after the replay"
    );
    let fresh = send(
        &r,
        &rogue,
        "new-id",
        rogue.txn_body(std::slice::from_ref(&first)),
        Sign::Good,
    )
    .await?;
    check_eq!(
        fresh.1,
        json!({"results": [{"id": message_id(&first), "status": "duplicate"}]}),
        "the first envelope in a new transaction"
    );
    Ok(())
}

/// SPEC §9.4's default `max_txn_bytes`, for a server that publishes none.
const DEFAULT_MAX_TXN_BYTES: u64 = 8 * 1024 * 1024;

/// The largest `max_txn_bytes` this case sends a body of.
const MAX_PROBED_TXN_BYTES: u64 = 64 * 1024 * 1024;

async fn txn_body_limit(r: Rogue) -> CaseResult {
    let limit = r
        .server
        .limit("/max_txn_bytes")
        .unwrap_or(DEFAULT_MAX_TXN_BYTES);
    if limit > MAX_PROBED_TXN_BYTES {
        skip!("max_txn_bytes is {limit}: too large a body to send at its edge");
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "at the body limit");
    let body = rogue.txn_body(&[env]);
    // Whitespace after the opening brace is JSON's own: the body means the same at any size.
    let padded = |size: usize| {
        let mut out = Vec::with_capacity(size);
        out.push(b'{');
        out.resize(size.saturating_sub(body.len()) + 1, b' ');
        out.extend_from_slice(&body[1..]);
        out
    };
    let answer = send(&r, &rogue, "over", padded(limit + 1), Sign::Good).await?;
    expect_status(
        &format!("a body of {} bytes, one over max_txn_bytes", limit + 1),
        &answer,
        413,
        Some("payload_too_large"),
    )?;
    check!(
        bob.messages(0).await?.is_empty(),
        "a transaction body over max_txn_bytes stored its message"
    );
    let answer = send(&r, &rogue, "exact", padded(limit), Sign::Good).await?;
    expect_status(
        &format!("a body of exactly max_txn_bytes ({limit} bytes)"),
        &answer,
        200,
        None,
    )?;
    check_eq!(
        answer.1["results"][0]["status"],
        "accepted",
        "the envelope of a body of exactly max_txn_bytes ({})",
        answer.1
    );
    Ok(())
}

async fn oversized(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let max = r.server.limit("/max_txn_envelopes").unwrap_or(100);
    let count = usize::try_from(max).unwrap_or(100) + 1;
    let envelopes: Vec<Value> = (0..count)
        .map(|i| rogue.envelope("mallory", &bob.address, &bob.primary, &format!("n{i}")))
        .collect();
    let answer = send(&r, &rogue, "many", rogue.txn_body(&envelopes), Sign::Good).await?;
    expect_status(
        &format!("{count} envelopes"),
        &answer,
        413,
        Some("payload_too_large"),
    )?;
    check!(
        bob.messages(0).await?.is_empty(),
        "a refused transaction stored messages"
    );
    // Envelopes of exactly the limit and one byte over, in JCS bytes, next to a small one.
    let key = rogue.user("mallory");
    let from = rogue.address("mallory");
    let limit = kez_spec::envelope::MAX_BYTES;
    let exact = envelope_of_size(&key, &from, &bob.peer(), limit)?;
    let over = envelope_of_size(&key, &from, &bob.peer(), limit + 1)?;
    let small = rogue.envelope("mallory", &bob.address, &bob.primary, "small");
    let answer = send(
        &r,
        &rogue,
        "big",
        rogue.txn_body(&[over.clone(), exact.clone(), small.clone()]),
        Sign::Good,
    )
    .await?;
    expect_status("a transaction with big envelopes", &answer, 200, None)?;
    check_eq!(
        answer.1,
        json!({"results": [
            {"id": message_id(&over), "status": "rejected", "code": "payload_too_large"},
            {"id": message_id(&exact), "status": "accepted"},
            {"id": message_id(&small), "status": "accepted"},
        ]}),
        "the results for envelopes of limit + 1 bytes, exactly the limit, and small"
    );
    Ok(())
}

/// A signed envelope whose JCS is exactly `len` bytes: an unknown member (allowed and signed,
/// SPEC §6.1) pads it, its value ASCII so that JCS writes it byte for byte.
fn envelope_of_size(
    key: &SigningKey,
    from: &Address,
    to: &Peer,
    len: usize,
) -> Result<Value, Fail> {
    let ts = now_ms();
    let bare = envelope_with(key, from, to, ts, |f| {
        drop(f.insert("x-pad".into(), json!("")))
    });
    let pad = len
        .checked_sub(kez_spec::json::canonical(&bare).len())
        .ok_or_else(|| Fail::Fail(format!("an envelope cannot be as small as {len} bytes")))?;
    let padded = envelope_with(key, from, to, ts, |f| {
        drop(f.insert("x-pad".into(), json!("x".repeat(pad))))
    });
    let got = kez_spec::json::canonical(&padded).len();
    check_eq!(got, len, "the padded envelope's JCS length");
    Ok(padded)
}

async fn body_origin(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "origin");
    let body = kez_testnet::rogue::txn_body("someone-else.test", &[env]);
    let answer = send(&r, &rogue, "o1", body, Sign::Good).await?;
    expect_status(
        "a body origin other than the header's",
        &answer,
        400,
        Some("malformed_request"),
    )?;
    check!(
        bob.messages(0).await?.is_empty(),
        "a refused transaction stored a message"
    );
    Ok(())
}

async fn sender_not_of_origin(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let (alice, bob) = super::two_users(&r.server).await?;
    // The rogue claims to carry a message from alice, a user of the server under test.
    let forged = envelope_as(
        &random_key(),
        &alice.address,
        &bob.address,
        &bob.primary,
        "forged",
    );
    let answer = send(
        &r,
        &rogue,
        "s1",
        rogue.txn_body(std::slice::from_ref(&forged)),
        Sign::Good,
    )
    .await?;
    expect_status("the transaction", &answer, 200, None)?;
    check_eq!(
        answer.1,
        json!({"results": [{"id": message_id(&forged), "status": "rejected", "code": "sender_not_of_origin"}]}),
        "the result for a user of another server"
    );
    check!(
        bob.messages(0).await?.is_empty(),
        "a forged envelope was stored"
    );
    Ok(())
}

async fn envelope_checks(r: Rogue) -> CaseResult {
    let rogue = r.start(RogueOptions::new()).await?;
    let bob = recipient(&r).await?;
    let to = bob.peer();
    let key = rogue.user("mallory");
    let from = rogue.address("mallory");
    let nobody = User::generate(&r.server).peer();
    let elements: Vec<(Value, Value)> = {
        let malformed = json!("not an envelope");
        let v2 = envelope_with(&key, &from, &to, now_ms(), |f| {
            drop(f.insert("v".into(), json!(2)))
        });
        let bad_nonce = envelope_with(&key, &from, &to, now_ms(), |f| {
            drop(f.insert("nonce".into(), json!("00")))
        });
        let ghost = envelope_as(
            &random_key(),
            &rogue.address("ghost"),
            &bob.address,
            &bob.primary,
            "ghost",
        );
        let tampered = tamper(&rogue.envelope("mallory", &bob.address, &bob.primary, "tampered"));
        let to_nobody = envelope_with(&key, &from, &nobody, now_ms(), |_| {});
        let old = envelope_with(&key, &from, &to, now_ms() - 8 * 24 * 3_600_000, |_| {});
        let ahead = envelope_with(&key, &from, &to, now_ms() + 600_000, |_| {});
        let week_old = envelope_with(&key, &from, &to, now_ms() - 6 * 24 * 3_600_000, |_| {});
        let good = rogue.envelope("mallory", &bob.address, &bob.primary, "good");
        let rejected = |env: &Value, code: &str| json!({"id": message_id(env), "status": "rejected", "code": code});
        vec![
            (malformed.clone(), rejected(&malformed, "malformed_request")),
            (v2.clone(), rejected(&v2, "unsupported_version")),
            (bad_nonce.clone(), rejected(&bad_nonce, "malformed_request")),
            (ghost.clone(), rejected(&ghost, "unknown_sender")),
            (tampered.clone(), rejected(&tampered, "invalid_signature")),
            (to_nobody.clone(), rejected(&to_nobody, "unknown_recipient")),
            (old.clone(), rejected(&old, "stale_timestamp")),
            (ahead.clone(), rejected(&ahead, "stale_timestamp")),
            (
                week_old.clone(),
                json!({"id": message_id(&week_old), "status": "accepted"}),
            ),
            (
                good.clone(),
                json!({"id": message_id(&good), "status": "accepted"}),
            ),
        ]
    };
    let envelopes: Vec<Value> = elements.iter().map(|(e, _)| e.clone()).collect();
    let expected: Vec<Value> = elements.into_iter().map(|(_, r)| r).collect();
    let answer = send(&r, &rogue, "c1", rogue.txn_body(&envelopes), Sign::Good).await?;
    expect_status("the transaction", &answer, 200, None)?;
    let results = answer.1["results"].as_array().cloned().unwrap_or_default();
    check_eq!(
        results.len(),
        expected.len(),
        "one result per envelope: {}",
        answer.1
    );
    for (i, (got, want)) in results.iter().zip(&expected).enumerate() {
        check_eq!(got, want, "result {i}");
    }
    check_eq!(bob.messages(0).await?.len(), 2, "messages stored");
    Ok(())
}

async fn origin_blocked(r: Rogue) -> CaseResult {
    let rogue = r.start_blocked().await?;
    let bob = recipient(&r).await?;
    let env = rogue.envelope("mallory", &bob.address, &bob.primary, "blocked");
    let answer = send(&r, &rogue, "b1", rogue.txn_body(&[env]), Sign::Good).await?;
    expect_status(
        &format!("a transaction from the blocked {}", rogue.name()),
        &answer,
        403,
        Some("origin_blocked"),
    )?;
    check!(
        bob.messages(0).await?.is_empty(),
        "a blocked origin's message was stored"
    );
    Ok(())
}

async fn rate_limited(r: Rogue) -> CaseResult {
    // Mallory is a stranger to bob (he never wrote to her): the strangers' budget (§11).
    let Some(limit) = r.server.limit("/rate/recipient_strangers_per_minute") else {
        fail!("the server publishes no recipient_strangers_per_minute");
    };
    if limit > 100 {
        skip!("recipient_strangers_per_minute is {limit}: too many messages to provoke it cheaply");
    }
    let rogue = r.start(RogueOptions::new()).await?;
    let (bob, carol) = super::two_users(&r.server).await?;
    let limit = usize::try_from(limit).unwrap_or(100);
    let mut envelopes: Vec<Value> = (0..=limit)
        .map(|i| rogue.envelope("mallory", &bob.address, &bob.primary, &format!("n{i}")))
        .collect();
    // After the deferral, one to a recipient with room left: deferred anyway (order, §9.4).
    envelopes.push(rogue.envelope("mallory", &carol.address, &carol.primary, "carol"));
    // Another sender of the same origin is not held back by mallory's deferral.
    let other = rogue.envelope("trudy", &carol.address, &carol.primary, "trudy");
    envelopes.push(other.clone());
    let answer = send(&r, &rogue, "rl", rogue.txn_body(&envelopes), Sign::Good).await?;
    expect_status("the transaction", &answer, 200, None)?;
    let results = answer.1["results"].as_array().cloned().unwrap_or_default();
    check_eq!(results.len(), envelopes.len(), "one result per envelope");
    for (i, result) in results.iter().enumerate().take(limit) {
        check_eq!(
            result["status"],
            json!("accepted"),
            "result {i} (within the limit)"
        );
    }
    for (i, result) in results.iter().enumerate().skip(limit).take(2) {
        check_eq!(result["status"], json!("deferred"), "result {i}: {result}");
        check_eq!(result["code"], json!("rate_limited"), "result {i}'s code");
        check!(
            result["retry_after"].as_u64().is_some_and(|s| s > 0),
            "result {i} needs a positive retry_after: {result}"
        );
    }
    check_eq!(
        results[limit + 2],
        json!({"id": message_id(&other), "status": "accepted"}),
        "another sender's envelope"
    );
    Ok(())
}
