//! Sending, polling and acknowledging over real HTTP (SPEC §6.5, §7.2, §7.5, §8.1–§8.3, §8.7,
//! §11): envelopes are sealed and signed by kez-spec, and the recipient opens what it polls.

use crate::common;

use common::kez::{
    Api, LIVENESS, SERVER, User, expect_error, message_id, now_ms, now_secs, send_body, start,
};
use kez_spec::{Address, SigningKey};
use serde_json::{Value, json};

/// Six minutes: outside the ±300 s envelope window of SPEC §8.1 check 9.
const SIX_MINUTES_MS: u64 = 6 * 60 * 1000;

/// The body limit of `POST /v1/messages` (SPEC §6.5).
const MAX_BODY: usize = 262_144;

/// A server with alice and bob registered.
async fn alice_and_bob(
    edit: impl FnOnce(&mut kezd::config::RawConfig),
) -> (common::TestServer, Api, User, User) {
    let server = start(edit).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    (server, api, alice, bob)
}

/// The seqs of a list of poll items.
fn seqs(items: &[Value]) -> Vec<u64> {
    items
        .iter()
        .map(|item| item["seq"].as_u64().expect("seq"))
        .collect()
}

/// SPEC §8.1, §8.2, §6.6: a local send is 201 `{id, seq, status: "stored"}`; the recipient
/// polls it with its credential, gets the envelope unchanged, verifies and opens it.
#[tokio::test]
async fn send_and_poll_round_trip() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let envelope = alice.envelope(&bob, now_ms(), "hello bob");
    let id = message_id(&envelope);
    let before = now_ms();
    let answer = api.send_ok(&envelope).await;
    assert_eq!(answer, json!({"id": id, "seq": 1, "status": "stored"}));

    let page = api.poll(&bob, 0).await;
    assert_eq!(page["next_since"], 1);
    let messages = page["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1);
    let item = &messages[0];
    assert_eq!(item.as_object().map(|o| o.len()), Some(4), "{item}");
    assert_eq!(item["seq"], 1);
    assert_eq!(item["id"], id);
    let received_at = item["received_at"].as_u64().expect("received_at");
    assert!(received_at >= before && received_at <= now_ms());
    assert_eq!(item["envelope"], envelope, "served as sent");
    assert_eq!(message_id(&item["envelope"]), id, "same JCS bytes, same id");
    assert_eq!(bob.open(&item["envelope"]), "hello bob");

    // `to` may be the bare handle for a local recipient (SPEC §8.1).
    let second = alice.envelope(&bob, now_ms(), "second");
    let body = json!({"to": "bob", "envelope": second});
    let response = api.post_json("/v1/messages", &body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.json::<Value>().await.expect("answer")["seq"], 2);

    // The cursor moves past what was read; an empty page keeps it (SPEC §8.2).
    let rest = api.poll(&bob, 1).await;
    assert_eq!(seqs(rest["messages"].as_array().expect("messages")), [2]);
    let empty = api.poll(&bob, 2).await;
    assert_eq!(empty, json!({"messages": [], "next_since": 2}));
    let credential = bob.poll_credential(0, now_secs());
    let limited = api
        .poll_raw("bob", "?since=0&limit=1", Some(&credential))
        .await;
    let limited: Value = limited.json().await.expect("page");
    assert_eq!(seqs(limited["messages"].as_array().expect("messages")), [1]);
    assert_eq!(limited["next_since"], 1);
}

/// SPEC §8.1 checks 3, 5, 6, 8, 9 and 10: each refusal has its status and code, in order,
/// and nothing reaches the inbox.
#[tokio::test]
async fn send_refusals() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;

    let mut forged = alice.envelope(&bob, now_ms(), "forged");
    let sig = forged["signature"]["sig"].as_str().expect("sig").to_owned();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    forged["signature"]["sig"] = format!("{flipped}{}", &sig[1..]).into();

    let mut altered = alice.envelope(&bob, now_ms(), "altered");
    altered["ts"] = (altered["ts"].as_u64().expect("ts") - 1).into();

    let unregistered = User::new("carol", 3).envelope(&bob, now_ms(), "who am I");
    // alice's handle, signed by a key that is not alice's registered primary.
    let wrong_key = User::new("alice", 4).envelope(&bob, now_ms(), "impostor");
    let elsewhere = Address::parse("alice@other.example").expect("valid");
    let from_elsewhere = {
        let stranger = User {
            handle: alice.handle.clone(),
            key: SigningKey::from_bytes(&alice.key.to_bytes()),
            server: elsewhere.server().clone(),
        };
        stranger.envelope(&bob, now_ms(), "not from here")
    };
    let dave = Address::parse(&format!("dave@{SERVER}")).expect("valid");
    let to_nobody = alice.envelope_to(&dave, &bob.primary(), now_ms(), "anyone?");

    let cases = [
        ("forged signature", forged, 400, "invalid_signature"),
        ("altered after signing", altered, 400, "invalid_signature"),
        ("sender not registered", unregistered, 403, "unknown_sender"),
        ("sender's primary differs", wrong_key, 403, "unknown_sender"),
        (
            "sender of another server",
            from_elsewhere,
            400,
            "wrong_server",
        ),
        (
            "six minutes old",
            alice.envelope(&bob, now_ms() - SIX_MINUTES_MS, "old"),
            400,
            "stale_timestamp",
        ),
        (
            "six minutes ahead",
            alice.envelope(&bob, now_ms() + SIX_MINUTES_MS, "early"),
            400,
            "stale_timestamp",
        ),
        ("unknown recipient", to_nobody, 404, "unknown_recipient"),
    ];
    for (case, envelope, status, code) in cases {
        let response = api.send(&envelope).await;
        assert_eq!(response.status(), status, "{case}");
        let body: Value = response.json().await.expect("error body");
        assert_eq!(body["error"], code, "{case}: {body}");
    }

    // `to` must name the envelope's recipient (SPEC §8.1).
    let envelope = alice.envelope(&bob, now_ms(), "misdirected");
    let body = json!({"to": "alice", "envelope": envelope});
    expect_error(
        api.post_json("/v1/messages", &body).await,
        400,
        "malformed_request",
    )
    .await;
    assert!(api.poll_all(&bob).await.is_empty(), "nothing was stored");
}

/// SPEC §8.1, §8.7: the same envelope sent twice is answered 200 with `duplicate: true`, the
/// same id and seq, and is stored once; the next message still gets the next seq.
#[tokio::test]
async fn resend_is_a_duplicate_stored_once() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let envelope = alice.envelope(&bob, now_ms(), "once");
    let first = api.send_ok(&envelope).await;
    let again = api.send(&envelope).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.expect("answer"),
        json!({"id": first["id"], "seq": first["seq"], "status": "stored", "duplicate": true})
    );
    let inbox = api.poll_all(&bob).await;
    assert_eq!(seqs(&inbox), [1]);
    let next = api.send_ok(&alice.envelope(&bob, now_ms(), "next")).await;
    assert_eq!(next["seq"], 2);
}

/// SPEC §8.7: the server remembers accepted ids after acknowledgement deleted the message, so
/// a resend is still a duplicate and does not reappear in the inbox.
#[tokio::test]
async fn resend_after_ack_is_still_a_duplicate() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let envelope = alice.envelope(&bob, now_ms(), "read and deleted");
    let first = api.send_ok(&envelope).await;
    assert_eq!(api.ack(&bob, 1).await, 1);
    let again = api.send(&envelope).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.expect("answer");
    assert_eq!(again["duplicate"], true);
    assert_eq!((&again["id"], &again["seq"]), (&first["id"], &first["seq"]));
    assert!(api.poll_all(&bob).await.is_empty(), "not stored again");
}

/// SPEC §8.7, §8.4: retention may delete a message, but its id is remembered while the
/// envelope could still be accepted, so a resend within the window is still a duplicate and
/// the recipient does not get the message twice.
#[tokio::test]
async fn resend_after_retention_is_still_a_duplicate() {
    let (_server, api, alice, bob) = alice_and_bob(|raw| {
        raw.retention.max_age_secs = 1;
        raw.retention.sweep_interval_secs = 1;
    })
    .await;
    let envelope = alice.envelope(&bob, now_ms(), "expires soon");
    let first = api.send_ok(&envelope).await;
    // Retention runs on the server's own timer: there is no event to await from outside, so
    // look until the sweep has removed the message.
    let deadline = tokio::time::Instant::now() + LIVENESS;
    while !api.poll_all(&bob).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let again = api.send(&envelope).await;
    assert_eq!(
        again.status(),
        200,
        "the envelope is still within its window"
    );
    let again: Value = again.json().await.expect("answer");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["seq"], first["seq"]);
    assert!(api.poll_all(&bob).await.is_empty(), "not delivered twice");
}

/// SPEC §8.1: a duplicate is answered "without further checks, rate-limit accounting or
/// storage", so resends (client retries) never use up the sender's quota.
#[tokio::test]
async fn duplicates_do_not_count_against_the_rate_limit() {
    let (_server, api, alice, bob) = alice_and_bob(|raw| raw.rate.sender_per_minute = 2).await;
    let first = alice.envelope(&bob, now_ms(), "one");
    api.send_ok(&first).await;
    for _ in 0..3 {
        assert_eq!(api.send(&first).await.status(), 200, "a retry");
    }
    api.send_ok(&alice.envelope(&bob, now_ms(), "two")).await;
    let third = api.send(&alice.envelope(&bob, now_ms(), "three")).await;
    expect_error(third, 429, "rate_limited").await;
    // Even at the limit, a resend is answered as the duplicate it is.
    assert_eq!(api.send(&first).await.status(), 200);
}

/// SPEC §8.1 check 11, §11, §10: a sender over its quota gets 429 `rate_limited` with a
/// `Retry-After` in whole seconds; other senders are unaffected.
#[tokio::test]
async fn sender_flood_is_rate_limited_with_retry_after() {
    let (_server, api, alice, bob) = alice_and_bob(|raw| raw.rate.sender_per_minute = 3).await;
    for n in 0..3 {
        api.send_ok(&alice.envelope(&bob, now_ms(), &format!("{n}")))
            .await;
    }
    let refused = api
        .send(&alice.envelope(&bob, now_ms(), "one too many"))
        .await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    expect_error(refused, 429, "rate_limited").await;
    // The quota is per sender.
    api.send_ok(&bob.envelope(&alice, now_ms(), "reply")).await;
    assert_eq!(
        api.poll_all(&bob).await.len(),
        3,
        "the refused send was not stored"
    );
}

/// SPEC §11: messages per recipient from its contacts are limited too, whichever contact
/// sends them (strangers have a budget of their own: api_first_contacts.rs).
#[tokio::test]
async fn recipient_flood_is_rate_limited() {
    let (_server, api, alice, bob) = alice_and_bob(|raw| raw.rate.recipient_per_minute = 2).await;
    let carol = User::new("carol", 3);
    api.register_ok(&carol).await;
    api.send_ok(&bob.envelope(&alice, now_ms(), "to alice"))
        .await;
    api.send_ok(&bob.envelope(&carol, now_ms(), "to carol"))
        .await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "a")).await;
    api.send_ok(&carol.envelope(&bob, now_ms(), "c")).await;
    let refused = api.send(&carol.envelope(&bob, now_ms(), "c2")).await;
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(refused, 429, "rate_limited").await;
}

/// SPEC §6.5, §8.1 check 1: a body one byte over 262,144 is 413 `payload_too_large` and
/// stores nothing; a body of exactly 262,144 bytes is accepted.
#[tokio::test]
async fn body_limit_is_exact() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let envelope = alice.envelope(&bob, now_ms(), "padded");
    // Unknown members of the unsigned send body are ignored (SPEC §1): pad with one.
    let body_with = |pad: usize| {
        let mut body = send_body(&envelope);
        body["pad"] = "x".repeat(pad).into();
        serde_json::to_vec(&body).expect("serialises")
    };
    let pad = MAX_BODY - body_with(0).len();
    let exact = body_with(pad);
    let over = body_with(pad + 1);
    assert_eq!((exact.len(), over.len()), (MAX_BODY, MAX_BODY + 1));

    let post = |bytes: Vec<u8>| {
        api.http
            .post(api.url("/v1/messages"))
            .header("content-type", "application/json")
            .body(bytes)
            .send()
    };
    expect_error(post(over).await.expect("request"), 413, "payload_too_large").await;
    assert!(api.poll_all(&bob).await.is_empty());
    let accepted = post(exact).await.expect("request");
    assert_eq!(accepted.status(), 201);
    assert_eq!(api.poll_all(&bob).await.len(), 1);
}

/// SPEC §8.3, §8.2: an acknowledgement deletes exactly the messages through its seq and says
/// how many; repeating it deletes nothing more; seqs are never reused afterwards.
#[tokio::test]
async fn ack_deletes_through_the_seq() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    for n in 1..=5 {
        api.send_ok(&alice.envelope(&bob, now_ms(), &format!("m{n}")))
            .await;
    }
    assert_eq!(api.ack(&bob, 3).await, 3);
    let rest = api.poll_all(&bob).await;
    assert_eq!(seqs(&rest), [4, 5]);
    assert_eq!(bob.open(&rest[0]["envelope"]), "m4");
    assert_eq!(api.ack(&bob, 3).await, 0, "idempotent");
    assert_eq!(api.ack(&bob, 0).await, 0);
    assert_eq!(api.ack(&bob, 10).await, 2);
    assert!(api.poll_all(&bob).await.is_empty());
    let next = api.send_ok(&alice.envelope(&bob, now_ms(), "m6")).await;
    assert_eq!(next["seq"], 6, "seqs are never reused");
    // Another inbox is untouched by bob's acknowledgements.
    api.send_ok(&bob.envelope(&alice, now_ms(), "to alice"))
        .await;
    assert_eq!(api.ack(&bob, 100).await, 1);
    assert_eq!(api.poll_all(&alice).await.len(), 1);
}

/// SPEC §8.3, §1: the body `{"through": <n>}` is checked before the credential (400 whatever
/// the credential); members this version does not define are ignored.
#[tokio::test]
async fn ack_body_errors() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "m1")).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "m2")).await;
    let cases = [
        ("not json", "malformed_request"),
        ("{}", "malformed_request"),
        ("[1]", "malformed_request"),
        (r#"{"through":"1"}"#, "malformed_request"),
        (r#"{"through":-1}"#, "malformed_request"),
        (r#"{"through":1.5}"#, "malformed_request"),
        (r#"{"through":9007199254740992}"#, "malformed_request"),
        (r#"{"through":1} x"#, "malformed_request"),
        (r#"{"through":1,"through":2}"#, "duplicate_member"),
    ];
    for (body, code) in cases {
        expect_error(api.ack_raw("bob", body, None).await, 400, code).await;
    }
    assert_eq!(api.poll_all(&bob).await.len(), 2, "nothing deleted");

    let credential = bob.ack_credential(1, now_secs());
    let extra = r#"{"through":1,"note":"members v1 does not define are ignored"}"#;
    let response = api.ack_raw("bob", extra, Some(&credential)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("answer"),
        json!({"deleted": 1})
    );
}

/// SPEC §7.5, §7.1: an acknowledgement whose credential does not sign exactly this handle and
/// `through` is 401 `unauthorized` and deletes nothing.
#[tokio::test]
async fn ack_with_a_wrong_credential_is_unauthorized() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "m1")).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "m2")).await;
    let body = r#"{"through":2}"#;
    let now = now_secs();
    // alice's key over bob's ack string.
    let by_alice = User {
        handle: bob.handle.clone(),
        key: SigningKey::from_bytes(&alice.key.to_bytes()),
        server: bob.server.clone(),
    }
    .ack_credential(2, now);
    let cases = [
        ("through differs", Some(bob.ack_credential(1, now))),
        ("alice's own ack", Some(alice.ack_credential(2, now))),
        ("alice's key", Some(by_alice)),
        ("a poll credential", Some(bob.poll_credential(2, now))),
        ("stale", Some(bob.ack_credential(2, now - 120))),
        ("malformed", Some("2:zz".to_owned())),
        ("missing", None),
    ];
    for (case, credential) in cases {
        let response = api.ack_raw("bob", body, credential.as_deref()).await;
        assert_eq!(response.status(), 401, "{case}");
        expect_error(response, 401, "unauthorized").await;
    }
    assert_eq!(api.poll_all(&bob).await.len(), 2, "nothing deleted");
}

/// SPEC §7.1, §7.2: every poll credential failure is the same 401 `unauthorized` — stale,
/// another handle's, another cursor's, malformed, missing, for an unknown or invalid handle —
/// while malformed parameters are reported first as 400.
#[tokio::test]
async fn inbox_auth_failures() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "secret")).await;
    let now = now_secs();
    let cases: [(&str, &str, &str, Option<String>); 9] = [
        ("stale", "bob", "", Some(bob.poll_credential(0, now - 120))),
        ("future", "bob", "", Some(bob.poll_credential(0, now + 120))),
        (
            "alice's credential",
            "bob",
            "",
            Some(alice.poll_credential(0, now)),
        ),
        (
            "signed since=0",
            "bob",
            "?since=5",
            Some(bob.poll_credential(0, now)),
        ),
        ("malformed", "bob", "", Some("garbage".to_owned())),
        (
            "uppercase hex",
            "bob",
            "",
            Some(bob.poll_credential(0, now).to_uppercase()),
        ),
        ("missing", "bob", "", None),
        (
            "unknown handle",
            "nobody",
            "",
            Some(bob.poll_credential(0, now)),
        ),
        (
            "invalid handle",
            "Bob",
            "",
            Some(bob.poll_credential(0, now)),
        ),
    ];
    for (case, handle, query, credential) in cases {
        let response = api.poll_raw(handle, query, credential.as_deref()).await;
        assert_eq!(response.status(), 401, "{case}");
        expect_error(response, 401, "unauthorized").await;
    }
    let valid = bob.poll_credential(0, now);
    // `%2B0` decodes to `+0`, which `u64::from_str` would read as 0 (SPEC §8.2: decimal only).
    for query in [
        "?since=x",
        "?since=-1",
        "?since=%2B0",
        "?limit=0",
        "?limit=%2B1",
        "?since=1&since=1",
    ] {
        expect_error(
            api.poll_raw("bob", query, Some(&valid)).await,
            400,
            "malformed_request",
        )
        .await;
    }
    assert_eq!(
        api.poll(&bob, 0).await["messages"].as_array().map(Vec::len),
        Some(1)
    );
}
