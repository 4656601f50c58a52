//! One address against the memory budget: an attacker opens many `POST /v1/messages` whose
//! `Content-Length` is the largest a message may be, sends one byte of each and stops. Each
//! declared body is reserved before it is read, so without a per-address share the attacker
//! fills the whole budget and every other client's request gets 503. kezd must let the
//! attacker's address hold only `[http] max_inflight_bytes_per_address`, answer its requests
//! past that with 429 `rate_limited` and `Retry-After`, and keep serving an honest client on
//! another address, whose sends all succeed meanwhile.

use std::time::Duration;

use futures_util::future::join_all;
use kez_conformance::user::User;
use kez_conformance::{Fail, fail};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::observe::{require_gauge, wait_gauge};
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, HONEST, Reply};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "budget_share",
    proves: "one address declaring more large bodies than its share gets 429 rate_limited \
             past max_inflight_bytes_per_address and cannot fill the budget; an honest \
             client's sends from another address succeed meanwhile",
    timeout: Duration::from_secs(90),
    run,
};

/// The budget, the attacker's share of it, and the largest message body (the default).
const BUDGET: u64 = 32 * 1024 * 1024;
const SHARE: u64 = 8 * 1024 * 1024;
const BODY: u64 = 262_144;

/// Bodies the attacker declares: 40 MiB, more than the whole budget.
const BODIES: u64 = 160;

/// Honest sends while the attack holds.
const HONEST_SENDS: usize = 5;

/// How long a held body waits unanswered before it counts as held (the refused ones are
/// answered at once).
const HOLD_SEEN: Duration = Duration::from_secs(10);

const SETTINGS: &[(&str, &str)] = &[
    ("http.max_inflight_bytes", "33554432"),
    ("http.max_inflight_bytes_per_address", "8388608"),
    // Only the deadline ends a held body, and not before the scenario is done with it.
    ("http.body_timeout_ms", "60000"),
    ("http.body_min_bytes_per_sec", "0"),
    // The attacker's requests are refused by its share, not by the request rate.
    ("rate.client_per_minute", "100000"),
];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let honest = User::registered(&daemon.server_from(HONEST).await?).await?;
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {BODY}\r\n\r\n{{",
        daemon.host()
    );
    let mut streams = Vec::new();
    for _ in 0..BODIES {
        let mut stream = wire::connect_from(ATTACKER, daemon.addr(), None)
            .await
            .map_err(|e| Fail::Fail(format!("connecting: {e}")))?;
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| Fail::Fail(format!("writing a head: {e}")))?;
        streams.push(stream);
    }
    let observer = daemon.observer().clone();
    let (held_bytes, filled) = wait_gauge(&observer, "kezd_inflight_bytes", HOLD_SEEN, |v| {
        v >= SHARE as f64
    })
    .await?;
    if !filled {
        fail!("the attacker's {BODIES} declared bodies hold only {held_bytes} bytes");
    }

    // The honest client sends while the attacker holds its share.
    let mut honest_ok = 0;
    for n in 0..HONEST_SENDS {
        honest
            .send_ok(&honest.peer(), &format!("honest {n}"))
            .await
            .map_err(|e| Fail::Fail(format!("honest send {n} while the attack holds: {e}")))?;
        honest_ok += 1;
    }
    let in_flight = require_gauge(&observer, "kezd_inflight_bytes").await?;

    let deadline = Instant::now() + HOLD_SEEN;
    let replies = join_all(
        streams
            .iter_mut()
            .map(|stream| wire::read_reply(stream, deadline)),
    )
    .await;
    let mut held = 0u64;
    let mut refused = 0u64;
    for reply in &replies {
        match reply {
            Reply::Silent => held += 1,
            Reply::Answer(answer) => {
                answer.expect_error("a body past the share", 429, &["rate_limited"])?;
                answer.expect_retry_after("429")?;
                refused += 1;
            }
            Reply::Closed => fail!("a declared body's connection was closed without an answer"),
        }
    }
    // Exactly a share's worth is held: refusals start when it is full, not before, and none
    // of the bodies past it is reserved.
    if held != SHARE / BODY || in_flight > (SHARE + BODY) as f64 {
        fail!(
            "the attacker's address holds {held} bodies ({} bytes), {in_flight} bytes in \
             flight; its share is {SHARE} ({} bodies)",
            held * BODY,
            SHARE / BODY
        );
    }
    drop(streams);
    let (left, drained) =
        wait_gauge(&observer, "kezd_inflight_bytes", HOLD_SEEN, |v| v == 0.0).await?;
    if !drained {
        fail!("{left} bytes still held after the attacker closed its connections");
    }
    daemon.check_alive().await?;
    Ok(vec![
        format!(
            "{BODIES} bodies of {BODY} bytes declared from one address (budget {BUDGET}, \
             share {SHARE}): {held} held, {refused} refused 429 rate_limited"
        ),
        format!(
            "{honest_ok} of {HONEST_SENDS} honest sends from another address succeeded; \
             {in_flight} bytes in flight meanwhile"
        ),
    ])
}
