//! Several kezd processes as one cluster (DESIGN §3 "One machine, then many"): the real
//! binary, twice, on one PostgreSQL database and one NATS, each on its own port as behind a
//! load balancer. What one instance accepts, every instance serves; streams stay exact (no
//! gap, no duplicate, in seq order) when an instance is killed or NATS goes away; and the
//! instances share one outbox without delivering a message twice.
//!
//! Runs when both `KEZ_TEST_POSTGRES_URL` and `KEZ_TEST_NATS_URL` are set (`.ci/run` sets
//! them); then unreachable services fail the tests. Otherwise every test passes without
//! running, except `shared_key`, which needs neither. Each test makes its own database and NATS subject prefix.
//!
//! | module | what |
//! | --- | --- |
//! | `harness` | the services, `kezd serve` processes, a `nats-server` of the test's own |
//! | `streams` | streams across instances, resuming on B after A is killed, lost publishes |
//! | `nats_outage` | NATS stopped and restarted during sends; instances started while it is down |
//! | `outbox` | two instances draining one outbox to a third server |
//! | `shared_key` | instances started together on one empty `data_dir` share one server key |
//! | `rate_limits` | the quotas the server document publishes are the cluster's |
//! | `admin` | a suspension or a block made through one instance, or with none, holds on all |
//! | `deletion` | an account deleted through one instance: its stream on the other ends, sends to it are refused |

#[allow(dead_code)] // The store suite's backends; these tests use only PostgreSQL.
#[path = "../store/backend.rs"]
mod backend;
#[path = "../common/mod.rs"]
mod common;

mod harness;
#[path = "../support/skipped.rs"]
mod skipped;

mod admin;
mod deletion;
mod nats_outage;
mod outbox;
mod rate_limits;
mod shared_key;
mod streams;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::kez::{Api, LIVENESS, SseStream, User, now_ms};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// One sender's messages to one recipient, sent one after another (so seqs follow the send
/// order) in batches the test asks for, round-robin through the given instances. Every send
/// must be answered 201; `(seq, id)` of each is recorded.
pub struct Sends {
    acked: watch::Receiver<Vec<(u64, String)>>,
    go: mpsc::UnboundedSender<usize>,
    task: JoinHandle<()>,
}

impl Sends {
    /// Starts the sender from `from` to `to`; it sends nothing until asked to.
    pub fn spawn(via: Vec<Api>, from: Arc<User>, to: Arc<User>) -> Sends {
        let (acked_tx, acked) = watch::channel(Vec::new());
        let (go, mut batches) = mpsc::unbounded_channel::<usize>();
        let task = tokio::spawn(async move {
            let mut n = 0usize;
            while let Some(batch) = batches.recv().await {
                for _ in 0..batch {
                    let api = &via[n % via.len()];
                    let sent = api
                        .send_ok(&from.envelope(&to, now_ms(), &format!("m{n}")))
                        .await;
                    let seq = sent["seq"].as_u64().expect("seq");
                    let id = sent["id"].as_str().expect("id").to_owned();
                    acked_tx.send_modify(|acked| acked.push((seq, id)));
                    n += 1;
                    // Spread the batch over time, so it overlaps what the test does meanwhile.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        });
        Sends { acked, go, task }
    }

    /// Asks for `n` more sends (after the ones already asked for).
    pub fn send(&self, n: usize) {
        self.go.send(n).expect("the sender runs");
    }

    /// Waits until at least `n` sends are acknowledged.
    pub async fn wait_acked(&mut self, n: usize) {
        tokio::time::timeout(LIVENESS * 3, self.acked.wait_for(|acked| acked.len() >= n))
            .await
            .expect("sends acknowledged in time")
            .expect("the sender runs");
    }

    /// Waits for every requested send; seq → id of each.
    pub async fn finish(self) -> BTreeMap<u64, String> {
        drop(self.go);
        tokio::time::timeout(LIVENESS * 3, self.task)
            .await
            .expect("sends finish in time")
            .expect("every send answered 201");
        let acked = self.acked.borrow().clone();
        let map: BTreeMap<u64, String> = acked.iter().cloned().collect();
        // The recipient's inbox holds only these: its seqs are 1..=n.
        let want: Vec<u64> = (1..=acked.len() as u64).collect();
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), want, "{acked:?}");
        map
    }
}

/// Reads messages from `stream` until one with seq ≥ `through`.
pub async fn read_through(stream: &mut SseStream, through: u64) -> Vec<Value> {
    let read = async {
        let mut items: Vec<Value> = Vec::new();
        while items
            .last()
            .is_none_or(|item| item["seq"].as_u64().expect("seq") < through)
        {
            items.push(stream.expect_message().await);
        }
        items
    };
    tokio::time::timeout(LIVENESS * 3, read)
        .await
        .unwrap_or_else(|_| panic!("messages through seq {through} in time"))
}

/// `items` are exactly the acknowledged messages with seq `first..`, once each, in seq order.
pub fn assert_exact(items: &[Value], first: u64, acked: &BTreeMap<u64, String>, what: &str) {
    let seqs: Vec<u64> = items
        .iter()
        .map(|item| item["seq"].as_u64().expect("seq"))
        .collect();
    let want: Vec<u64> = acked.range(first..).map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, want, "{what}: no gap, no duplicate, in seq order");
    for item in items {
        let seq = item["seq"].as_u64().expect("seq");
        assert_eq!(
            item["id"],
            acked[&seq].as_str(),
            "{what}: seq {seq} is its message"
        );
    }
}
