//! Many senders, one recipient (SPEC §8.1, §8.2, §8.5): while 16 registered users send
//! concurrently, the recipient polls with a moving cursor and holds a live stream, and a
//! second stream resumes from 0 mid-flood. Every acknowledged message must reach each reader
//! exactly once, in seq order, without gaps.

use crate::common;

use std::collections::BTreeMap;

use common::kez::{Api, LIVENESS, SseStream, User, now_ms, now_secs, start};
use futures_util::future::join_all;
use serde_json::Value;
use tokio::sync::watch;

/// Concurrent senders, each a distinct registered user.
const SENDERS: u32 = 16;
/// Messages per sender, sent one after another.
const PER_SENDER: u64 = 16;
/// All messages.
const TOTAL: u64 = SENDERS as u64 * PER_SENDER;
/// A small page, so the poller pages many times during the flood.
const PAGE: u64 = 7;

/// Reads `TOTAL` message events from an opened stream (past its `retry`), checking `ready` on
/// the way; returns (seq, id) in arrival order.
async fn read_all(mut stream: SseStream) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    while (seen.len() as u64) < TOTAL {
        let frame = stream.next_event().await;
        match frame.event.as_deref() {
            Some("ready") => {
                // The switch to live comes right after the last replayed message (SPEC §8.5).
                let ready: Value =
                    serde_json::from_str(frame.data.as_deref().expect("data")).expect("JSON");
                let last = seen.last().map_or(0, |(seq, _)| *seq);
                assert_eq!(ready["seq"], last, "ready follows the replay");
                continue;
            }
            Some("message") => {}
            _ => panic!("unexpected frame {frame:?}"),
        }
        let item: Value = serde_json::from_str(frame.data.as_deref().expect("data")).expect("JSON");
        assert_eq!(frame.id, Some(item["seq"].to_string()));
        seen.push((
            item["seq"].as_u64().expect("seq"),
            item["id"].as_str().expect("id").to_owned(),
        ));
    }
    seen
}

/// Polls with a moving cursor until `TOTAL` messages are read; returns (seq, id) in order.
async fn poll_all(api: &Api, bob: &User) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    let mut since = 0;
    let deadline = tokio::time::Instant::now() + LIVENESS * 6;
    while (seen.len() as u64) < TOTAL {
        assert!(tokio::time::Instant::now() < deadline, "the poller starves");
        let credential = bob.poll_credential(since, now_secs());
        let response = api
            .poll_raw(
                "bob",
                &format!("?since={since}&limit={PAGE}"),
                Some(&credential),
            )
            .await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.expect("page");
        let messages = page["messages"].as_array().expect("messages");
        assert!(messages.len() as u64 <= PAGE);
        for item in messages {
            seen.push((
                item["seq"].as_u64().expect("seq"),
                item["id"].as_str().expect("id").to_owned(),
            ));
        }
        let next = page["next_since"].as_u64().expect("next_since");
        assert!(next >= since, "the cursor never moves back");
        since = next;
        if messages.is_empty() {
            // A polling client's interval between empty polls: the poller has no event to
            // wait for (the stream is the event-driven reader).
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    seen
}

/// Every reader saw exactly seqs 1..=TOTAL in order, each with the id the send was answered.
fn check_reader(name: &str, seen: &[(u64, String)], answered: &BTreeMap<u64, String>) {
    let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=TOTAL).collect::<Vec<_>>(),
        "{name}: every seq once, in order"
    );
    for (seq, id) in seen {
        assert_eq!(answered.get(seq), Some(id), "{name}: seq {seq}");
    }
}

/// SPEC §8.1, §8.2, §8.5: under 16 concurrent senders, the answers' seqs are exactly
/// 1..=TOTAL (each sender's increasing in its own order), and the poller, the live stream and
/// a stream resumed from 0 mid-flood each read every message exactly once, in seq order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_one_recipient() {
    let server = start(|raw| {
        raw.rate.sender_per_minute = 1_000_000;
        raw.rate.recipient_per_minute = 1_000_000;
        raw.rate.recipient_strangers_per_minute = 1_000_000;
    })
    .await;
    let api = Api::of(&server);
    let bob = User::new("bob", 1000);
    api.register_ok(&bob).await;
    let senders: Vec<User> = (0..SENDERS)
        .map(|n| User::new(&format!("sender{n}"), n))
        .collect();
    join_all(senders.iter().map(|s| api.register_ok(s))).await;

    let mut live = api.stream(&bob, None, false).await;
    live.expect_open(0).await;
    let live = tokio::spawn(read_all(live));
    let poller = tokio::spawn({
        let api = api.clone();
        let bob = User::new("bob", 1000);
        async move { poll_all(&api, &bob).await }
    });
    // Opens a second stream, resumed from 0, once a third of the flood is acknowledged, so its
    // switch from replay to live happens while messages keep arriving.
    let (answered_tx, mut answered_rx) = watch::channel(0u64);
    let resumed = tokio::spawn({
        let api = api.clone();
        let bob = User::new("bob", 1000);
        async move {
            answered_rx
                .wait_for(|n| *n >= TOTAL / 3)
                .await
                .expect("senders running");
            let mut stream = api.stream(&bob, Some(0), false).await;
            stream.expect_retry().await;
            read_all(stream).await
        }
    });

    let answers = join_all(senders.iter().map(|sender| {
        let (api, bob, answered_tx) = (&api, &bob, &answered_tx);
        async move {
            let mut seqs = Vec::new();
            for n in 0..PER_SENDER {
                let envelope = sender.envelope(bob, now_ms(), &format!("{} #{n}", sender.handle));
                let answer = api.send_ok(&envelope).await;
                seqs.push((
                    answer["seq"].as_u64().expect("seq"),
                    answer["id"].as_str().expect("id").to_owned(),
                ));
                answered_tx.send_modify(|count| *count += 1);
            }
            seqs
        }
    }))
    .await;

    let mut answered = BTreeMap::new();
    for seqs in &answers {
        assert!(
            seqs.windows(2).all(|w| w[0].0 < w[1].0),
            "a sender's sequential sends get increasing seqs: {seqs:?}"
        );
        for (seq, id) in seqs {
            assert!(
                answered.insert(*seq, id.clone()).is_none(),
                "seq {seq} twice"
            );
        }
    }
    assert_eq!(
        answered.keys().copied().collect::<Vec<_>>(),
        (1..=TOTAL).collect::<Vec<_>>(),
        "seqs are assigned without gaps"
    );

    for (name, reader) in [
        ("poller", poller),
        ("live stream", live),
        ("resumed stream", resumed),
    ] {
        let seen = tokio::time::timeout(LIVENESS * 6, reader)
            .await
            .expect("reader finishes")
            .expect("reader did not panic");
        check_reader(name, &seen, &answered);
    }
}
