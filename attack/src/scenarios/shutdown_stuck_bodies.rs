//! Shutdown with stuck bodies: connections are trickling `POST /v1/messages` bodies (with a
//! body deadline far away) when kezd gets SIGTERM. A request stuck reading its body must be
//! answered promptly — 503 with `Retry-After` and the SPEC §10 body, so the client retries
//! elsewhere — rather than holding the drain for its whole `drain_timeout_ms` and then being
//! cut off without an answer; kezd then exits cleanly.

use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::observe::{CONNECTIONS, require_gauge, wait_gauge};
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "shutdown_stuck_bodies",
    proves: "on SIGTERM, requests stuck reading a trickled body get 503 with Retry-After and a \
             §10 body well before drain_timeout_ms, and kezd exits cleanly",
    timeout: Duration::from_secs(60),
    run,
};

/// The drain timeout configured; the answers must come well before it.
const DRAIN: Duration = Duration::from_secs(10);

/// How soon after SIGTERM a stuck body must be answered.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The trickle: 8 bytes every 50 ms, for at most 400 writes (20 s, past the drain).
const EVERY: Duration = Duration::from_millis(50);
const PIECES: usize = 400;

const SETTINGS: &[(&str, &str)] = &[
    ("http.drain_timeout_ms", "10000"),
    // Only the shutdown may end the bodies.
    ("http.body_timeout_ms", "60000"),
    ("http.body_min_bytes_per_sec", "1"),
];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let mut daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let open_before = require_gauge(daemon.observer(), CONNECTIONS).await?;
    let mut tricklers = Vec::new();
    for chunked in [false, true] {
        let stream = wire::connect_from(ATTACKER, daemon.addr(), None)
            .await
            .map_err(|e| Fail::Fail(format!("connecting: {e}")))?;
        let framing = if chunked {
            "Transfer-Encoding: chunked"
        } else {
            "Content-Length: 100000"
        };
        let head = format!(
            "POST /v1/messages HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             {framing}\r\n\r\n",
            daemon.host()
        );
        let piece = if chunked {
            b"8\r\naaaaaaaa\r\n".to_vec()
        } else {
            b"aaaaaaaa".to_vec()
        };
        let deadline = Instant::now() + DRAIN + ANSWER_WITHIN * 2;
        tricklers.push(tokio::spawn(async move {
            let (reply, _) = wire::trickle(
                stream,
                head.as_bytes(),
                vec![piece; PIECES],
                EVERY,
                deadline,
            )
            .await;
            (chunked, reply, Instant::now())
        }));
    }
    // Both connections accepted by kezd before the signal (a connection still in the accept
    // queue at SIGTERM is never served, and proves nothing here).
    let (open, accepted) = wait_gauge(
        daemon.observer(),
        CONNECTIONS,
        Duration::from_secs(5),
        |open| open >= open_before + 2.0,
    )
    .await?;
    if !accepted {
        fail!("kezd did not accept the two trickling connections ({open} open)");
    }
    let signalled = Instant::now();
    let (status, replies) = tokio::join!(daemon.stop(), join_all(tricklers));
    let status = status?;
    let mut figures = Vec::new();
    for joined in replies {
        let (chunked, reply, at) = joined.map_err(|e| Fail::Fail(format!("trickler: {e}")))?;
        let framing = if chunked { "chunked" } else { "Content-Length" };
        let after = at.saturating_duration_since(signalled);
        let what = format!("a {framing} body stuck at SIGTERM");
        match &reply {
            Reply::Answer(answer) => {
                answer.expect_error(&what, 503, &["unavailable", "overloaded"])?;
                answer.expect_retry_after(&what)?;
            }
            other => fail!(
                "{what}: {} {after:?} after SIGTERM (drain_timeout_ms {})",
                other.describe(),
                DRAIN.as_millis()
            ),
        }
        if after > ANSWER_WITHIN {
            fail!("{what}: answered only {after:?} after SIGTERM");
        }
        figures.push(format!("{what}: {} after {after:?}", reply.describe()));
    }
    if !status.success() {
        fail!("kezd exited with {status} after SIGTERM");
    }
    figures.push(format!(
        "kezd exited {status} {:?} after SIGTERM",
        signalled.elapsed()
    ));
    Ok(figures)
}
