//! Connection exhaustion: one address opens connections past `[http]
//! max_connections_per_address` (and past the server-wide `max_connections`) and holds them
//! with unfinished request heads. kezd must refuse what is over the per-address cap — closed
//! at once or 429 — so that one party cannot take every slot, and an honest client on another
//! loopback address (127.0.0.2) must still be served: its success rate is reported and must be
//! at least 99 %.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, HONEST, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "connection_exhaustion",
    proves: "one address cannot hold more than max_connections_per_address connections, and an \
             honest client on another address still gets ≥ 99 % of its requests answered",
    timeout: Duration::from_secs(60),
    run,
};

/// The per-address cap configured for the attack.
const PER_ADDRESS: usize = 16;

/// Connections the attacker opens: past the server-wide cap below, so that without a
/// per-address cap the attacker holds every slot.
const ATTACKER_CONNECTIONS: usize = 160;

/// Honest requests, each on a new connection (a pooled connection would hide a refusal).
const HONEST_REQUESTS: usize = 100;

/// Required share of honest requests answered 200.
const HONEST_SUCCESS_MIN: f64 = 0.99;

/// How long a connection over the cap may take to be refused.
const REFUSE_WITHIN: Duration = Duration::from_secs(3);

const SETTINGS: &[(&str, &str)] = &[
    ("http.max_connections", "128"),
    ("http.max_connections_per_address", "16"),
    // The attacker's unfinished heads must outlive the scenario: a header timeout that drops
    // them would free the slots and hide a missing cap.
    ("http.header_read_timeout_ms", "60000"),
];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let mut attackers = Vec::with_capacity(ATTACKER_CONNECTIONS);
    let mut refused_at_connect = 0usize;
    for _ in 0..ATTACKER_CONNECTIONS {
        match wire::connect_from(ATTACKER, daemon.addr(), None).await {
            Ok(mut stream) => {
                // An unfinished head: the connection is busy, not idle.
                let _ = stream.write_all(b"GET /v1/healthz HTTP/1.1\r\n").await;
                attackers.push(stream);
            }
            Err(_) => refused_at_connect += 1,
        }
    }
    // Each connection kezd refused is closed (or answered 429) soon; the others stay silent.
    let deadline = Instant::now() + REFUSE_WITHIN;
    let mut held = 0usize;
    let mut refused = refused_at_connect;
    let mut wrong = Vec::new();
    for stream in &mut attackers {
        match wire::read_reply(stream, deadline).await {
            Reply::Silent => held += 1,
            Reply::Closed => refused += 1,
            Reply::Answer(answer) => {
                refused += 1;
                if let Err(e) = answer
                    .expect_error(
                        "a connection over the per-address cap",
                        429,
                        &["too_many_connections", "rate_limited"],
                    )
                    .and_then(|()| answer.expect_retry_after("429"))
                {
                    wrong.push(e.to_string());
                }
            }
        }
    }

    let request = format!(
        "GET /v1/healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        daemon.host()
    );
    let mut honest_ok = 0usize;
    let mut first_honest_failure = None;
    for _ in 0..HONEST_REQUESTS {
        let reply = wire::exchange(
            HONEST,
            daemon.addr(),
            request.as_bytes(),
            Duration::from_secs(5),
        )
        .await;
        match reply {
            Ok(Reply::Answer(answer)) if answer.status == 200 => honest_ok += 1,
            Ok(other) => {
                first_honest_failure.get_or_insert(other.describe());
            }
            Err(Fail::Fail(e) | Fail::Skip(e)) => {
                first_honest_failure.get_or_insert(e);
            }
        }
    }
    drop(attackers);

    let rate = honest_ok as f64 / HONEST_REQUESTS as f64;
    let figures = format!(
        "attacker: {held} of {ATTACKER_CONNECTIONS} connections held, {refused} refused \
         (cap {PER_ADDRESS}); honest from {HONEST}: {honest_ok}/{HONEST_REQUESTS} answered 200 \
         ({:.1} %)",
        rate * 100.0
    );
    if rate < HONEST_SUCCESS_MIN {
        fail!(
            "{figures}; first honest failure: {}",
            first_honest_failure.unwrap_or_default()
        );
    }
    // The pooled connection of the readiness check may count against 127.0.0.1 too.
    if held > PER_ADDRESS {
        fail!("{figures}: one address holds more than max_connections_per_address");
    }
    if let Some(first) = wrong.first() {
        fail!("{figures}; a refusal was not the §10 answer: {first}");
    }
    daemon.check_alive().await?;
    Ok(vec![figures])
}
