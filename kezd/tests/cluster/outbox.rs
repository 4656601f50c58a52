//! Two instances of one server drain one outbox (SPEC §9.5, DESIGN §3): both are
//! `cluster.test`, share the database, and deliver to a third server, the testnet's rogue
//! peer answering slowly so deliveries overlap. Every message reaches it exactly once — once
//! in its accepted list and in exactly one transaction it accepted — and each sender's
//! messages arrive in the order they were sent.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kez_spec::{Primary, ServerName};
use kez_testnet::Testnet;
use kez_testnet::rogue::{self, Behaviour, RogueOptions, RoguePeer};
use serde_json::json;

use crate::common::kez::{Api, LIVENESS, User, now_ms};
use crate::harness::{Kezd, Options, Services, prefix};

const SENDERS: usize = 3;
const PER_SENDER: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_each_remote_message_once() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    // A testnet without kezd nodes: its DNS server and CA, for the rogue peer.
    let net = Testnet::builder(env!("CARGO_BIN_EXE_kezd"))
        .start()
        .await
        .expect("testnet starts");
    let rogue = RoguePeer::start(
        &net,
        "rogue.test",
        RogueOptions::new().behaviour(Behaviour::Slow(Duration::from_millis(100))),
    )
    .await
    .expect("rogue starts");
    let options = cluster_options(&services, &net);
    let (a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));
    let senders = register_senders(&a).await;
    let sent = send_alternating(&senders, [a.api.clone(), b.api.clone()], &rogue).await;
    let total = SENDERS * PER_SENDER;

    let accepted = rogue.wait_accepted(total, LIVENESS * 6).await;
    assert_eq!(
        accepted.len(),
        total,
        "every message delivered; A's log:\n{}\nB's log:\n{}",
        a.log_tail(),
        b.log_tail()
    );
    assert_once_in_order(&accepted, &senders, &sent);
    assert_one_transaction_each(&rogue, total);
}

/// Both instances are `cluster.test` on the shared services. Plain HTTP on the cluster side;
/// federation out of it is HTTPS to the rogue, trusting the testnet CA and resolving through
/// the testnet DNS.
fn cluster_options(services: &Services, net: &Testnet) -> Options {
    let mut options = Options::new(services, &prefix());
    options.server_name = "cluster.test".to_owned();
    options.extra_toml = format!(
        "[federation]\nresolver = \"{}\"\nextra_roots = [{}]\nallow_private_addresses = true\n\
         backoff_initial_secs = 1\nbackoff_max_secs = 2\n",
        net.dns().addr(),
        toml::Value::String(net.ca().ca_pem_path().display().to_string()),
    );
    options
}

/// The senders, registered on the cluster through instance `a`.
async fn register_senders(a: &Kezd) -> Vec<User> {
    let cluster = ServerName::parse("cluster.test").expect("server name");
    let senders: Vec<User> = (0..SENDERS)
        .map(|n| {
            let mut user = User::new(&format!("sender{n}"), 10 + u32::try_from(n).expect("small"));
            user.server = cluster.clone();
            user
        })
        .collect();
    for user in &senders {
        let response = a
            .api
            .post_json(
                "/v1/register",
                &user.registration_on("cluster.test", now_ms()),
            )
            .await;
        assert_eq!(response.status(), 201, "registering {}", user.handle);
    }
    senders
}

/// Each sender sends to the rogue's mallory in order, alternating between the instances; the
/// senders at once. Returns each sender's message ids in the order sent.
async fn send_alternating(senders: &[User], via: [Api; 2], rogue: &RoguePeer) -> Vec<Vec<String>> {
    let mallory = rogue.address("mallory");
    let mallory_primary = Primary::from(&rogue.user("mallory"));
    futures_util::future::join_all(senders.iter().map(|user| {
        let via = via.clone();
        let mallory = mallory.clone();
        async move {
            let mut ids = Vec::new();
            for n in 0..PER_SENDER {
                let envelope =
                    user.envelope_to(&mallory, &mallory_primary, now_ms(), &format!("m{n}"));
                let response = via[n % 2]
                    .post_json(
                        "/v1/messages",
                        &json!({"to": mallory.to_string(), "envelope": envelope}),
                    )
                    .await;
                let status = response.status();
                let answer: serde_json::Value = response.json().await.expect("JSON answer");
                assert_eq!(status, 202, "{answer}");
                ids.push(answer["id"].as_str().expect("id").to_owned());
            }
            ids
        }
    }))
    .await
}

/// Accepted once each, and per sender in the order sent.
fn assert_once_in_order(accepted: &[serde_json::Value], senders: &[User], sent: &[Vec<String>]) {
    let mut by_sender: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for envelope in accepted {
        let from = envelope["from"].as_str().expect("from").to_owned();
        by_sender
            .entry(from)
            .or_default()
            .push(rogue::message_id(envelope));
    }
    for (user, ids) in senders.iter().zip(sent) {
        assert_eq!(
            by_sender.get(&user.address().to_string()),
            Some(ids),
            "{}'s messages, in order",
            user.handle
        );
    }
}

/// No envelope travelled in two transactions: the two instances never both held one.
fn assert_one_transaction_each(rogue: &RoguePeer, total: usize) {
    let mut transactions: HashMap<String, Vec<String>> = HashMap::new();
    for txn in rogue.received() {
        for envelope in txn.body["envelopes"].as_array().expect("envelopes") {
            transactions
                .entry(rogue::message_id(envelope))
                .or_default()
                .push(txn.txn_id.clone());
        }
    }
    assert_eq!(transactions.len(), total);
    for (id, txns) in &transactions {
        assert_eq!(txns.len(), 1, "{id} was sent in {txns:?}");
    }
}
