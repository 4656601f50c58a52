//! SPEC §4.1 check 10, the registration policy, on nodes of the case's own (`--spawn`): a
//! `closed` node registers nobody new; a `token` node only with an invitation token in
//! `KEZ-Registration-Token`, judged after the signature, spent only by a registration it
//! stores, once per use however many registrations offer it at once; each node's document
//! publishes its policy (§9.2). Own nodes are kezd, so the tokens are made the way its
//! operator makes them (`kezd admin tokens create`); what is judged is only what the node
//! then answers over HTTP.

use serde_json::Value;

use crate::case::{Case, CaseResult, Fail, Own};
use crate::own::OwnNode;
use crate::server::Resp;
use crate::user::{User, json_bytes, now_ms};

/// How many registrations offer one single-use token at once.
const RACERS: usize = 8;

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::own(
            "s4.register.policy_closed",
            &["§4.1", "§9.2"],
            "on a node whose document says registration \"closed\", a new registration is 403 \
             registration_closed with or without a token header",
            |o| Box::pin(closed(o)),
        ),
        Case::own(
            "s4.register.policy_token",
            &["§4.1", "§9.2"],
            "on a node whose document says registration \"token\": no token is 403 \
             registration_token_required, an unknown one 403 registration_token_invalid, an \
             issued one 201; an unsigned registration with it is 400 invalid_signature and \
             spends nothing; its one use spent, it admits nobody more, and a retry of the stored \
             registration is 200 without it",
            |o| Box::pin(token(o)),
        ),
        Case::own(
            "s4.register.token_once",
            &["§4.1"],
            "8 registrations offering one single-use token at once: exactly one is 201, the \
             others 403 registration_token_invalid",
            |o| Box::pin(token_once(o)),
        ),
    ]
}

/// Starts a node of the case's own whose registration policy is `policy`, and checks that its
/// document publishes it (SPEC §9.2).
async fn node(o: &Own, policy: &str) -> Result<OwnNode, Fail> {
    let node = o
        .start(&format!("[registration]\npolicy = \"{policy}\"\n"))
        .await?;
    check_eq!(
        node.server()
            .document
            .get("registration")
            .and_then(Value::as_str),
        Some(policy),
        "the document's registration member on a node whose policy is {policy}"
    );
    Ok(node)
}

/// `POST /v1/register` with `user`'s registration signed now and `token` in the header.
async fn register(user: &User, token: Option<&str>) -> Result<Resp, Fail> {
    post(user, &user.registration(now_ms()), token).await
}

/// `POST /v1/register` with `body` and `token` in the header.
async fn post(user: &User, body: &Value, token: Option<&str>) -> Result<Resp, Fail> {
    let headers: Vec<(&str, &str)> = token
        .map(|token| ("kez-registration-token", token))
        .into_iter()
        .collect();
    user.server
        .post("/v1/register", json_bytes(body), &headers)
        .await
}

/// A token of `node`'s operator admitting `uses` registrations.
async fn issue(node: &OwnNode, uses: &str) -> Result<String, Fail> {
    let outcome = node.admin(&["tokens", "create", "--uses", uses]).await?;
    outcome
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Fail::Fail(format!("kezd admin tokens create answered {outcome}")))
}

async fn closed(o: Own) -> CaseResult {
    let node = node(&o, "closed").await?;
    let user = User::generate(node.server());
    register(&user, None)
        .await?
        .expect_error(403, "registration_closed")?;
    register(&user, Some("0123456789abcdef0123456789abcdef"))
        .await?
        .expect_error(403, "registration_closed")?;
    Ok(())
}

async fn token(o: Own) -> CaseResult {
    let node = node(&o, "token").await?;
    let alice = User::generate(node.server());
    register(&alice, None)
        .await?
        .expect_error(403, "registration_token_required")?;
    register(&alice, Some("0123456789abcdef0123456789abcdef"))
        .await?
        .expect_error(403, "registration_token_invalid")?;
    let token = issue(&node, "1").await?;
    let signed_at = now_ms();
    let mut unsigned = alice.registration(signed_at);
    unsigned["ts"] = (signed_at - 1_000).into();
    post(&alice, &unsigned, Some(&token))
        .await?
        .expect_error(400, "invalid_signature")?;
    let body = alice.registration(now_ms());
    post(&alice, &body, Some(&token)).await?.expect(201)?;
    post(&alice, &body, None).await?.expect(200)?;
    let bob = User::generate(node.server());
    register(&bob, Some(&token))
        .await?
        .expect_error(403, "registration_token_invalid")?;
    Ok(())
}

async fn token_once(o: Own) -> CaseResult {
    let node = node(&o, "token").await?;
    let token = issue(&node, "1").await?;
    let racers: Vec<User> = (0..RACERS).map(|_| User::generate(node.server())).collect();
    let answers =
        futures_util::future::join_all(racers.iter().map(|u| register(u, Some(&token)))).await;
    let mut created = 0;
    for answer in answers {
        let answer = answer?;
        if answer.status == 201 {
            created += 1;
        } else {
            answer.expect_error(403, "registration_token_invalid")?;
        }
    }
    check_eq!(created, 1, "registrations admitted by one single-use token");
    Ok(())
}
