//! Streams across instances: a stream on one instance follows sends through the other; a
//! client whose instance is killed resumes on the other with `Last-Event-ID` and misses
//! nothing; a publish that never reaches the other instance is caught up at its keep-alive.

use std::sync::Arc;

use crate::common::kez::{LIVENESS, User, now_ms};
use crate::harness::{Kezd, Options, Services, prefix};
use crate::{Sends, assert_exact, read_through};

/// A user registered on one instance is known to the other, and a message sent through
/// either reaches a live stream open on either, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_users_inboxes_and_live_streams() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let options = Options::new(&services, &prefix());
    let (a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));

    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    a.api.register_ok(&alice).await;
    b.api.register_ok(&bob).await;

    // bob streams from both instances; alice sends through either.
    let mut on_a = a.api.stream(&bob, None, false).await;
    let mut on_b = b.api.stream(&bob, None, false).await;
    assert!(on_a.expect_open(0).await.is_empty());
    assert!(on_b.expect_open(0).await.is_empty());
    for (n, via) in [&a, &b, &a].into_iter().enumerate() {
        let text = format!("m{n}");
        let sent = via
            .api
            .send_ok(&alice.envelope(&bob, now_ms(), &text))
            .await;
        let seq = u64::try_from(n + 1).expect("small");
        assert_eq!(sent["seq"], seq, "{sent}");
        for stream in [&mut on_a, &mut on_b] {
            let item = stream.expect_message().await;
            assert_eq!(item["seq"], seq, "{item}");
            assert_eq!(bob.open(&item["envelope"]), text);
        }
    }
    // Both instances read the same inbox.
    assert_eq!(a.api.poll_all(&bob).await, b.api.poll_all(&bob).await);
    // Each instance counts what crossed the broker: a's two sends reached b, b's one reached a.
    for (kezd, crossed) in [(&a, 1.0), (&b, 2.0)] {
        let received = kezd.metric("kezd_broker_messages_received_total").await;
        assert!(
            received >= crossed,
            "{received} received, want >= {crossed}"
        );
        assert!(kezd.metric("kezd_broker_bytes_received_total").await > 0.0);
        assert!(kezd.metric("kezd_broker_messages_sent_total").await >= 3.0 - crossed);
    }
}

/// SPEC §8.5 across a crash: bob follows his stream on A while alice sends through B; A is
/// killed with SIGKILL mid-stream; bob reconnects to B with `Last-Event-ID` = the last seq he
/// saw while the sends go on, and gets every message exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stream_resumes_on_the_other_instance_after_kill_9() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let options = Options::new(&services, &prefix());
    let (mut a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));
    let alice = Arc::new(User::new("alice", 1));
    let bob = Arc::new(User::new("bob", 2));
    b.api.register_ok(&alice).await;
    b.api.register_ok(&bob).await;

    let mut on_a = a.api.stream(&bob, None, false).await;
    assert!(on_a.expect_open(0).await.is_empty());
    let sends = Sends::spawn(vec![b.api.clone()], alice.clone(), bob.clone());
    sends.send(30);
    let before = read_through(&mut on_a, 20).await;
    a.kill().await;
    drop(on_a);
    let last_seen = before.last().expect("messages")["seq"]
        .as_u64()
        .expect("seq");

    // The sends go on through B while bob reconnects there.
    sends.send(30);
    let mut on_b = b.api.stream(&bob, Some(last_seen), true).await;
    on_b.expect_retry().await;
    let mut after = Vec::new();
    let ready = loop {
        let frame = on_b.next_event().await;
        match frame.event.as_deref() {
            Some("message") => {
                after.push(
                    serde_json::from_str(frame.data.as_deref().expect("data")).expect("JSON"),
                );
            }
            Some("ready") => {
                let data: serde_json::Value =
                    serde_json::from_str(frame.data.as_deref().expect("data")).expect("JSON");
                break data["seq"].as_u64().expect("ready seq");
            }
            _ => panic!("unexpected frame {frame:?}"),
        }
    };
    let replayed_through = after.last().map_or(last_seen, |item: &serde_json::Value| {
        item["seq"].as_u64().expect("seq")
    });
    assert_eq!(ready, replayed_through, "ready names the last replayed seq");
    let acked = sends.finish().await;
    let total = *acked.keys().last().expect("sends");
    if replayed_through < total {
        after.extend(read_through(&mut on_b, total).await);
    }
    let seen: Vec<serde_json::Value> = before.into_iter().chain(after).collect();
    assert_exact(
        &seen,
        1,
        &acked,
        "A until the kill, then B from Last-Event-ID",
    );
}

/// A message whose NATS publish never reaches the other instance (here A and B announce on
/// different subject prefixes, as if every publish of A's were lost) reaches a live stream on
/// B within a keep-alive period, although no later message reveals the gap (SPEC §8.5: a
/// subscriber is caught up from storage, never skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_publish_reaches_the_other_instance_at_keep_alive() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let mut options = Options::new(&services, &prefix());
    options.keep_alive_secs = 1;
    let mut isolated = options.clone();
    isolated.broker_prefix = prefix();
    let (a, b) = tokio::join!(Kezd::start(&isolated), Kezd::start(&options));
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    a.api.register_ok(&alice).await;
    a.api.register_ok(&bob).await;

    let mut on_b = b.api.stream(&bob, None, false).await;
    assert!(on_b.expect_open(0).await.is_empty());
    for n in 1..=3u64 {
        let sent = a
            .api
            .send_ok(&alice.envelope(&bob, now_ms(), &format!("m{n}")))
            .await;
        assert_eq!(sent["seq"], n, "{sent}");
        // Each message is the newest: nothing after it reveals a gap. LIVENESS bounds the
        // wait, far above the 1 s keep-alive.
        let item = tokio::time::timeout(LIVENESS, on_b.expect_message())
            .await
            .expect("the message reaches B's stream by its keep-alive check");
        assert_eq!(item["seq"], n, "{item}");
        assert_eq!(item["id"], sent["id"]);
        assert_eq!(bob.open(&item["envelope"]), format!("m{n}"));
    }
}
