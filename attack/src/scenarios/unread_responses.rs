//! Unread responses: a registered user fills their own inbox with near-limit envelopes (within
//! the default limits), then opens polls with `limit=500` and resumed streams (`since=0`) on
//! sockets with a tiny receive buffer that never read. Whole pages built in memory and copied
//! stream batches once pinned gigabytes this way. kezd must bound each page in bytes (`[inbox]
//! page_max_bytes`), keep `kezd_inflight_bytes` within its budget, close every stalled
//! connection once `[http] write_timeout_ms` passes without progress, keep its RSS within a
//! loose bound, and answer an honest client's polls meanwhile.

use std::time::Duration;

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use kez_conformance::user::User;
use kez_conformance::{Fail, fail};
use kez_spec::auth::AuthRequest;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::observe::{CONNECTIONS, InflightWatch, memory_kib, require_gauge, wait_gauge};
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, HONEST, Reply};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "unread_responses",
    proves: "polls of limit=500 and resumed streams over an inbox of near-limit envelopes, \
             never read, are closed after write_timeout_ms; in-flight bytes stay within the \
             budget, RSS bounded, an honest client's polls answered meanwhile",
    timeout: Duration::from_secs(180),
    run,
};

/// Envelopes in the inbox, each near the 262,144-byte send limit: about 20 MB in all, so a
/// whole-inbox page is 20 MB and eight of them are far over the bounds below.
const MESSAGES: usize = 80;

/// Sends in flight while filling the inbox.
const FILL_CONCURRENCY: usize = 4;

/// Plaintext per envelope: sealed and base64-encoded it is about 250 KB.
const TEXT_BYTES: usize = 185_000;

/// Stalled polls and stalled streams.
const POLLS: usize = 8;
const STREAMS: usize = 8;

/// The receive buffer of a stalled socket (the kernel's minimum is about 2 KB).
const RECV_BUFFER: u32 = 4096;

/// The write deadline and the header (keep-alive idle) timeout configured.
const WRITE_TIMEOUT: Duration = Duration::from_millis(2000);

/// How long after the timeouts the stalled connections may take to be closed.
const GRACE: Duration = Duration::from_secs(10);

/// Honest polls made while the attack holds, and the bound on each.
const HONEST_POLLS: usize = 10;
const HONEST_WITHIN: Duration = Duration::from_secs(5);

/// Loose bound on RSS growth under the attack (VmHWM over VmRSS before it). Bounded pages and
/// batches need a few MiB per stalled response; whole pages need the inbox size each.
const RSS_GROWTH_MAX_KIB: u64 = 160 * 1024;

const SETTINGS: &[(&str, &str)] = &[
    ("inbox.page_max_bytes", "1048576"),
    ("http.write_timeout_ms", "2000"),
    ("http.header_read_timeout_ms", "3000"),
    ("http.max_inflight_bytes", "67108864"),
    ("stream.max_per_handle", "32"),
    ("stream.max_per_address", "64"),
];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let attacker = User::registered(daemon.server()).await?;
    let honest = User::registered(daemon.server()).await?;
    let filled_in = fill_inbox(&attacker).await?;

    let observer = daemon.observer().clone();
    let connections_before = require_gauge(&observer, CONNECTIONS).await?;
    let (rss_before, _) = memory_kib(daemon.pid())?;
    let watch = InflightWatch::start(observer.clone());

    let mut stalled = open_stalled(&daemon, &attacker).await?;

    let (honest_slowest, honest_failure) = honest_polls(&daemon, &honest).await;
    let attack_started = Instant::now();
    // kezd's own count is the event to wait for: every stalled connection closed.
    let (connections_left, _) = wait_gauge(&observer, CONNECTIONS, WRITE_TIMEOUT + GRACE, |open| {
        open <= connections_before
    })
    .await?;
    let inflight = watch.finish().await;
    let (rss_after, hwm) = memory_kib(daemon.pid())?;

    // Now read what is buffered: a closed connection ends; an open one goes on (or idles).
    let inbox_bytes = MESSAGES * (TEXT_BYTES * 4 / 3 + 1024);
    let open = join_all(stalled.iter_mut().map(|s| closed(s, inbox_bytes * 2)))
        .await
        .into_iter()
        .filter(|closed| !closed)
        .count();
    let figures = vec![
        format!(
            "inbox: {MESSAGES} envelopes of ~{} KB, filled in {filled_in:?}",
            TEXT_BYTES * 4 / 3 / 1000
        ),
        format!(
            "{POLLS} polls + {STREAMS} streams never read: {open} still open {:?} after they \
             were opened (kezd_connections_open {connections_left}, before {connections_before})",
            attack_started.elapsed()
        ),
        format!(
            "in flight: max {} of budget {} bytes ({} samples)",
            inflight.max, inflight.budget, inflight.samples
        ),
        format!("RSS {rss_before} → {rss_after} KiB, peak {hwm} KiB"),
        format!("honest polls from {HONEST}: slowest {honest_slowest:?}"),
    ];
    if let Some(failure) = honest_failure {
        fail!("{}; an honest poll: {failure}", figures.join("; "));
    }
    if open > 0 {
        fail!(
            "{}; {open} of {} stalled connections not closed after write_timeout_ms",
            figures.join("; "),
            POLLS + STREAMS
        );
    }
    inflight
        .check()
        .map_err(|e| Fail::Fail(format!("{}; {e}", figures.join("; "))))?;
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

/// Fills the attacker's own inbox with large envelopes, so that every poll and stream of it
/// has far more to send than a socket buffer holds. Returns how long that took.
async fn fill_inbox(attacker: &User) -> Result<Duration, Fail> {
    let fill_started = Instant::now();
    let text = "x".repeat(TEXT_BYTES);
    let to_self = attacker.peer();
    let sends: Vec<Result<_, Fail>> = stream::iter(0..MESSAGES)
        .map(|_| attacker.send_ok(&to_self, &text))
        .buffer_unordered(FILL_CONCURRENCY)
        .collect()
        .await;
    for sent in sends {
        sent?;
    }
    Ok(fill_started.elapsed())
}

/// Opens `POLLS` polls and `STREAMS` streams of the attacker's inbox from small receive
/// buffers, sends each request and never reads the answer.
async fn open_stalled(daemon: &Daemon, attacker: &User) -> Result<Vec<TcpStream>, Fail> {
    let mut stalled = Vec::with_capacity(POLLS + STREAMS);
    for i in 0..POLLS + STREAMS {
        let target = if i < POLLS {
            let auth = attacker.credential(AuthRequest::Poll {
                handle: &attacker.handle,
                since: 0,
            });
            format!(
                "/v1/inbox/{}?since=0&limit=500 HTTP/1.1\r\nX-KEZ-Auth: {auth}",
                attacker.handle
            )
        } else {
            let auth = attacker.credential(AuthRequest::StreamCursor {
                handle: &attacker.handle,
                since: 0,
            });
            format!(
                "/v1/inbox/{}/stream?since=0&auth={auth} HTTP/1.1",
                attacker.handle
            )
        };
        let mut stream = wire::connect_from(ATTACKER, daemon.addr(), Some(RECV_BUFFER))
            .await
            .map_err(|e| Fail::Fail(format!("connecting: {e}")))?;
        let request = format!("GET {target}\r\nHost: {}\r\n\r\n", daemon.host());
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| Fail::Fail(format!("writing: {e}")))?;
        stalled.push(stream);
    }
    Ok(stalled)
}

/// Whether the server closed `stream`: reads what is buffered, at most `max_bytes`.
async fn closed(stream: &mut TcpStream, max_bytes: usize) -> bool {
    wire::closed_by(stream, Instant::now() + Duration::from_secs(3), max_bytes).await
}

/// Honest polls of another user's inbox from another address, each on a new connection:
/// the slowest, and the first failure.
async fn honest_polls(daemon: &Daemon, honest: &User) -> (Duration, Option<String>) {
    let mut slowest = Duration::ZERO;
    for _ in 0..HONEST_POLLS {
        let auth = honest.credential(AuthRequest::Poll {
            handle: &honest.handle,
            since: 0,
        });
        let request = format!(
            "GET /v1/inbox/{} HTTP/1.1\r\nHost: {}\r\nX-KEZ-Auth: {auth}\r\nConnection: \
             close\r\n\r\n",
            honest.handle,
            daemon.host()
        );
        let started = Instant::now();
        let reply = wire::exchange(HONEST, daemon.addr(), request.as_bytes(), HONEST_WITHIN).await;
        slowest = slowest.max(started.elapsed());
        match reply {
            Ok(Reply::Answer(answer)) if answer.status == 200 => {}
            Ok(other) => return (slowest, Some(other.describe())),
            Err(e) => return (slowest, Some(e.to_string())),
        }
    }
    (slowest, None)
}
