//! SPEC §7, client request authentication: the credential window and syntax (§7.1), every
//! failure answered with the same 401 `unauthorized` (no oracle), signed cursors (§7.2, §7.4,
//! §7.5), the live-only stream string (§7.3), cross-endpoint replay (§7.7, §13.1), and the
//! delivery-status credential of the sender (§7.6).

use kez_spec::auth::AuthRequest;
use kez_spec::{Handle, MessageId};
use serde_json::json;

use super::{edges, expect_code, two_users};
use crate::case::{Case, CaseResult, Fail, Single};
use crate::user::{User, json_bytes, now_s, random_key};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s7.poll.window",
            &["§7.1", "§7.2"],
            "a poll credential 58 s old or ahead is accepted; 62 s old or ahead is 401 \
             unauthorized (2 s inside and outside each edge of the 60 s window)",
            |s| Box::pin(poll_window(s)),
        ),
        Case::single(
            "s7.poll.failures",
            &["§7.1"],
            "a missing, malformed or wrongly signed credential, an unknown handle and an \
             invalid handle in the path are all the same 401 unauthorized",
            |s| Box::pin(poll_failures(s)),
        ),
        Case::single(
            "s7.poll.cursor_signed",
            &["§7.2", "§7.7"],
            "the poll cursor is signed: a credential for since=0 does not read since=1; an \
             absent since is signed as 0; a non-canonical since is signed canonically",
            |s| Box::pin(poll_cursor_signed(s)),
        ),
        Case::single(
            "s7.stream.credentials",
            &["§7.1", "§7.3", "§7.4", "§8.5"],
            "a stream without auth is 400 missing_auth; a live-only credential with a cursor and \
             a cursor credential without one are 401; a bad credential is 401",
            |s| Box::pin(stream_credentials(s)),
        ),
        Case::single(
            "s7.ack.credentials",
            &["§7.5", "§8.3"],
            "the acknowledgement's through is signed: a credential for through=1 does not \
             delete through 2; the body is checked before the credential",
            |s| Box::pin(ack_credentials(s)),
        ),
        Case::single(
            "s7.paths.as_sent",
            &["§7.7", "§7.1", "§2.1"],
            "a path segment is never percent-decoded into a handle: the owner's valid poll \
             credential on /v1/inbox/ with a letter of the handle escaped is 401 \
             unauthorized, and /v1/u/ with it escaped is 400 invalid_handle",
            |s| Box::pin(paths_as_sent(s)),
        ),
        Case::single(
            "s7.cross_endpoint",
            &["§7.7", "§13.1", "§3.6"],
            "no credential replays on another endpoint, handle, or request shape: poll, stream, \
             ack and status credentials are each refused elsewhere with 401",
            |s| Box::pin(cross_endpoint(s)),
        ),
        Case::single(
            "s7.status.credentials",
            &["§7.6", "§9.7"],
            "delivery status answers the sender's credential with {id, status: stored, \
             attempts: 0, next_attempt_at: null, error: null}; the recipient's or no credential \
             is 401; an unknown id 404 unknown_message; a malformed id 400",
            |s| Box::pin(status_credentials(s)),
        ),
    ]
}

fn poll(handle: &Handle, since: u64) -> AuthRequest<'_> {
    AuthRequest::Poll { handle, since }
}

async fn poll_window(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let window = kez_spec::auth::DEFAULT_SKEW_SECS;
    for edge in edges(window, window, 1) {
        let cred = user.credential_at(poll(&user.handle, 0), edge.ts());
        let resp = user.poll_with("", Some(&cred)).await?;
        if edge.inside {
            resp.expect(200)
                .map_err(|e| Fail::Fail(format!("a credential {}: {e}", edge.what)))?;
        } else {
            expect_code(resp, 401, "unauthorized", &edge.what)?;
        }
    }
    Ok(())
}

async fn poll_failures(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let good = user.credential(poll(&user.handle, 0));
    let (ts, sig) = good.split_once(':').unwrap_or(("", ""));
    let other = User::generate(&s.server);
    let malformed = [
        String::new(),
        "garbage".to_owned(),
        format!("{ts}:"),
        format!(":{sig}"),
        format!("0{ts}:{sig}"),
        format!("+{ts}:{sig}"),
        format!("{ts}:{}", sig.to_uppercase()),
        format!("{ts}:{}", &sig[..126]),
        format!("{ts}{sig}"),
        format!("{ts}:{sig}:{ts}"),
    ];
    expect_code(
        user.poll_with("", None).await?,
        401,
        "unauthorized",
        "no credential",
    )?;
    for bad in &malformed {
        expect_code(
            user.poll_with("", Some(bad)).await?,
            401,
            "unauthorized",
            &format!("credential {bad:?}"),
        )?;
    }
    let by_other = AuthRequest::Poll {
        handle: &user.handle,
        since: 0,
    }
    .sign(&random_key(), now_s())
    .to_string();
    expect_code(
        user.poll_with("", Some(&by_other)).await?,
        401,
        "unauthorized",
        "another key",
    )?;
    // An unknown handle and an invalid one answer exactly like a bad signature.
    let unknown = other.credential(poll(&other.handle, 0));
    expect_code(
        other.poll_with("", Some(&unknown)).await?,
        401,
        "unauthorized",
        "unknown handle",
    )?;
    let resp = s
        .server
        .get_with("/v1/inbox/Not.Valid-", &[("x-kez-auth", good.as_str())])
        .await?;
    expect_code(resp, 401, "unauthorized", "invalid handle in the path")?;
    Ok(())
}

async fn paths_as_sent(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let good = user.credential(poll(&user.handle, 0));
    let handle = user.handle.as_str();
    // The first letter as `%XX`: the same handle, if it were ever decoded.
    let escaped = format!("%{:02X}{}", handle.as_bytes()[0], &handle[1..]);
    let resp = s
        .server
        .get_with(
            &format!("/v1/inbox/{escaped}"),
            &[("x-kez-auth", good.as_str())],
        )
        .await?;
    expect_code(
        resp,
        401,
        "unauthorized",
        "an escaped handle in the inbox path",
    )?;
    let resp = s.server.get(&format!("/v1/u/{escaped}")).await?;
    expect_code(resp, 400, "invalid_handle", "an escaped handle in /v1/u/")?;
    // The same credential on the path it signs is good.
    user.poll_with("", Some(&good)).await?.expect(200)?;
    Ok(())
}

async fn poll_cursor_signed(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    alice.send_ok(&bob.peer(), "one").await?;
    alice.send_ok(&bob.peer(), "two").await?;
    let for_zero = bob.credential(poll(&bob.handle, 0));
    expect_code(
        bob.poll_with("?since=1", Some(&for_zero)).await?,
        401,
        "unauthorized",
        "since=1 with a credential for since=0",
    )?;
    // No since: signed as since=0.
    let page = bob.poll_with("", Some(&for_zero)).await?.expect_json(200)?;
    check_eq!(
        page["messages"].as_array().map(Vec::len),
        Some(2),
        "messages without since"
    );
    // A non-canonical since is signed in canonical form.
    let for_one = bob.credential(poll(&bob.handle, 1));
    let page = bob
        .poll_with("?since=01", Some(&for_one))
        .await?
        .expect_json(200)?;
    check_eq!(
        page["messages"].as_array().map(Vec::len),
        Some(1),
        "messages after since=01"
    );
    let for_one_limit = bob.credential(poll(&bob.handle, 1));
    bob.poll_with("?limit=5&since=1", Some(&for_one_limit))
        .await?
        .expect(200)?;
    Ok(())
}

async fn stream_credentials(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let live = user.credential(AuthRequest::StreamLive {
        handle: &user.handle,
    });
    let cursor = user.credential(AuthRequest::StreamCursor {
        handle: &user.handle,
        since: 0,
    });
    let refused = |query: String, headers: Vec<(&'static str, String)>| {
        let user = user.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            user.stream_with(&query, &headers).await?.into_resp().await
        }
    };
    let resp = refused(String::new(), vec![]).await?;
    expect_code(resp, 400, "missing_auth", "a stream without auth")?;
    let resp = refused("?since=0".into(), vec![]).await?;
    expect_code(
        resp,
        400,
        "missing_auth",
        "a stream with since and without auth",
    )?;
    let resp = refused(format!("?since=0&auth={live}"), vec![]).await?;
    expect_code(
        resp,
        401,
        "unauthorized",
        "the live-only credential with since=0",
    )?;
    let resp = refused(format!("?auth={live}"), vec![("last-event-id", "0".into())]).await?;
    expect_code(
        resp,
        401,
        "unauthorized",
        "the live-only credential with Last-Event-ID",
    )?;
    let resp = refused(format!("?auth={cursor}"), vec![]).await?;
    expect_code(
        resp,
        401,
        "unauthorized",
        "a cursor credential without a cursor",
    )?;
    let resp = refused("?auth=1:00".into(), vec![]).await?;
    expect_code(resp, 401, "unauthorized", "a malformed credential")?;
    let old = user.credential_at(
        AuthRequest::StreamLive {
            handle: &user.handle,
        },
        now_s() - 120,
    );
    let resp = refused(format!("?auth={old}"), vec![]).await?;
    expect_code(resp, 401, "unauthorized", "a credential 120 s old")?;
    // Both accepted forms open.
    user.stream_with(&format!("?auth={live}"), &[])
        .await?
        .expect_open()
        .await?;
    user.stream_with(&format!("?since=0&auth={cursor}"), &[])
        .await?
        .expect_open()
        .await?;
    Ok(())
}

async fn ack_credentials(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    alice.send_ok(&bob.peer(), "one").await?;
    alice.send_ok(&bob.peer(), "two").await?;
    let for_one = bob.credential(AuthRequest::Ack {
        handle: &bob.handle,
        through: 1,
    });
    let resp = bob
        .ack_with(json_bytes(&json!({"through": 2})), Some(&for_one))
        .await?;
    expect_code(
        resp,
        401,
        "unauthorized",
        "through=2 with a credential for through=1",
    )?;
    check_eq!(
        bob.messages(0).await?.len(),
        2,
        "messages after a refused ack"
    );
    // The body is checked before the credential: a bad body with a bad credential is 400.
    let resp = bob
        .ack_with(b"{\"through\":-1}".to_vec(), Some("bad"))
        .await?;
    expect_code(
        resp,
        400,
        "malformed_request",
        "a negative through with a bad credential",
    )?;
    let resp = bob.ack_with(b"{}".to_vec(), None).await?;
    expect_code(resp, 400, "malformed_request", "no through, no credential")?;
    let resp = bob
        .ack_with(json_bytes(&json!({"through": 1})), None)
        .await?;
    expect_code(resp, 401, "unauthorized", "no credential")?;
    Ok(())
}

async fn cross_endpoint(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let (sent, _) = alice.send_ok(&bob.peer(), "x").await?;
    let id_text = sent["id"].as_str().unwrap_or("").to_owned();
    let id = MessageId::parse(&id_text).map_err(|e| Fail::Fail(format!("id {id_text}: {e}")))?;
    let h = &bob.handle;
    let poll_cred = bob.credential(poll(h, 0));
    let live_cred = bob.credential(AuthRequest::StreamLive { handle: h });
    let cursor_cred = bob.credential(AuthRequest::StreamCursor {
        handle: h,
        since: 0,
    });
    let ack_cred = bob.credential(AuthRequest::Ack {
        handle: h,
        through: 0,
    });
    let status_cred = alice.credential(AuthRequest::Status { id: &id });
    let ack_body = || json_bytes(&json!({"through": 0}));

    // As a poll.
    for (what, cred) in [
        ("live stream credential", &live_cred),
        ("cursor stream credential", &cursor_cred),
        ("ack credential", &ack_cred),
        ("status credential", &status_cred),
    ] {
        expect_code(
            bob.poll_with("", Some(cred)).await?,
            401,
            "unauthorized",
            &format!("{what} as a poll"),
        )?;
    }
    // As an acknowledgement.
    for (what, cred) in [
        ("poll credential", &poll_cred),
        ("live stream credential", &live_cred),
        ("cursor stream credential", &cursor_cred),
    ] {
        expect_code(
            bob.ack_with(ack_body(), Some(cred)).await?,
            401,
            "unauthorized",
            &format!("{what} as an ack"),
        )?;
    }
    // As a stream (live-only and with a cursor).
    for (what, cred) in [
        ("poll credential", &poll_cred),
        ("ack credential", &ack_cred),
    ] {
        let resp = bob
            .stream_with(&format!("?auth={cred}"), &[])
            .await?
            .into_resp()
            .await?;
        expect_code(
            resp,
            401,
            "unauthorized",
            &format!("{what} as a live stream"),
        )?;
        let resp = bob
            .stream_with(&format!("?since=0&auth={cred}"), &[])
            .await?
            .into_resp()
            .await?;
        expect_code(
            resp,
            401,
            "unauthorized",
            &format!("{what} as a resumed stream"),
        )?;
    }
    // Another handle's credential, and the recipient's poll credential on the sender's inbox.
    let alice_poll = alice.credential(poll(&alice.handle, 0));
    expect_code(
        bob.poll_with("", Some(&alice_poll)).await?,
        401,
        "unauthorized",
        "another handle's poll credential",
    )?;
    expect_code(
        alice.poll_with("", Some(&poll_cred)).await?,
        401,
        "unauthorized",
        "poll credential on another inbox",
    )?;
    // As a status request for the message, and the status credential of another message.
    expect_code(
        alice.status_with(&id_text, Some(&poll_cred)).await?,
        401,
        "unauthorized",
        "a poll credential as status",
    )?;
    let (other, _) = alice.send_ok(&bob.peer(), "y").await?;
    let other_id = other["id"].as_str().unwrap_or("");
    expect_code(
        alice.status_with(other_id, Some(&status_cred)).await?,
        401,
        "unauthorized",
        "another message's status credential",
    )?;
    Ok(())
}

async fn status_credentials(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let (sent, _) = alice.send_ok(&bob.peer(), "status").await?;
    let id = sent["id"].as_str().unwrap_or("").to_owned();
    let status = alice.status(&id).await?.expect_json(200)?;
    check_eq!(
        status,
        json!({"id": id, "status": "stored", "attempts": 0, "next_attempt_at": null, "error": null}),
        "the status of a local message"
    );
    let parsed = MessageId::parse(&id).map_err(|e| Fail::Fail(e.to_string()))?;
    let by_recipient = bob.credential(AuthRequest::Status { id: &parsed });
    expect_code(
        alice.status_with(&id, Some(&by_recipient)).await?,
        401,
        "unauthorized",
        "the recipient's credential",
    )?;
    expect_code(
        alice.status_with(&id, None).await?,
        401,
        "unauthorized",
        "no credential",
    )?;
    let old = alice.credential_at(AuthRequest::Status { id: &parsed }, now_s() - 120);
    expect_code(
        alice.status_with(&id, Some(&old)).await?,
        401,
        "unauthorized",
        "a credential 120 s old",
    )?;
    let unknown = "0".repeat(64);
    expect_code(
        alice.status(&unknown).await?,
        404,
        "unknown_message",
        "an unknown id",
    )?;
    expect_code(
        alice.status_with(&id.to_uppercase(), Some("x")).await?,
        400,
        "malformed_request",
        "an uppercase id",
    )?;
    expect_code(
        alice.status_with("xyz", Some("x")).await?,
        400,
        "malformed_request",
        "a malformed id",
    )?;
    Ok(())
}
