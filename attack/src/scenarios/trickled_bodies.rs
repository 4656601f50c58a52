//! Trickled bodies: connections send `POST /v1/messages` bodies a few bytes at a time, with a
//! `Content-Length` and chunked. kezd must answer each with 408 `request_timeout` (§10 JSON)
//! once `[http] body_timeout_ms` has passed, close the connection, never hold more than
//! `kezd_inflight_bytes_budget` in flight, and not grow its memory by the amplification a
//! trickled body once caused (a few kilobytes of RSS per body byte).

use std::time::Duration;

use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::observe::{InflightWatch, memory_kib};
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "trickled_bodies",
    proves: "bodies trickled with Content-Length or chunked get 408 request_timeout after \
             body_timeout_ms, in-flight bytes stay within the budget, RSS stays bounded",
    timeout: Duration::from_secs(60),
    run,
};

/// The body deadline configured for the attack (short, so the scenario is fast).
const BODY_TIMEOUT_MS: u64 = 2000;

/// Connections of each framing (Content-Length, chunked).
const EACH: usize = 2;

/// Bytes per write and the pause between writes: 1.6 KB/s, above the minimum rate configured
/// below, so only the body deadline can end the attack; one small TCP segment (hence one
/// hyper frame) per write, the shape that once cost kilobytes of RSS per body byte.
const PIECE: usize = 8;
const EVERY: Duration = Duration::from_millis(5);

/// Writes per connection: enough to outlast the deadline and its grace (10 s at this pace).
const PIECES: usize = 2000;

/// How long after the deadline an answer may take on a busy machine.
const GRACE: Duration = Duration::from_secs(5);

/// Loose bound on RSS growth (VmHWM over the RSS before the attack): the trickled bytes are a
/// few kilobytes; the budget below is 16 MiB; what is left is allocator slack.
const RSS_GROWTH_MAX_KIB: u64 = 64 * 1024;

const SETTINGS: &[(&str, &str)] = &[
    ("http.body_timeout_ms", "2000"),
    ("http.body_min_bytes_per_sec", "1024"),
    ("http.max_inflight_bytes", "16777216"),
];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let observer = daemon.observer().clone();
    let (rss_before, _) = memory_kib(daemon.pid())?;
    let watch = InflightWatch::start(observer);

    let deadline = Instant::now() + Duration::from_millis(BODY_TIMEOUT_MS) + GRACE;
    let mut attackers = Vec::new();
    for chunked in [false, true] {
        for _ in 0..EACH {
            let stream = wire::connect_from(ATTACKER, daemon.addr(), None)
                .await
                .map_err(|e| Fail::Fail(format!("connecting: {e}")))?;
            let (head, pieces) = request(&daemon.host(), chunked);
            attackers.push(tokio::spawn(async move {
                let started = Instant::now();
                let (reply, mut reader) =
                    wire::trickle(stream, &head, pieces, EVERY, deadline).await;
                let took = started.elapsed();
                let closed = matches!(reply, Reply::Answer(_))
                    && wire::closed_by(&mut reader, Instant::now() + GRACE, 64 * 1024).await;
                (chunked, reply, took, closed)
            }));
        }
    }
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    for attacker in attackers {
        let (chunked, reply, took, closed) = attacker
            .await
            .map_err(|e| Fail::Fail(format!("attacker task: {e}")))?;
        let framing = if chunked { "chunked" } else { "Content-Length" };
        slowest = slowest.max(took);
        match reply {
            Reply::Answer(answer) => {
                let what = format!("trickled {framing} body");
                if let Err(Fail::Fail(reason) | Fail::Skip(reason)) =
                    answer.expect_error(&what, 408, &["request_timeout"])
                {
                    failures.push(reason);
                } else if !closed {
                    failures.push(format!("{what}: the connection stayed open after the 408"));
                }
            }
            other => failures.push(format!(
                "trickled {framing} body: {} within {:?} (body_timeout_ms {BODY_TIMEOUT_MS})",
                other.describe(),
                took
            )),
        }
    }
    let inflight = watch.finish().await;
    let (rss_after, hwm) = memory_kib(daemon.pid())?;
    if let Some(first) = failures.first() {
        fail!(
            "{} of {} trickled bodies not refused as required; first: {first} (RSS {} → {} KiB, \
             peak {} KiB)",
            failures.len(),
            2 * EACH,
            rss_before,
            rss_after,
            hwm
        );
    }
    inflight.check()?;
    let growth = hwm.saturating_sub(rss_before);
    if growth > RSS_GROWTH_MAX_KIB {
        fail!(
            "RSS grew by {growth} KiB (peak {hwm} KiB from {rss_before} KiB) for {} trickled \
             bodies; bound {RSS_GROWTH_MAX_KIB} KiB",
            2 * EACH
        );
    }
    daemon.check_alive().await?;
    Ok(vec![
        format!(
            "{} bodies at 1.6 KB/s: all 408 request_timeout, slowest after {slowest:?}",
            2 * EACH
        ),
        format!(
            "in flight: max {} of budget {} bytes ({} samples)",
            inflight.max, inflight.budget, inflight.samples
        ),
        format!("RSS {rss_before} → {rss_after} KiB, peak {hwm} KiB"),
    ])
}

/// The head and the trickled pieces of one request.
fn request(host: &str, chunked: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        // Declares a body far longer than will ever be sent.
        "Content-Length: 200000".to_owned()
    };
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         {framing}\r\n\r\n"
    );
    let piece = |i: usize| -> Vec<u8> {
        let data = if i == 0 {
            b"{\"to\":\"".to_vec()
        } else {
            vec![b'a'; PIECE]
        };
        if chunked {
            let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
            framed.extend_from_slice(&data);
            framed.extend_from_slice(b"\r\n");
            framed
        } else {
            data
        }
    };
    (head.into_bytes(), (0..PIECES).map(piece).collect())
}
