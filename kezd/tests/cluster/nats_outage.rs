//! NATS is stopped (SIGKILL) and restarted while messages are sent through both instances:
//! sends keep being acknowledged (the store, not NATS, is the source of truth), and streams on
//! both instances get every acknowledged message exactly once, in seq order — the ones whose
//! announcements were lost are read from the store when the instances reconnect. And NATS down
//! when the instances start: they serve, and connect when it is back.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::kez::{LIVENESS, User, now_ms};
use crate::harness::{Kezd, NatsServer, Options, Services, prefix};
use crate::{Sends, assert_exact, read_through};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_restart_during_sends_loses_nothing() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let mut nats = NatsServer::start().await;
    let mut options = Options::new(&services, &prefix());
    options.broker_url = nats.url();
    // The default keep-alive (15 s, longer than the test's waits): what is caught up here is
    // caught up by the reconnect, not by the keep-alive check.
    options.keep_alive_secs = 15;
    let (a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));
    let alice = Arc::new(User::new("alice", 1));
    let bob = Arc::new(User::new("bob", 2));
    a.api.register_ok(&alice).await;
    b.api.register_ok(&bob).await;

    let mut on_a = a.api.stream(&bob, None, false).await;
    let mut on_b = b.api.stream(&bob, None, false).await;
    assert!(on_a.expect_open(0).await.is_empty());
    assert!(on_b.expect_open(0).await.is_empty());

    let mut sends = Sends::spawn(vec![a.api.clone(), b.api.clone()], alice, bob);
    sends.send(20);
    sends.wait_acked(10).await;
    nats.stop().await;
    sends.send(20);
    sends.wait_acked(30).await;
    nats.restart().await;
    sends.send(20);
    let acked = sends.finish().await;
    let total = *acked.keys().last().expect("sends");
    assert_eq!(total, 60);

    let (on_a, on_b) = tokio::join!(
        read_through(&mut on_a, total),
        read_through(&mut on_b, total)
    );
    assert_exact(&on_a, 1, &acked, "the stream on A");
    assert_exact(&on_b, 1, &acked, "the stream on B");
}

/// The gauge of the broker's link on `kezd`, waited on until it reads `want` (bounded: the
/// client reconnects on its own schedule, seen from outside only through the metric).
async fn wait_for_broker(kezd: &Kezd, want: f64) {
    let deadline = tokio::time::Instant::now() + LIVENESS * 3;
    while kezd.metric("kezd_broker_connected").await != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "kezd_broker_connected never became {want}:\n{}",
            kezd.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Instances started during a NATS outage (a rolling restart meeting one) serve: sends are
/// acknowledged, polls and streams work, the gauge says the broker is down and the log says it
/// once. When NATS comes back both connect by themselves; a stream then catches up with what
/// another instance stored meanwhile and follows it live. The keep-alive is far longer than the
/// test, so what reaches the stream comes through the reconnect and NATS, not the keep-alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_start_and_serve_while_nats_is_down() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let mut nats = NatsServer::start().await;
    nats.stop().await;
    let mut options = Options::new(&services, &prefix());
    options.broker_url = nats.url();
    options.keep_alive_secs = 3600;
    options.log_level = "info";
    let (a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));
    for kezd in [&a, &b] {
        assert_eq!(kezd.metric("kezd_broker_connected").await, 0.0);
    }
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    a.api.register_ok(&alice).await;
    a.api.register_ok(&bob).await;

    // Durable without NATS: sent on A, read on B.
    let first = a.api.send_ok(&alice.envelope(&bob, now_ms(), "one")).await;
    let polled = b.api.poll_all(&bob).await;
    assert_eq!(polled.len(), 1);
    assert_eq!(polled[0]["id"], first["id"]);

    // A stream on A; B stores a message its NATS publish cannot announce.
    let mut on_a = a.api.stream(&bob, Some(1), false).await;
    assert!(on_a.expect_open(1).await.is_empty());
    let second = b.api.send_ok(&alice.envelope(&bob, now_ms(), "two")).await;

    nats.restart().await;
    wait_for_broker(&a, 1.0).await;
    wait_for_broker(&b, 1.0).await;
    let third = b
        .api
        .send_ok(&alice.envelope(&bob, now_ms(), "three"))
        .await;
    let got = read_through(&mut on_a, 3).await;
    let ids: Vec<&Value> = got.iter().map(|item| &item["id"]).collect();
    assert_eq!(ids, [&second["id"], &third["id"]], "caught up, then live");

    // One line when down, one when back, none for the client's retries in between.
    for kezd in [&a, &b] {
        let log = kezd.log();
        let nats_lines: Vec<&str> = log
            .lines()
            .filter(|line| line.to_ascii_lowercase().contains("nats"))
            .collect();
        assert_eq!(nats_lines.len(), 2, "{nats_lines:#?}");
        assert!(
            nats_lines[0].contains("WARN") && nats_lines[0].contains("NATS unreachable at start")
        );
        assert!(nats_lines[1].contains("INFO") && nats_lines[1].contains("connected to NATS"));
    }
}
