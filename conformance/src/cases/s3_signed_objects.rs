//! SPEC §3, signed objects, checked on `POST /v1/messages`: strict JSON (§3.3), the signature
//! member's shape and algorithm (§3.1, §3.5, §3.7), the strict verification rule (§3.4),
//! domain separation by `type` (§3.6), and signed bytes that survive storage unchanged (§3.2).

use serde_json::{Map, Value, json};

use super::{expect_code, two_users};
use crate::case::{Case, CaseResult, Fail, Single};
use crate::user::{User, json_bytes, message_id, now_ms};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s3.json.duplicate_member",
            &["§3.3", "§8.1"],
            "a duplicate member in the send body or inside the envelope is 400 duplicate_member",
            |s| Box::pin(duplicate_member(s)),
        ),
        Case::single(
            "s3.json.syntax",
            &["§3.3"],
            "trailing bytes, invalid UTF-8 and escaped lone surrogates are 400 malformed_request",
            |s| Box::pin(syntax(s)),
        ),
        Case::single(
            "s3.json.numbers",
            &["§3.3"],
            "numbers in a signed object must be integers within ±(2^53-1) without fraction or \
             exponent, and not -0; others are 400 malformed_request (envelopes and \
             registrations), the extremes are accepted",
            |s| Box::pin(numbers(s)),
        ),
        Case::single(
            "s3.sig.shape",
            &["§3.1", "§3.5", "§3.7", "§8.1", "§12.3"],
            "an envelope signature that is missing (an unsigned send), not an object, has an \
             extra or missing member or a badly encoded sig is malformed_signature; another \
             alg is unsupported_alg",
            |s| Box::pin(sig_shape(s)),
        ),
        Case::single(
            "s3.sig.strict_s",
            &["§3.4"],
            "a signature whose S is not reduced (S + L, accepted by lax verifiers) is 400 \
             invalid_signature",
            |s| Box::pin(strict_s(s)),
        ),
        Case::single(
            "s3.type",
            &["§3.6"],
            "an envelope whose type is \"registration\" or missing is 400 malformed_request",
            |s| Box::pin(type_member(s)),
        ),
        Case::single(
            "s3.jcs.unchanged",
            &["§3.2", "§6.1", "§6.4"],
            "an envelope with unknown members sent in non-canonical form is accepted, its id is \
             the SHA-256 of its JCS, and it is served with the same JCS bytes",
            |s| Box::pin(jcs_unchanged(s)),
        ),
    ]
}

/// The send body for `envelope` as text.
fn body_text(envelope: &Value) -> String {
    json!({"to": envelope["to"], "envelope": envelope}).to_string()
}

async fn expect_send_error(
    user: &User,
    body: Vec<u8>,
    status: u16,
    code: &str,
    what: &str,
) -> CaseResult {
    expect_code(user.send_raw(body).await?, status, code, what).map(drop)
}

async fn duplicate_member(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let env = alice.envelope(&bob.peer(), "dup");
    let text = body_text(&env);
    let top = text.replacen('{', &format!("{{\"to\":\"{}\",", bob.address), 1);
    expect_send_error(&alice, top.into_bytes(), 400, "duplicate_member", "body").await?;
    let nonce = env["nonce"].as_str().unwrap_or("").to_owned();
    let inner = text.replacen(
        &format!("\"nonce\":\"{nonce}\""),
        &format!("\"nonce\":\"{nonce}\",\"nonce\":\"{nonce}\""),
        1,
    );
    expect_send_error(
        &alice,
        inner.into_bytes(),
        400,
        "duplicate_member",
        "envelope",
    )
    .await?;
    let deep = text.replacen(
        "\"alg\":\"ed25519\"",
        "\"alg\":\"ed25519\",\"alg\":\"ed25519\"",
        1,
    );
    expect_send_error(
        &alice,
        deep.into_bytes(),
        400,
        "duplicate_member",
        "signature",
    )
    .await
}

async fn syntax(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let mut fields = alice.envelope_fields(&bob.peer(), "x");
    fields.insert("x-pad".into(), json!("PAD"));
    let text = body_text(&alice.sign(fields));
    expect_send_error(
        &alice,
        format!("{text}x").into_bytes(),
        400,
        "malformed_request",
        "trailing bytes",
    )
    .await?;
    expect_send_error(
        &alice,
        format!("{text}{{}}").into_bytes(),
        400,
        "malformed_request",
        "a second value",
    )
    .await?;
    let surrogate = text.replacen("PAD", "\\ud800", 1);
    expect_send_error(
        &alice,
        surrogate.into_bytes(),
        400,
        "malformed_request",
        "lone surrogate",
    )
    .await?;
    let mut invalid_utf8 = text.into_bytes();
    if let Some(pos) = invalid_utf8.windows(3).position(|w| w == b"PAD") {
        invalid_utf8[pos] = 0xff;
    }
    expect_send_error(
        &alice,
        invalid_utf8,
        400,
        "malformed_request",
        "invalid UTF-8",
    )
    .await?;
    expect_send_error(
        &alice,
        b"{\"to\":".to_vec(),
        400,
        "malformed_request",
        "truncated",
    )
    .await
}

async fn numbers(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let fields = alice.envelope_fields(&bob.peer(), "n");
    let ts = fields["ts"].as_u64().unwrap_or(0);
    let text = body_text(&alice.sign(fields.clone()));
    for number in [
        format!("{ts}.0"),
        format!("{ts}.5"),
        format!("{}e3", ts / 1000),
        format!("{ts}E0"),
    ] {
        let changed = text.replacen(&format!("\"ts\":{ts}"), &format!("\"ts\":{number}"), 1);
        check!(changed != text, "could not rewrite ts");
        expect_send_error(
            &alice,
            changed.into_bytes(),
            400,
            "malformed_request",
            &format!("ts {number}"),
        )
        .await?;
    }
    for (what, number) in [
        ("2^53", "9007199254740992"),
        ("-2^53", "-9007199254740992"),
        ("1e400", "1e400"),
        ("0.5", "0.5"),
        ("-0 (JCS writes it 0)", "-0"),
    ] {
        let mut f = fields.clone();
        f.insert("x-n".into(), json!("NUMBER"));
        let changed = body_text(&alice.sign(f)).replacen("\"NUMBER\"", number, 1);
        expect_send_error(&alice, changed.into_bytes(), 400, "malformed_request", what).await?;
    }
    // The same rule in a registration: `-0` where the signature covers `0`.
    let newcomer = User::generate(&s.server);
    let mut f = newcomer.registration_fields(now_ms());
    f.insert("x-n".into(), json!(0));
    let zero = body_text(&newcomer.sign(f));
    let minus_zero = zero.replacen("\"x-n\":0", "\"x-n\":-0", 1);
    check!(minus_zero != zero, "could not rewrite x-n");
    expect_code(
        newcomer.register_raw(minus_zero.into_bytes()).await?,
        400,
        "malformed_request",
        "a registration with -0",
    )?;
    // The extremes are integers in range: signed and accepted.
    let mut f = fields;
    f.insert("x-max".into(), json!(9_007_199_254_740_991u64));
    f.insert("x-min".into(), json!(-9_007_199_254_740_991i64));
    alice.send(&alice.sign(f)).await?.expect(201)?;
    Ok(())
}

async fn sig_shape(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let good = alice.envelope(&bob.peer(), "sig");
    let sig = good["signature"]["sig"].as_str().unwrap_or("").to_owned();
    let with = |signature: Option<Value>| {
        let mut env = good.clone();
        match signature {
            Some(v) => env["signature"] = v,
            None => {
                if let Some(obj) = env.as_object_mut() {
                    obj.remove("signature");
                }
            }
        }
        env
    };
    let malformed: Vec<(&str, Option<Value>)> = vec![
        ("unsigned send (no signature)", None),
        ("signature a string", Some(json!(sig))),
        ("signature an array", Some(json!([sig]))),
        ("no sig", Some(json!({"alg": "ed25519"}))),
        ("no alg", Some(json!({"sig": sig}))),
        (
            "extra member",
            Some(json!({"alg": "ed25519", "sig": sig, "n": 1})),
        ),
        (
            "sig 130 hex",
            Some(json!({"alg": "ed25519", "sig": format!("{sig}00")})),
        ),
        (
            "sig uppercase",
            Some(json!({"alg": "ed25519", "sig": sig.to_uppercase()})),
        ),
        ("alg a number", Some(json!({"alg": 1, "sig": sig}))),
    ];
    for (what, signature) in malformed {
        expect_code(
            alice.send(&with(signature)).await?,
            400,
            "malformed_signature",
            what,
        )?;
    }
    for (what, signature) in [
        ("alg ed448", json!({"alg": "ed448", "sig": sig})),
        ("alg schnorr without sig", json!({"alg": "schnorr"})),
    ] {
        expect_code(
            alice.send(&with(Some(signature))).await?,
            400,
            "unsupported_alg",
            what,
        )?;
    }
    Ok(())
}

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// A signature with S replaced by S + L (same point equation, non-canonical scalar).
pub fn unreduced(sig_hex: &str) -> Result<String, Fail> {
    let mut sig = hex::decode(sig_hex).map_err(|e| Fail::Fail(format!("sig hex: {e}")))?;
    if sig.len() != 64 {
        fail!("sig is {} bytes", sig.len());
    }
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(sig[32 + i]) + u16::from(*l) + carry;
        sig[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    Ok(hex::encode(sig))
}

async fn strict_s(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let mut env = alice.envelope(&bob.peer(), "strict");
    let sig = env["signature"]["sig"].as_str().unwrap_or("").to_owned();
    env["signature"]["sig"] = json!(unreduced(&sig)?);
    expect_code(alice.send(&env).await?, 400, "invalid_signature", "S + L")?;
    // A flipped bit of R.
    let mut flipped = hex::decode(&sig).map_err(|e| Fail::Fail(e.to_string()))?;
    flipped[0] ^= 1;
    env["signature"]["sig"] = json!(hex::encode(flipped));
    expect_code(
        alice.send(&env).await?,
        400,
        "invalid_signature",
        "flipped bit",
    )?;
    Ok(())
}

async fn type_member(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let fields: Map<String, Value> = alice.envelope_fields(&bob.peer(), "t");
    let mut wrong = fields.clone();
    wrong.insert("type".into(), json!("registration"));
    expect_code(
        alice.send(&alice.sign(wrong)).await?,
        400,
        "malformed_request",
        "type registration",
    )?;
    let mut server = fields.clone();
    server.insert("type".into(), json!("server"));
    expect_code(
        alice.send(&alice.sign(server)).await?,
        400,
        "malformed_request",
        "type server",
    )?;
    let mut missing = fields;
    missing.remove("type");
    expect_code(
        alice.send(&alice.sign(missing)).await?,
        400,
        "malformed_request",
        "no type",
    )?;
    Ok(())
}

async fn jcs_unchanged(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let mut fields = alice.envelope_fields(&bob.peer(), "jcs");
    fields.insert(
        "x-ext".into(),
        json!({"zeta": [3, 2, {"b": "\u{1f600}", "a": "\u{e9}\n\u{1}"}], "alpha": null}),
    );
    let env = alice.sign(fields);
    let id = message_id(&env);
    // Pretty-printed with non-ASCII escaped: not the JCS form.
    let pretty = serde_json::to_string_pretty(&json!({"envelope": env, "to": env["to"]}))
        .map_err(|e| Fail::Fail(e.to_string()))?;
    let answer = alice
        .send_raw(pretty.into_bytes())
        .await?
        .expect_json(201)?;
    check_eq!(
        answer["id"],
        json!(id),
        "the message id (SHA-256 of the JCS)"
    );
    let messages = bob.messages(0).await?;
    check_eq!(messages.len(), 1, "messages in the inbox");
    check_eq!(messages[0]["id"], json!(id), "the polled id");
    check_eq!(
        String::from_utf8_lossy(&kez_spec::json::canonical(&messages[0]["envelope"])),
        String::from_utf8_lossy(&kez_spec::json::canonical(&env)),
        "the served envelope (JCS)"
    );
    let served = kez_spec::envelope::SignedEnvelope::parse(&json_bytes(&messages[0]["envelope"]))
        .map_err(|e| Fail::Fail(format!("the served envelope does not parse: {e}")))?;
    served
        .verify()
        .map_err(|e| Fail::Fail(format!("the served envelope does not verify: {e}")))?;
    Ok(())
}
