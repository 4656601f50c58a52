//! HTTP/2 rapid reset (CVE-2023-44487): one connection opens streams and cancels each at once
//! with `RST_STREAM`, thousands per second, so the server starts work for requests that cost
//! the attacker nothing and never count against its stream limit. kezd (hyper and h2 under it)
//! must bound that work — typically by `GOAWAY` with `ENHANCE_YOUR_CALM` — while an honest
//! client on another address is answered promptly and memory stays within a loose bound.

use std::time::Duration;

use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::observe::memory_kib;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, HONEST, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "h2_rapid_reset",
    proves: "streams opened and reset at once over HTTP/2 do not starve an honest client or \
             grow memory; kezd may end the connection",
    timeout: Duration::from_secs(60),
    run,
};

/// Streams opened and reset, at most, and for at most this long.
const RESETS: usize = 20_000;
const ATTACK_FOR: Duration = Duration::from_secs(8);

/// Honest requests during the attack, and the bound on each.
const HONEST_REQUESTS: usize = 20;
const HONEST_WITHIN: Duration = Duration::from_secs(3);

/// Loose bound on RSS growth (VmHWM over VmRSS before the attack).
const RSS_GROWTH_MAX_KIB: u64 = 64 * 1024;

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, &[]).await?;
    let (rss_before, _) = memory_kib(daemon.pid())?;
    let stream = wire::connect_from(ATTACKER, daemon.addr(), None)
        .await
        .map_err(|e| Fail::Fail(format!("connecting: {e}")))?;
    let (client, connection) = h2::client::handshake(stream)
        .await
        .map_err(|e| Fail::Fail(format!("HTTP/2 handshake: {e}")))?;
    let connection = tokio::spawn(connection);
    let uri = format!("http://{}/v1/healthz", daemon.host());
    let attacker = tokio::spawn(async move {
        let started = Instant::now();
        let mut client = client;
        let mut reset = 0usize;
        while reset < RESETS && started.elapsed() < ATTACK_FOR {
            client = match tokio::time::timeout(ATTACK_FOR, client.ready()).await {
                Ok(Ok(ready)) => ready,
                // The server ended the connection (GOAWAY) or stopped granting streams.
                _ => break,
            };
            let Ok(request) = http::Request::get(uri.as_str()).body(()) else {
                break;
            };
            let Ok((response, mut send)) = client.send_request(request, false) else {
                break;
            };
            send.send_reset(h2::Reason::CANCEL);
            drop(response);
            reset += 1;
        }
        (reset, started.elapsed())
    });

    let request = format!(
        "GET /v1/healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        daemon.host()
    );
    let mut slowest = Duration::ZERO;
    for _ in 0..HONEST_REQUESTS {
        let started = Instant::now();
        let reply =
            wire::exchange(HONEST, daemon.addr(), request.as_bytes(), HONEST_WITHIN).await?;
        slowest = slowest.max(started.elapsed());
        if !matches!(&reply, Reply::Answer(a) if a.status == 200) {
            fail!(
                "an honest GET /v1/healthz during the rapid reset: {}",
                reply.describe()
            );
        }
    }
    let (reset, took) = attacker
        .await
        .map_err(|e| Fail::Fail(format!("attacker task: {e}")))?;
    let ended = if connection.is_finished() {
        match connection.await {
            Ok(Err(e)) => format!("kezd ended the connection ({e})"),
            _ => "kezd ended the connection".to_owned(),
        }
    } else {
        connection.abort();
        "the connection stayed open".to_owned()
    };
    let (rss_after, hwm) = memory_kib(daemon.pid())?;
    let figures = vec![
        format!("{reset} streams opened and reset in {took:?}; {ended}"),
        format!("honest from {HONEST}: {HONEST_REQUESTS} answered, slowest {slowest:?}"),
        format!("RSS {rss_before} → {rss_after} KiB, peak {hwm} KiB"),
    ];
    let growth = hwm.saturating_sub(rss_before);
    if growth > RSS_GROWTH_MAX_KIB {
        fail!(
            "{}; RSS grew by {growth} KiB, bound {RSS_GROWTH_MAX_KIB} KiB",
            figures.join("; ")
        );
    }
    daemon.check_alive().await?;
    Ok(figures)
}
