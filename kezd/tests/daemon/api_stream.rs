//! The live inbox stream, Server-Sent Events over real HTTP (SPEC §7.3, §7.4, §8.5): event
//! framing, replay then live without gap or duplicate, resumption, keep-alives, fan-out to
//! several streams, shutdown, and the credential rules that keep history out of a logged URL.

use crate::common;

use common::kez::{Api, SseStream, User, expect_error, now_ms, now_secs, start};
use futures_util::future::join_all;
use serde_json::{Value, json};

/// A server with alice (sender) and bob (recipient) registered.
async fn alice_and_bob(
    edit: impl FnOnce(&mut kezd::config::RawConfig),
) -> (common::TestServer, Api, User, User) {
    let server = start(|raw| {
        raw.rate.sender_per_minute = 100_000;
        raw.rate.recipient_per_minute = 100_000;
        raw.rate.recipient_strangers_per_minute = 100_000;
        edit(raw);
    })
    .await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    (server, api, alice, bob)
}

/// alice sends `text` to bob; returns the seq.
async fn send(api: &Api, alice: &User, bob: &User, text: &str) -> u64 {
    let answer = api.send_ok(&alice.envelope(bob, now_ms(), text)).await;
    answer["seq"].as_u64().expect("seq")
}

/// The next event must be the message with `seq`; returns its item.
async fn expect_seq(stream: &mut SseStream, seq: u64) -> Value {
    let item = stream.expect_message().await;
    assert_eq!(item["seq"], seq, "{item}");
    item
}

fn seqs(items: &[Value]) -> Vec<u64> {
    items
        .iter()
        .map(|item| item["seq"].as_u64().expect("seq"))
        .collect()
}

/// SPEC §8.5, §7.3: a live-only stream starts with `retry: 3000`, announces `ready` with the
/// latest seq (replaying nothing), then pushes each new message as `id: <seq>`,
/// `event: message` and the poll item as data, which the recipient verifies and opens.
#[tokio::test]
async fn live_stream_receives_messages_sent_after_it_opened() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    send(&api, &alice, &bob, "before 1").await;
    send(&api, &alice, &bob, "before 2").await;

    let mut stream = api.stream(&bob, None, false).await;
    let replayed = stream.expect_open(2).await;
    assert!(replayed.is_empty(), "a live-only stream replays nothing");

    send(&api, &alice, &bob, "live").await;
    let item = expect_seq(&mut stream, 3).await;
    let page = api.poll(&bob, 2).await;
    assert_eq!(item, page["messages"][0], "the data is the poll item");
    assert_eq!(bob.open(&item["envelope"]), "live");
}

/// SPEC §8.5, §7.4: after a disconnect, a stream resumed at the last seen seq (by `since`, or
/// by `Last-Event-ID`) replays exactly the missed messages, then `ready`, then live ones, with
/// no duplicate at the switch.
async fn resume_gets_exactly_the_missed_messages(by_header: bool) {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let mut first = api.stream(&bob, None, false).await;
    first.expect_open(0).await;
    send(&api, &alice, &bob, "m1").await;
    send(&api, &alice, &bob, "m2").await;
    expect_seq(&mut first, 1).await;
    let last_seen = expect_seq(&mut first, 2).await["seq"]
        .as_u64()
        .expect("seq");
    drop(first);

    send(&api, &alice, &bob, "m3").await;
    send(&api, &alice, &bob, "m4").await;
    let mut resumed = api.stream(&bob, Some(last_seen), by_header).await;
    let replayed = resumed.expect_open(4).await;
    assert_eq!(seqs(&replayed), [3, 4]);
    assert_eq!(bob.open(&replayed[0]["envelope"]), "m3");
    send(&api, &alice, &bob, "m5").await;
    expect_seq(&mut resumed, 5).await;
    send(&api, &alice, &bob, "m6").await;
    // Had anything been repeated, it would arrive before 6.
    expect_seq(&mut resumed, 6).await;
}

/// SPEC §7.4: resuming with `since=`.
#[tokio::test]
async fn resume_by_since() {
    resume_gets_exactly_the_missed_messages(false).await;
}

/// SPEC §7.4: resuming with `Last-Event-ID`, as EventSource does by itself.
#[tokio::test]
async fn resume_by_last_event_id() {
    resume_gets_exactly_the_missed_messages(true).await;
}

/// SPEC §8.5: a replay longer than one read of the store arrives whole and in order, and
/// messages acknowledged before the replay (SPEC §8.3) are not replayed.
#[tokio::test]
async fn long_replay_skips_acknowledged_messages() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let total = 300;
    // Eight concurrent senders' worth of load, from one sender: seqs are assigned in commit
    // order, so the set is 1..=total whatever the interleaving.
    let chunks: Vec<Vec<u64>> = (0..8u64)
        .map(|c| (0..total).filter(|n| n % 8 == c).collect())
        .collect();
    let (api_ref, alice_ref, bob_ref) = (&api, &alice, &bob);
    join_all(chunks.iter().map(|chunk| async move {
        for n in chunk {
            send(api_ref, alice_ref, bob_ref, &format!("m{n}")).await;
        }
    }))
    .await;
    assert_eq!(api.ack(&bob, 10).await, 10);

    let mut stream = api.stream(&bob, Some(0), false).await;
    let replayed = stream.expect_open(total).await;
    assert_eq!(seqs(&replayed), (11..=total).collect::<Vec<_>>());
}

/// SPEC §8.5: an idle stream carries `: keep-alive` comments at the configured interval
/// (`stream.keep_alive_secs`).
#[tokio::test]
async fn keep_alive_comment_when_idle() {
    let (_server, api, _alice, bob) = alice_and_bob(|raw| raw.stream.keep_alive_secs = 1).await;
    let mut stream = api.stream(&bob, None, false).await;
    stream.expect_open(0).await;
    let frame = stream.next_frame().await.expect("the stream stays open");
    assert!(frame.is_keep_alive(), "{frame:?}");
    let frame = stream.next_frame().await.expect("the stream stays open");
    assert!(frame.is_keep_alive(), "and again: {frame:?}");
}

/// SPEC §8.5: several streams for one handle each receive every message.
#[tokio::test]
async fn several_streams_for_one_handle_all_receive() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = api.stream(&bob, None, false).await;
        stream.expect_open(0).await;
        streams.push(stream);
    }
    send(&api, &alice, &bob, "to every tab").await;
    send(&api, &alice, &bob, "and again").await;
    let mut firsts = Vec::new();
    for stream in &mut streams {
        firsts.push(expect_seq(stream, 1).await);
        expect_seq(stream, 2).await;
    }
    assert!(firsts.windows(2).all(|w| w[0] == w[1]), "the same item");
}

/// SPEC §8.5 with graceful shutdown: a stream ends cleanly (the body completes, no reset)
/// when the server stops, well before the drain timeout would cut it.
#[tokio::test]
async fn stream_ends_cleanly_on_shutdown() {
    let (mut server, api, _alice, bob) =
        alice_and_bob(|raw| raw.http.drain_timeout_ms = 600_000).await;
    let mut stream = api.stream(&bob, None, false).await;
    stream.expect_open(0).await;
    server.signal_stop();
    // `next_frame` panics on a transport error or if nothing happens within LIVENESS.
    assert_eq!(stream.next_frame().await, None, "the body ends");
    server
        .join(common::kez::LIVENESS)
        .await
        .expect("serve returns cleanly");
}

/// SPEC §8.5, §7.4: `auth` absent is 400 `missing_auth`; a malformed or inconsistent cursor
/// is 400 `malformed_request`, both before the credential is looked at.
#[tokio::test]
async fn stream_parameter_errors() {
    let (_server, api, _alice, bob) = alice_and_bob(|_| {}).await;
    for query in ["", "?since=0"] {
        expect_error(
            api.stream_raw("bob", query, None).await,
            400,
            "missing_auth",
        )
        .await;
    }
    let auth = bob.stream_credential(Some(2), now_secs());
    let cases = [
        (format!("?since=2&auth={auth}"), Some("3")),
        (format!("?since=x&auth={auth}"), None),
        (format!("?since=-1&auth={auth}"), None),
        (format!("?since=%2B2&auth={auth}"), None),
        (format!("?auth={auth}"), Some("abc")),
        (format!("?auth={auth}"), Some("+2")),
        (format!("?auth={auth}"), Some("2.0")),
        (format!("?auth={auth}"), Some("")),
    ];
    for (query, header) in cases {
        expect_error(
            api.stream_raw("bob", &query, header).await,
            400,
            "malformed_request",
        )
        .await;
    }
    // Equal `since` and `Last-Event-ID` are one cursor.
    let response = api
        .stream_raw("bob", &format!("?since=2&auth={auth}"), Some("2"))
        .await;
    assert_eq!(response.status(), 200);
}

/// SPEC §7.3, §7.4, §7.7: every credential failure is 401 `unauthorized`; in particular a
/// live-only credential cannot replay history (with `since=` or `Last-Event-ID`), and poll and
/// stream credentials do not replay as each other.
#[tokio::test]
async fn stream_credential_failures() {
    let (_server, api, alice, bob) = alice_and_bob(|_| {}).await;
    let now = now_secs();
    let live = bob.stream_credential(None, now);
    let cursor0 = bob.stream_credential(Some(0), now);
    let poll0 = bob.poll_credential(0, now);
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        (
            "live credential with since",
            format!("?since=0&auth={live}"),
            None,
        ),
        (
            "live credential with Last-Event-ID",
            format!("?auth={live}"),
            Some("0"),
        ),
        (
            "cursor credential without cursor",
            format!("?auth={cursor0}"),
            None,
        ),
        (
            "cursor credential, other cursor",
            format!("?since=1&auth={cursor0}"),
            None,
        ),
        ("poll credential as live", format!("?auth={poll0}"), None),
        (
            "poll credential with since",
            format!("?since=0&auth={poll0}"),
            None,
        ),
        (
            "stale",
            format!("?auth={}", bob.stream_credential(None, now - 120)),
            None,
        ),
        (
            "alice's",
            format!("?auth={}", alice.stream_credential(None, now)),
            None,
        ),
        ("malformed", "?auth=garbage".to_owned(), None),
        ("empty", "?auth=".to_owned(), None),
    ];
    for (case, query, header) in &cases {
        let response = api.stream_raw("bob", query, *header).await;
        assert_eq!(response.status(), 401, "{case}");
        expect_error(response, 401, "unauthorized").await;
    }
    for (case, handle) in [("unknown handle", "nobody"), ("invalid handle", "Bob")] {
        let response = api.stream_raw(handle, &format!("?auth={live}"), None).await;
        assert_eq!(response.status(), 401, "{case}");
    }
    // The reverse: stream credentials are not poll credentials.
    for credential in [&live, &cursor0] {
        expect_error(
            api.poll_raw("bob", "?since=0", Some(credential)).await,
            401,
            "unauthorized",
        )
        .await;
    }
    // The same credentials on the requests they sign are accepted.
    let ok = api.stream_raw("bob", &format!("?auth={live}"), None).await;
    assert_eq!(ok.status(), 200);
    let ok = api
        .stream_raw("bob", &format!("?auth={cursor0}"), Some("0"))
        .await;
    assert_eq!(ok.status(), 200);
    let page = api.poll_raw("bob", "", Some(&poll0)).await;
    assert_eq!(
        page.json::<Value>().await.expect("page"),
        json!({"messages": [], "next_since": 0})
    );
}
