//! The NATS broker (`kezd::broker::NatsBroker`) between two instances — two brokers with two
//! connections, as two kezd of a cluster have — and through an outage of the NATS server.
//!
//! Runs when `KEZ_TEST_NATS_URL` is set (e.g. `nats://127.0.0.1:4222`); without it each test
//! passes without running, so `cargo test` needs no NATS. When it is set, an unreachable
//! server fails the tests. Every test uses a subject prefix of its own, so runs never see each
//! other's messages. The outage test starts (and kills, and restarts) its own `nats-server`
//! from PATH on a free port, so it never disturbs the shared server.

#[path = "support/skipped.rs"]
mod skipped;

use std::time::{Duration, Instant};

use kezd::broker::{Broker, Event, NatsBroker, Published, Subscription};
use kezd::store::{NewMessage, Route, SqliteOptions, SqliteStore, Store, UserRecord};
use rand_core::{OsRng, RngCore};

const NATS_URL_VAR: &str = "KEZ_TEST_NATS_URL";

/// How long a test waits for an event that should come.
const WAIT: Duration = Duration::from_secs(5);

fn nats_url() -> Option<String> {
    let url = std::env::var(NATS_URL_VAR).ok().filter(|v| !v.is_empty());
    if url.is_none() {
        skipped::skipped("NATS", NATS_URL_VAR);
    }
    url
}

fn unique_prefix() -> String {
    let mut nonce = [0u8; 6];
    OsRng.fill_bytes(&mut nonce);
    format!("kez_test_{}.chat", hex::encode(nonce))
}

async fn broker(url: &str, prefix: &str) -> NatsBroker {
    match tokio::time::timeout(Duration::from_secs(10), NatsBroker::connect(url, prefix)).await {
        Ok(Ok(broker)) => broker,
        Ok(Err(e)) => panic!("{NATS_URL_VAR} is set but NATS at {url} is unreachable: {e:?}"),
        Err(_) => panic!("{NATS_URL_VAR} is set but NATS at {url} did not answer in 10 s"),
    }
}

fn msg(seq: u64) -> Published {
    Published {
        seq,
        data: format!(r#"{{"seq":{seq},"envelope":{{}}}}"#).into(),
    }
}

async fn next(sub: &mut Box<dyn Subscription>) -> Option<Event> {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("an event in time")
}

/// Asserts that nothing arrives for a moment.
async fn quiet(sub: &mut Box<dyn Subscription>) {
    let got = tokio::time::timeout(Duration::from_millis(300), sub.next()).await;
    assert!(got.is_err(), "unexpected event {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_published_on_one_instance_reaches_streams_on_both() {
    let Some(url) = nats_url() else { return };
    let prefix = unique_prefix();
    let (a, b) = (broker(&url, &prefix).await, broker(&url, &prefix).await);
    let mut on_a = a.subscribe("alice").await;
    let mut on_b = b.subscribe("alice").await;
    a.publish("alice", msg(1)).await;
    assert_eq!(next(&mut on_b).await, Some(Event::Message(msg(1))));
    // The publishing instance's own streams get it too, once: locally, not echoed by NATS.
    assert_eq!(next(&mut on_a).await, Some(Event::Message(msg(1))));
    b.publish("alice", msg(2)).await;
    assert_eq!(next(&mut on_a).await, Some(Event::Message(msg(2))));
    assert_eq!(next(&mut on_b).await, Some(Event::Message(msg(2))));
    quiet(&mut on_a).await;
    quiet(&mut on_b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_only_get_their_own_handle() {
    let Some(url) = nats_url() else { return };
    let prefix = unique_prefix();
    let (a, b) = (broker(&url, &prefix).await, broker(&url, &prefix).await);
    let mut alice = b.subscribe("alice").await;
    // Handles may contain dots, which are NATS token separators: still one recipient each.
    let mut dotted = b.subscribe("alice.smith").await;
    let mut bob = b.subscribe("bob").await;
    a.publish("alice.smith", msg(7)).await;
    a.publish("bob", msg(3)).await;
    a.publish("carol", msg(9)).await; // Nobody listens anywhere.
    assert_eq!(next(&mut dotted).await, Some(Event::Message(msg(7))));
    assert_eq!(next(&mut bob).await, Some(Event::Message(msg(3))));
    quiet(&mut alice).await;
    quiet(&mut dotted).await;
    quiet(&mut bob).await;
    // Another prefix is another cluster: nothing crosses.
    let other = broker(&url, &unique_prefix()).await;
    other.publish("bob", msg(4)).await;
    quiet(&mut bob).await;
}

/// A `nats-server` of this test's own, on a port that stays the same across restarts.
struct OwnServer {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnServer {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut server = OwnServer { port, child: None };
        server.restart().await;
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        let child = tokio::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH (KEZ_TEST_NATS_URL is set)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "nats-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().await.expect("kill nats-server");
    }
}

fn alice() -> UserRecord {
    UserRecord {
        handle: "alice".into(),
        primary: format!("ed25519:{}", "01".repeat(32)),
        registered_at_ms: 1,
        registration_json: "{}".into(),
    }
}

/// Stores a message (the source of truth) and announces it, as the send handler does.
async fn send(store: &dyn Store, broker: &NatsBroker, n: u64) {
    let accepted = store
        .accept(NewMessage {
            id: format!("m{n}"),
            sender: "zed@a.example".into(),
            route: Route::Local {
                handle: "alice".into(),
            },
            envelope_json: "{}".into(),
            ts_ms: 1,
            received_at_ms: 1,
        })
        .await
        .expect("accept");
    let seq = accepted.seq.expect("local");
    let started = Instant::now();
    broker.publish("alice", msg(seq)).await;
    // A publish never holds up a send, NATS or no NATS.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "publish blocked"
    );
}

/// NATS is killed and restarted: a subscriber on the other instance is told it lagged, and
/// reading the store from its cursor then gives every message committed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_lags_subscribers_and_the_store_fills_the_gap() {
    if nats_url().is_none() {
        return;
    }
    let mut server = OwnServer::start().await;
    let prefix = unique_prefix();
    let (a, b) = (
        broker(&server.url(), &prefix).await,
        broker(&server.url(), &prefix).await,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("kez.db")))
        .await
        .expect("store");
    store.register(alice()).await.expect("register");

    let mut stream = b.subscribe("alice").await;
    send(&store, &a, 1).await;
    assert_eq!(next(&mut stream).await, Some(Event::Message(msg(1))));
    let mut last = 1;

    server.kill().await;
    for n in 2..=3 {
        send(&store, &a, n).await;
    }
    server.restart().await;

    // What a stream does (handlers/stream.rs): an event in order is sent; a gap or Lagged
    // means reading the store after the cursor.
    let mut delivered = vec![1];
    let (mut lagged, mut sent_after) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while last < 4 {
        assert!(Instant::now() < deadline, "stuck at seq {last}");
        if lagged && last == 3 && !sent_after {
            // Caught up after the outage: the next send is live again.
            send(&store, &a, 4).await;
            sent_after = true;
        }
        let event = tokio::time::timeout(Duration::from_secs(15), stream.next())
            .await
            .expect("Lagged after the restart, then live messages");
        match event {
            Some(Event::Message(m)) if m.seq <= last => {}
            Some(Event::Message(m)) if m.seq == last + 1 => {
                last = m.seq;
                delivered.push(m.seq);
            }
            Some(Event::Message(_) | Event::Lagged) => {
                lagged = true;
                for m in store
                    .inbox("alice", last, 100, usize::MAX)
                    .await
                    .expect("inbox")
                {
                    assert_eq!(m.seq, last + 1, "the store has no gap");
                    last = m.seq;
                    delivered.push(m.seq);
                }
            }
            None => panic!("the broker shut down"),
        }
    }
    assert!(lagged, "the subscriber was told it lagged");
    assert_eq!(delivered, [1, 2, 3, 4], "nothing lost, nothing twice");
    drop(server);
}
