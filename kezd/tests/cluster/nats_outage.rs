//! NATS is stopped (SIGKILL) and restarted while messages are sent through both instances:
//! sends keep being acknowledged (the store, not NATS, is the source of truth), and streams on
//! both instances get every acknowledged message exactly once, in seq order — the ones whose
//! announcements were lost are read from the store when the instances reconnect.

use std::sync::Arc;

use crate::common::kez::User;
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
