//! SPEC §4.7, account deletion through the HTTP API: the capability the server document
//! advertises (§9.2), the checks before anything is deleted, the deletion and its retry, the
//! account's live stream ending, the 410 `account_deleted` of lookups and sends, and the
//! tombstone that keeps the handle and the primary from being registered again. Servers that
//! do not implement deletion (no route, no capability) skip all but the capability case.

use std::time::Duration;

use kez_spec::deletion::{Deletion, HANDLE_HOLD_MS};
use serde_json::{Value, json};

use crate::case::{Case, CaseResult, Fail, Single};
use crate::server::{Resp, Server};
use crate::user::{User, json_bytes, now_ms};

use super::{expect_code, two_users};

/// The deletion endpoint.
const PATH: &str = "/v1/account/delete";

/// How long a deleted account's stream may stay open: the deletion was answered, so it ends
/// as soon as the server writes what it has.
const STREAM_END: Duration = Duration::from_secs(10);

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s4.7.capability",
            &["§4.7", "§9.2"],
            "a server that answers POST /v1/account/delete lists account_deletion in its \
             document's capabilities",
            |s| Box::pin(capability(s)),
        ),
        Case::single(
            "s4.7.checks",
            &["§4.7"],
            "a deletion that is a registration, names another server or is stale is refused \
             with its code, and the account stays",
            |s| Box::pin(checks(s)),
        ),
        Case::single(
            "s4.7.delete",
            &["§4.7"],
            "a deletion is answered 200 (again on retry); the account's stream ends; lookups, \
             WebFinger and sends answer 410 account_deleted",
            |s| Box::pin(delete(s)),
        ),
        Case::single(
            "s4.7.tombstone",
            &["§4.7", "§4.1"],
            "after a deletion, the handle (to another key) is 409 handle_taken and the primary \
             (under another handle) 409 primary_taken",
            |s| Box::pin(tombstone(s)),
        ),
    ]
}

/// `user`'s deletion on `server`, signed at `ts_ms`.
fn deletion(user: &User, server: &str, ts_ms: u64) -> Value {
    Deletion {
        handle: user.handle.clone(),
        server: kez_spec::ServerName::parse(server).unwrap_or_else(|_| user.server.name.clone()),
        primary: user.primary,
        ts_ms,
    }
    .sign(&user.key)
}

async fn post(server: &Server, body: &Value) -> Result<Resp, Fail> {
    server.post(PATH, json_bytes(body), &[]).await
}

/// Whether the server implements deletion: the route answers something but 404 `not_found`.
async fn implements(server: &Server) -> Result<bool, Fail> {
    let probe = post(server, &json!({})).await?;
    Ok(!(probe.status == 404 && probe.code().as_deref() == Some("not_found")))
}

/// Skips unless the server implements deletion.
async fn require(server: &Server) -> CaseResult {
    if !implements(server).await? {
        skip!("POST {PATH} is not served: the server does not implement account deletion");
    }
    Ok(())
}

async fn capability(s: Single) -> CaseResult {
    let advertised = s.server.document["capabilities"]
        .as_array()
        .is_some_and(|c| c.contains(&json!("account_deletion")));
    if !s.server.federates() {
        skip!("the server serves no /.well-known/kez (federation disabled)");
    }
    let served = implements(&s.server).await?;
    check_eq!(
        advertised,
        served,
        "capabilities {} (POST {PATH} {})",
        s.server.document["capabilities"],
        if served { "is served" } else { "is not served" }
    );
    Ok(())
}

async fn checks(s: Single) -> CaseResult {
    require(&s.server).await?;
    let user = User::registered(&s.server).await?;
    let here = s.server.name.as_str();
    let seven_minutes = 7 * 60 * 1000;
    for (what, body, status, code) in [
        (
            "a registration",
            user.registration(now_ms()),
            400,
            "malformed_request",
        ),
        (
            "another server",
            deletion(&user, "other.example", now_ms()),
            400,
            "wrong_server",
        ),
        (
            "7 minutes old",
            deletion(&user, here, now_ms() - seven_minutes),
            400,
            "stale_timestamp",
        ),
        (
            "7 minutes ahead",
            deletion(&user, here, now_ms() + seven_minutes),
            400,
            "stale_timestamp",
        ),
    ] {
        expect_code(post(&s.server, &body).await?, status, code, what)?;
    }
    let record = s.server.get(&format!("/v1/u/{}", user.handle)).await?;
    check_eq!(record.status, 200, "the account after refused deletions");
    Ok(())
}

async fn delete(s: Single) -> CaseResult {
    require(&s.server).await?;
    let (bob, alice) = two_users(&s.server).await?;
    let mut stream = alice.stream(None).await?.expect_open().await?;
    // The stream is live once `ready` is written.
    loop {
        let event = stream.next_event(STREAM_END).await?;
        if event.event.as_deref() == Some("ready") {
            break;
        }
    }
    let body = deletion(&alice, s.server.name.as_str(), now_ms());
    let before = now_ms();
    let answer = post(&s.server, &body).await?.expect_json(200)?;
    check_eq!(
        answer["address"],
        json!(alice.address.to_string()),
        "address"
    );
    let deleted_at = answer["deleted_at"].as_u64().unwrap_or(0);
    check!(
        deleted_at + 1_000 >= before && deleted_at <= now_ms() + 1_000,
        "deleted_at {deleted_at} is not the time of the deletion ({before})"
    );
    check_eq!(
        answer["released_at"],
        json!(deleted_at + HANDLE_HOLD_MS),
        "released_at (deleted_at + 8 days + 300 s)"
    );
    loop {
        match stream.next(STREAM_END).await {
            Ok(None) => break,
            Ok(Some(event)) if event.is_comment() => {}
            Ok(Some(event)) => fail!("the deleted account's stream sent {event:?}"),
            Err(e) => fail!("the deleted account's stream did not end: {e}"),
        }
    }
    let again = post(&s.server, &body).await?.expect_json(200)?;
    check_eq!(again, answer, "a retry of the deletion");
    let primary = alice.primary.to_string();
    let address = alice.address.to_string();
    for path in [
        format!("/v1/u/{}", alice.handle),
        format!("/v1/u/{address}"),
        format!("/v1/by-primary/{primary}"),
        format!("/.well-known/webfinger?resource=acct:{address}"),
    ] {
        let resp = s.server.get(&path).await?;
        expect_code(resp, 410, "account_deleted", &path)?;
    }
    let to_alice = bob.envelope(&alice.peer(), "after the deletion");
    expect_code(
        bob.send(&to_alice).await?,
        410,
        "account_deleted",
        "a send to the deleted account",
    )?;
    Ok(())
}

async fn tombstone(s: Single) -> CaseResult {
    require(&s.server).await?;
    let alice = User::registered(&s.server).await?;
    let body = deletion(&alice, s.server.name.as_str(), now_ms());
    post(&s.server, &body).await?.expect(200)?;
    let successor = User::with_handle(&s.server, alice.handle.as_str());
    expect_code(
        successor.register().await?,
        409,
        "handle_taken",
        "the deleted handle, to another key",
    )?;
    let returning = User {
        key: alice.key.clone(),
        primary: alice.primary,
        ..User::generate(&s.server)
    };
    expect_code(
        returning.register().await?,
        409,
        "primary_taken",
        "the deleted primary, under another handle",
    )?;
    expect_code(
        alice.register().await?,
        409,
        "handle_taken",
        "the deleted account's registration again",
    )?;
    Ok(())
}
