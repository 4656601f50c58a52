//! SPEC §8.1–§8.4 and §8.7: sending (every check of §8.1's table, their order, the answers for
//! stored, queued and duplicate messages), polling with cursors and limits (§8.2), sequence
//! numbers without gaps, acknowledging (§8.3), retention's published policy (§8.4), and the
//! message-id memory that keeps resends idempotent after deletion (§8.7).

use kez_spec::api::send::SendRequest;
use serde_json::{Value, json};

use super::{expect_code, two_users};
use crate::case::{Case, CaseResult, Fail, Single};
use crate::user::{User, ids, json_bytes, message_id, now_ms, random_key, seqs};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s8.send.stored",
            &["§8.1", "§8.2", "§6.4"],
            "a send to a local recipient is 201 {id, seq, status: stored} with id = SHA-256 of \
             the envelope's JCS, and the message is in the inbox for the next poll",
            |s| Box::pin(send_stored(s)),
        ),
        Case::single(
            "s8.send.to_rule",
            &["§8.1"],
            "the body's to may be the address or, for a local recipient, the handle; any other \
             value is 400 malformed_request",
            |s| Box::pin(send_to_rule(s)),
        ),
        Case::single(
            "s8.send.duplicate",
            &["§8.1", "§8.7"],
            "a resend is 200 with the same id and seq, status stored and duplicate: true, and \
             the inbox holds one copy",
            |s| Box::pin(send_duplicate(s)),
        ),
        Case::single(
            "s8.send.checks",
            &["§8.1"],
            "wrong_server, unknown_sender (unregistered or other primary), invalid_signature, \
             stale_timestamp (302 s old or ahead; 298 s is accepted) and unknown_recipient, \
             each with its status",
            |s| Box::pin(send_checks(s)),
        ),
        Case::single(
            "s8.send.order",
            &["§8.1"],
            "an envelope failing several checks gets the code of the first, in §8.1's order (an \
             unknown sender is unknown_sender whatever its signature member)",
            |s| Box::pin(send_order(s)),
        ),
        Case::single(
            "s8.poll.paging",
            &["§8.2", "§11"],
            "seqs start at 1 without gaps; since and limit page through the inbox; next_since \
             is the last seq returned (or since); a limit above the page maximum is capped",
            |s| Box::pin(poll_paging(s)),
        ),
        Case::single(
            "s8.poll.params",
            &["§8.2", "§7.1"],
            "a since or limit that is not a non-negative decimal, a limit of 0, or a value \
             above 2^53-1 is 400 malformed_request, before the credential is looked at",
            |s| Box::pin(poll_params(s)),
        ),
        Case::single(
            "s8.ack.deletes",
            &["§8.3", "§8.4"],
            "ack through n deletes exactly the messages with seq ≤ n, answers {deleted}, and is \
             idempotent; unacknowledged messages stay",
            |s| Box::pin(ack_deletes(s)),
        ),
        Case::single(
            "s8.ack.body",
            &["§8.3", "§1"],
            "through must be an integer in 0…2^53-1 (400 malformed_request otherwise); unknown \
             members of the unsigned body are ignored",
            |s| Box::pin(ack_body(s)),
        ),
        Case::single(
            "s8.memory.after_ack",
            &["§8.7", "§8.1"],
            "after a message is acknowledged, resending it is still 200 duplicate with its seq, \
             and it is not stored again",
            |s| Box::pin(memory_after_ack(s)),
        ),
    ]
}

async fn send_stored(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let env = alice.envelope(&bob.peer(), "hello");
    let id = message_id(&env);
    let answer = alice.send(&env).await?.expect_json(201)?;
    check_eq!(
        answer,
        json!({"id": id, "seq": 1, "status": "stored"}),
        "the send answer"
    );
    let page = bob.poll(None, None).await?.expect_json(200)?;
    let items = page["messages"].as_array().cloned().unwrap_or_default();
    check_eq!(items.len(), 1, "messages in the inbox");
    let item = &items[0];
    let mut keys: Vec<&str> = item
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    check_eq!(
        keys,
        vec!["envelope", "id", "received_at", "seq"],
        "inbox item members"
    );
    check_eq!(item["seq"], json!(1), "seq");
    check_eq!(item["id"], json!(id), "id");
    check_eq!(item["envelope"], env, "envelope");
    let received = item["received_at"].as_u64().unwrap_or(0);
    check!(
        received + 60_000 > now_ms() && received < now_ms() + 60_000,
        "received_at must be the storage time in ms, got {received}"
    );
    check_eq!(page["next_since"], json!(1), "next_since");
    Ok(())
}

async fn send_to_rule(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let env = alice.envelope(&bob.peer(), "to");
    let body = SendRequest {
        to: bob.handle.to_string(),
        envelope: &env,
    };
    alice.send_raw(json_bytes(&body)).await?.expect(201)?;
    let carol = User::registered(&s.server).await?;
    let env = alice.envelope(&bob.peer(), "to2");
    for to in [
        json!(carol.address.to_string()),
        json!(carol.handle.as_str()),
        json!(format!("{}@other.example", bob.handle)),
        json!(bob.address.to_string().to_uppercase()),
    ] {
        let body = json!({"to": to, "envelope": env});
        expect_code(
            alice.send_raw(json_bytes(&body)).await?,
            400,
            "malformed_request",
            &format!("to {to}"),
        )?;
    }
    Ok(())
}

async fn send_duplicate(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let (_, first_env) = alice.send_ok(&bob.peer(), "first").await?;
    let env = alice.envelope(&bob.peer(), "dup");
    let id = message_id(&env);
    let first = alice.send(&env).await?.expect_json(201)?;
    check_eq!(first["seq"], json!(2), "the first send's seq");
    let again = alice.send(&env).await?.expect_json(200)?;
    check_eq!(
        again,
        json!({"id": id, "seq": 2, "status": "stored", "duplicate": true}),
        "the resend's answer"
    );
    // The same envelope in another JSON form is the same message.
    let pretty = serde_json::to_vec_pretty(&json!({"to": env["to"], "envelope": env}))
        .map_err(|e| Fail::Fail(e.to_string()))?;
    alice.send_raw(pretty).await?.expect(200)?;
    check_eq!(
        ids(&bob.messages(0).await?),
        vec![message_id(&first_env), id],
        "the inbox"
    );
    Ok(())
}

async fn send_checks(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    // wrong_server: a sender on another server.
    let mut f = alice.envelope_fields(&bob.peer(), "ws");
    f.insert(
        "from".into(),
        json!(format!("{}@other.example", alice.handle)),
    );
    expect_code(
        alice.send(&alice.sign(f)).await?,
        400,
        "wrong_server",
        "from another server",
    )?;
    // unknown_sender: not registered; registered with another primary.
    let stranger = User::generate(&s.server);
    let env = stranger.envelope(&bob.peer(), "us");
    expect_code(
        stranger.send(&env).await?,
        403,
        "unknown_sender",
        "an unregistered sender",
    )?;
    let mut impostor = stranger.clone();
    impostor.handle = alice.handle.clone();
    impostor.address = alice.address.clone();
    let env = impostor.envelope(&bob.peer(), "imp");
    expect_code(
        impostor.send(&env).await?,
        403,
        "unknown_sender",
        "a registered handle with another primary",
    )?;
    // invalid_signature: signed by another key under the sender's primary.
    let f = alice.envelope_fields(&bob.peer(), "sig");
    let forged = kez_spec::signed::sign(f, &random_key(), None);
    expect_code(
        alice.send(&forged).await?,
        400,
        "invalid_signature",
        "signed by another key",
    )?;
    let mut tampered = alice.envelope(&bob.peer(), "tamper");
    tampered["ts"] = json!(tampered["ts"].as_u64().unwrap_or(0) + 1);
    expect_code(
        alice.send(&tampered).await?,
        400,
        "invalid_signature",
        "ts changed after signing",
    )?;
    // stale_timestamp: 2 s inside and outside each edge of the window.
    let window = kez_spec::envelope::DEFAULT_SKEW_MS;
    for edge in super::edges(window, window, 1000) {
        let env = alice.sign(alice.envelope_fields_at(&bob.peer(), &edge.what, edge.ts()));
        let resp = alice.send(&env).await?;
        if edge.inside {
            resp.expect(201)
                .map_err(|e| Fail::Fail(format!("a send {}: {e}", edge.what)))?;
        } else {
            expect_code(resp, 400, "stale_timestamp", &edge.what)?;
        }
    }
    // unknown_recipient.
    let nobody = User::generate(&s.server);
    let env = alice.envelope(&nobody.peer(), "ur");
    expect_code(
        alice.send(&env).await?,
        404,
        "unknown_recipient",
        "an unregistered recipient",
    )?;
    check_eq!(
        bob.messages(0).await?.len(),
        2,
        "messages stored by the refused sends and the two inside the window"
    );
    Ok(())
}

async fn send_order(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let other = random_key();
    let bad_sig = |f: serde_json::Map<String, Value>| kez_spec::signed::sign(f, &other, None);
    let stale = now_ms() - 3_600_000;
    let mut f = alice.envelope_fields(&bob.peer(), "1");
    f.insert("v".into(), json!(2));
    f.insert(
        "from".into(),
        json!(format!("{}@other.example", alice.handle)),
    );
    expect_code(
        alice.send(&bad_sig(f)).await?,
        400,
        "unsupported_version",
        "version + wrong server",
    )?;
    let mut f = alice.envelope_fields(&bob.peer(), "2");
    f.insert(
        "from".into(),
        json!(format!("{}@other.example", alice.handle)),
    );
    expect_code(
        alice.send(&bad_sig(f)).await?,
        400,
        "wrong_server",
        "wrong server + signature",
    )?;
    let stranger = User::generate(&s.server);
    let f = stranger.envelope_fields_at(&bob.peer(), "3", stale);
    expect_code(
        stranger.send(&bad_sig(f)).await?,
        403,
        "unknown_sender",
        "unknown sender + signature + stale",
    )?;
    // Check 6 before check 7: an unknown sender is told so whatever its signature looks like.
    for (what, signature) in [
        ("malformed", Some(json!({"alg": "ed25519", "sig": "zz"}))),
        (
            "unsupported alg",
            Some(json!({"alg": "schnorr", "sig": "00"})),
        ),
        ("not an object", Some(json!("x"))),
        ("missing", None),
    ] {
        let mut f = stranger.envelope_fields(&bob.peer(), what);
        if let Some(signature) = signature {
            f.insert("signature".into(), signature);
        }
        expect_code(
            stranger.send(&Value::Object(f)).await?,
            403,
            "unknown_sender",
            &format!("unknown sender + {what} signature"),
        )?;
    }
    let mut f = alice.envelope_fields_at(&bob.peer(), "4", stale);
    f.insert("signature".into(), json!("x"));
    let mut env = Value::Object(f);
    expect_code(
        alice.send(&env).await?,
        400,
        "malformed_signature",
        "signature shape + stale",
    )?;
    env = bad_sig(alice.envelope_fields_at(&bob.peer(), "5", stale));
    expect_code(
        alice.send(&env).await?,
        400,
        "invalid_signature",
        "signature + stale",
    )?;
    let nobody = User::generate(&s.server);
    let env = alice.sign(alice.envelope_fields_at(&nobody.peer(), "6", stale));
    expect_code(
        alice.send(&env).await?,
        400,
        "stale_timestamp",
        "stale + unknown recipient",
    )?;
    Ok(())
}

async fn poll_paging(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let mut sent = Vec::new();
    for i in 0..4 {
        let (answer, env) = alice.send_ok(&bob.peer(), &format!("m{i}")).await?;
        check_eq!(answer["seq"], json!(i + 1), "the seq of send {}", i + 1);
        sent.push(message_id(&env));
    }
    let page = bob.poll(Some(0), Some(3)).await?.expect_json(200)?;
    let items = page["messages"].as_array().cloned().unwrap_or_default();
    check_eq!(seqs(&items), vec![1, 2, 3], "since=0&limit=3");
    check_eq!(ids(&items), sent[..3].to_vec(), "ids in order");
    check_eq!(
        page["next_since"],
        json!(3),
        "next_since after since=0&limit=3"
    );
    let page = bob.poll(Some(3), Some(3)).await?.expect_json(200)?;
    check_eq!(
        seqs(page["messages"].as_array().map_or(&[][..], |v| v)),
        vec![4],
        "since=3"
    );
    check_eq!(page["next_since"], json!(4), "next_since after since=3");
    let page = bob.poll(Some(4), None).await?.expect_json(200)?;
    check_eq!(page["messages"], json!([]), "since=4");
    check_eq!(page["next_since"], json!(4), "next_since of an empty page");
    let page = bob.poll(Some(100), None).await?.expect_json(200)?;
    check_eq!(
        page["next_since"],
        json!(100),
        "next_since beyond the last seq"
    );
    // A limit above the published maximum is capped, not refused.
    let big = s.server.limit("/inbox_page_max").unwrap_or(500) + 1;
    let page = bob.poll(Some(0), Some(big)).await?.expect_json(200)?;
    check_eq!(
        seqs(page["messages"].as_array().map_or(&[][..], |v| v)),
        vec![1, 2, 3, 4],
        "limit above the maximum"
    );
    let page = bob
        .poll(Some(0), Some(9_007_199_254_740_991))
        .await?
        .expect_json(200)?;
    check_eq!(
        page["messages"].as_array().map(Vec::len),
        Some(4),
        "limit 2^53-1"
    );
    Ok(())
}

async fn poll_params(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let bad_cred = Some("1:00");
    for query in [
        "?since=-1",
        "?since=abc",
        "?since=1.5",
        "?since=",
        "?since=9007199254740992",
        "?limit=0",
        "?limit=-5",
        "?limit=x",
        "?limit=9007199254740992",
        "?since=1&since=2",
    ] {
        expect_code(
            user.poll_with(query, bad_cred).await?,
            400,
            "malformed_request",
            query,
        )?;
    }
    Ok(())
}

async fn ack_deletes(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    for i in 0..3 {
        alice.send_ok(&bob.peer(), &format!("a{i}")).await?;
    }
    check_eq!(
        bob.ack(2).await?.expect_json(200)?,
        json!({"deleted": 2}),
        "ack through 2"
    );
    check_eq!(
        seqs(&bob.messages(0).await?),
        vec![3],
        "the inbox after ack through 2"
    );
    check_eq!(
        bob.ack(2).await?.expect_json(200)?,
        json!({"deleted": 0}),
        "ack through 2 again"
    );
    check_eq!(
        bob.ack(0).await?.expect_json(200)?,
        json!({"deleted": 0}),
        "ack through 0"
    );
    // Seqs are never reused after deletion.
    let (answer, _) = alice.send_ok(&bob.peer(), "after").await?;
    check_eq!(answer["seq"], json!(4), "the seq after deletion");
    check_eq!(seqs(&bob.messages(0).await?), vec![3, 4], "the inbox");
    check_eq!(
        bob.ack(100).await?.expect_json(200)?,
        json!({"deleted": 2}),
        "ack beyond the last seq"
    );
    check_eq!(
        bob.messages(0).await?,
        Vec::<Value>::new(),
        "the inbox after acking all"
    );
    Ok(())
}

async fn ack_body(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    alice.send_ok(&bob.peer(), "x").await?;
    for body in [
        "{\"through\":-1}",
        "{\"through\":\"1\"}",
        "{\"through\":1.5}",
        "{\"through\":9007199254740992}",
        "{\"through\":null}",
        "[1]",
        "{\"through\":1,\"through\":1}",
    ] {
        let code = if body.contains("\"through\":1,") {
            "duplicate_member"
        } else {
            "malformed_request"
        };
        expect_code(
            bob.ack_with(body.as_bytes().to_vec(), None).await?,
            400,
            code,
            body,
        )?;
    }
    // §1: unknown members of an unsigned object are ignored.
    let cred = bob.credential(kez_spec::auth::AuthRequest::Ack {
        handle: &bob.handle,
        through: 1,
    });
    let answer = bob
        .ack_with(b"{\"through\":1,\"x-client\":\"v2\"}".to_vec(), Some(&cred))
        .await?
        .expect_json(200)?;
    check_eq!(answer, json!({"deleted": 1}), "ack with an unknown member");
    Ok(())
}

async fn memory_after_ack(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let env = alice.envelope(&bob.peer(), "remember");
    let first = alice.send(&env).await?.expect_json(201)?;
    bob.ack(1).await?.expect(200)?;
    let again = alice.send(&env).await?.expect_json(200)?;
    check_eq!(
        again,
        json!({"id": first["id"], "seq": first["seq"], "status": "stored", "duplicate": true}),
        "the resend after acknowledgement"
    );
    check_eq!(
        bob.messages(0).await?,
        Vec::<Value>::new(),
        "the inbox after the resend"
    );
    Ok(())
}
