//! Two kezd instances as a cluster (DESIGN §3 "One machine, then many"): one PostgreSQL
//! database, one NATS, two daemons on their own ports as behind a load balancer. A user
//! registered on one is known to the other, and a message sent through either reaches a live
//! stream open on either, in order, over real HTTP.
//!
//! Runs when both `KEZ_TEST_POSTGRES_URL` and `KEZ_TEST_NATS_URL` are set (see the README);
//! otherwise it passes without running.

#[allow(dead_code)] // The store suite's backends; this test uses only PostgreSQL.
#[path = "store/backend.rs"]
mod backend;
mod common;

use std::sync::Arc;

use common::kez::{Api, User, api_config, now_ms};
use kezd::broker::NatsBroker;
use kezd::state::AppState;
use kezd::store::{PostgresOptions, PostgresStore};
use rand_core::{OsRng, RngCore};
use tokio::net::TcpListener;

/// One kezd of the cluster: its own pool and NATS connection, serving until dropped.
struct Instance {
    api: Api,
    _task: tokio::task::JoinHandle<Result<(), kezd::server::ServeError>>,
}

async fn instance(db: &backend::Postgres, nats: &str, prefix: &str) -> Instance {
    let config = api_config(|raw| {
        raw.rate.sender_per_minute = 100_000;
        raw.rate.recipient_per_minute = 100_000;
    });
    let store = PostgresStore::open(PostgresOptions::new(db.url()))
        .await
        .expect("open postgres store");
    let broker = NatsBroker::connect(nats, prefix)
        .await
        .unwrap_or_else(|e| panic!("KEZ_TEST_NATS_URL is set but NATS is unreachable: {e:?}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = kezd::handlers::routes(&config);
    let state =
        AppState::new(config, Arc::new(store), Arc::new(broker), None, router).expect("state");
    let task = tokio::spawn(kezd::serve(listener, state, std::future::pending::<()>()));
    Instance {
        api: Api::new(format!("http://{addr}")),
        _task: task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_users_inboxes_and_live_streams() {
    let Some(nats) = std::env::var("KEZ_TEST_NATS_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    let Some(db) = backend::Postgres::from_env().await else {
        return;
    };
    let mut nonce = [0u8; 6];
    OsRng.fill_bytes(&mut nonce);
    let prefix = format!("kez_test_{}.chat", hex::encode(nonce));
    let a = instance(&db, &nats, &prefix).await;
    let b = instance(&db, &nats, &prefix).await;

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
}
