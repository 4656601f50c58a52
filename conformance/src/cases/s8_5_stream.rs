//! SPEC §8.5, the live stream: headers, `retry: 3000` first, `ready` with the right seq for
//! live-only and resumed streams, replay in order, no gap and no duplicate at the switch to
//! live, `Last-Event-ID`, parameter errors before the credential, several streams per handle,
//! publication only after storage (§8.1), and keep-alive comments while idle.

use std::time::Duration;

use serde_json::json;

use super::{expect_code, two_users};
use crate::case::{Case, CaseResult, Single};
use crate::user::{User, message_id, seqs};

/// How long a stream event may take to arrive.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s8.stream.live",
            &["§8.5", "§7.3", "§8.1"],
            "a live-only stream opens with text/event-stream and no-store, retry: 3000, ready \
             {seq: latest}, then each new message as id/event/data; a message on the stream is \
             already readable by a poll (published after storage)",
            |s| Box::pin(live(s)),
        ),
        Case::single(
            "s8.stream.resume",
            &["§8.5", "§7.4"],
            "a stream resumed at since=0 replays every stored message in order, then ready with \
             the last replayed seq, then live messages with no gap and no duplicate",
            |s| Box::pin(resume(s)),
        ),
        Case::single(
            "s8.stream.last_event_id",
            &["§8.5", "§7.4"],
            "Last-Event-ID is the cursor when since is absent; ready is the cursor when nothing \
             is replayed",
            |s| Box::pin(last_event_id(s)),
        ),
        Case::single(
            "s8.stream.params",
            &["§8.5", "§7.4"],
            "a malformed since or Last-Event-ID (a sign included: since=%2B1 and \
             Last-Event-ID: +1 alike), or since different from Last-Event-ID, is 400 \
             malformed_request, checked before the credential",
            |s| Box::pin(params(s)),
        ),
        Case::single(
            "s8.stream.several",
            &["§8.5"],
            "several streams of one handle each receive every new message",
            |s| Box::pin(several(s)),
        ),
        Case::single(
            "s8.stream.keepalive",
            &["§8.5", "§12.1"],
            "an idle stream carries `: keep-alive` comments at least every 15 s (the configured \
             interval under --spawn); skipped against external servers without --slow",
            |s| Box::pin(keepalive(s)),
        )
        .with_timeout(Duration::from_secs(40)),
    ]
}

async fn live(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    alice.send_ok(&bob.peer(), "old1").await?;
    alice.send_ok(&bob.peer(), "old2").await?;
    let mut stream = bob.stream(None).await?.expect_open().await?;
    let content_type = stream
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    check!(
        content_type.starts_with("text/event-stream"),
        "Content-Type must be text/event-stream, got {content_type:?}"
    );
    let cache = stream
        .headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    check_eq!(cache, "no-store", "Cache-Control");
    let (replayed, ready) = stream.until_ready(EVENT_WAIT).await?;
    check!(
        replayed.is_empty(),
        "a live-only stream must not replay, got {} messages",
        replayed.len()
    );
    check_eq!(ready, json!({"seq": 2}), "ready of a live-only stream");
    let (_, env) = alice.send_ok(&bob.peer(), "new").await?;
    let message = stream.next_message(EVENT_WAIT).await?;
    check_eq!(message["seq"], json!(3), "the live message's seq");
    check_eq!(
        message["id"],
        json!(message_id(&env)),
        "the live message's id"
    );
    check_eq!(message["envelope"], env, "the live message's envelope");
    // Published only after storage: a poll right now returns it.
    let polled = bob.messages(2).await?;
    check_eq!(seqs(&polled), vec![3], "a poll right after the live event");
    check_eq!(polled[0], message, "the poll item equals the event data");
    Ok(())
}

async fn resume(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let (_, first) = alice.send_ok(&bob.peer(), "r1").await?;
    let (_, second) = alice.send_ok(&bob.peer(), "r2").await?;
    let mut stream = bob.stream(Some(0)).await?.expect_open().await?;
    let (replayed, ready) = stream.until_ready(EVENT_WAIT).await?;
    check_eq!(seqs(&replayed), vec![1, 2], "replayed seqs");
    check_eq!(
        replayed[0]["id"],
        json!(message_id(&first)),
        "first replayed id"
    );
    check_eq!(
        replayed[1]["id"],
        json!(message_id(&second)),
        "second replayed id"
    );
    check_eq!(ready, json!({"seq": 2}), "ready after the replay");
    alice.send_ok(&bob.peer(), "r3").await?;
    let next = stream.next_message(EVENT_WAIT).await?;
    check_eq!(
        next["seq"],
        json!(3),
        "the first live message after ready (no duplicate, no gap)"
    );
    alice.send_ok(&bob.peer(), "r4").await?;
    let next = stream.next_message(EVENT_WAIT).await?;
    check_eq!(next["seq"], json!(4), "the second live message");
    // Resuming in the middle replays only what follows the cursor.
    let mut stream = bob.stream(Some(3)).await?.expect_open().await?;
    let (replayed, ready) = stream.until_ready(EVENT_WAIT).await?;
    check_eq!(seqs(&replayed), vec![4], "replayed after since=3");
    check_eq!(ready, json!({"seq": 4}), "ready after since=3");
    Ok(())
}

async fn last_event_id(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    alice.send_ok(&bob.peer(), "l1").await?;
    alice.send_ok(&bob.peer(), "l2").await?;
    let cred = bob.credential(kez_spec::auth::AuthRequest::StreamCursor {
        handle: &bob.handle,
        since: 1,
    });
    let mut stream = bob
        .stream_with(&format!("?auth={cred}"), &[("last-event-id", "1")])
        .await?
        .expect_open()
        .await?;
    let (replayed, ready) = stream.until_ready(EVENT_WAIT).await?;
    check_eq!(seqs(&replayed), vec![2], "replayed after Last-Event-ID: 1");
    check_eq!(ready, json!({"seq": 2}), "ready");
    // Both present and equal is fine.
    let mut stream = bob
        .stream_with(&format!("?since=1&auth={cred}"), &[("last-event-id", "1")])
        .await?
        .expect_open()
        .await?;
    stream.until_ready(EVENT_WAIT).await?;
    // Nothing after the cursor: ready is the cursor.
    let mut stream = bob.stream(Some(2)).await?.expect_open().await?;
    let (replayed, ready) = stream.until_ready(EVENT_WAIT).await?;
    check!(replayed.is_empty(), "nothing to replay after since=2");
    check_eq!(
        ready,
        json!({"seq": 2}),
        "ready of a resumed stream with nothing to replay"
    );
    Ok(())
}

async fn params(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let bad = "auth=1:00";
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("?since=-1&{bad}"), vec![]),
        (format!("?since=x&{bad}"), vec![]),
        (format!("?since=9007199254740992&{bad}"), vec![]),
        (format!("?{bad}"), vec![("last-event-id", "x")]),
        (format!("?{bad}"), vec![("last-event-id", "-3")]),
        (format!("?since=1&{bad}"), vec![("last-event-id", "2")]),
        // §7.4, §8.2: one grammar, digits only, in the query and in the header alike.
        (format!("?since=%2B1&{bad}"), vec![]),
        (format!("?{bad}"), vec![("last-event-id", "+1")]),
    ];
    for (query, headers) in cases {
        let resp = user
            .stream_with(&query, &headers)
            .await?
            .into_resp()
            .await?;
        expect_code(
            resp,
            400,
            "malformed_request",
            &format!("{query} {headers:?}"),
        )?;
    }
    Ok(())
}

async fn several(s: Single) -> CaseResult {
    let (alice, bob) = two_users(&s.server).await?;
    let mut one = bob.stream(None).await?.expect_open().await?;
    let mut two = bob.stream(Some(0)).await?.expect_open().await?;
    one.until_ready(EVENT_WAIT).await?;
    two.until_ready(EVENT_WAIT).await?;
    let (_, env) = alice.send_ok(&bob.peer(), "both").await?;
    for (name, stream) in [("first", &mut one), ("second", &mut two)] {
        let message = stream.next_message(EVENT_WAIT).await?;
        check_eq!(
            message["id"],
            json!(message_id(&env)),
            "the {name} stream's message"
        );
    }
    Ok(())
}

async fn keepalive(s: Single) -> CaseResult {
    let Some(interval) = s.env.keepalive else {
        skip!(
            "the keep-alive interval of an external server is up to 15 s; run with --slow to \
             wait for it"
        );
    };
    let user = User::registered(&s.server).await?;
    let mut stream = user.stream(None).await?.expect_open().await?;
    stream.until_ready(EVENT_WAIT).await?;
    let within = interval + Duration::from_secs(2);
    for n in 1..=2 {
        match stream.next(within).await? {
            None => fail!("the server ended an idle stream"),
            Some(event) if event.is_comment() => {
                check!(
                    event.comments.iter().any(|c| c.trim() == "keep-alive"),
                    "expected `: keep-alive`, got {event:?}"
                );
            }
            Some(event) => fail!("an idle stream sent {event:?} (keep-alive {n} expected)"),
        }
    }
    Ok(())
}
