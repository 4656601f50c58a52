//! The measurement behind bounded responses (`[inbox] page_max_bytes`, the stream's paged
//! replay, `[http] write_timeout_ms`): how much memory a daemon holds for clients that ask for
//! a full inbox of near-limit envelopes and then read nothing.
//!
//! Starts a daemon in this process (the test suite's harness: SQLite in a temporary
//! directory), fills bob's inbox with MESSAGES envelopes of about 240 KB, then opens READERS
//! connections with a 4 KiB receive buffer — half polls with `limit=500`, half streams resumed
//! from 0 — that never read, and reports this process's resident memory before, at its peak
//! over the next 8 s, and after.
//!
//! `cargo run -p kezd --example unread_responses [MESSAGES] [READERS]` (defaults 100 and 16).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::kez::{Api, User, now_ms, now_secs, start};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// This process's resident memory, in KiB.
fn rss_kib() -> Result<u64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let readers: usize = args.next().map_or(Ok(16), |a| a.parse())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = start(|raw| {
            raw.rate.sender_per_minute = 1_000_000;
            raw.rate.recipient_per_minute = 1_000_000;
        })
        .await;
        let api = Api::of(&server);
        let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
        api.register_ok(&alice).await;
        api.register_ok(&bob).await;
        let text = "k".repeat(180_000);
        for _ in 0..messages {
            api.send_ok(&alice.envelope(&bob, now_ms(), &text)).await;
        }
        let before = rss_kib()?;
        let mut held = Vec::new();
        for n in 0..readers {
            let socket = TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(4096)?;
            let mut client = socket.connect(server.addr).await?;
            let request = if n % 2 == 0 {
                let auth = bob.poll_credential(0, now_secs());
                format!(
                    "GET /v1/inbox/{}?limit=500 HTTP/1.1\r\nHost: x\r\nX-Kez-Auth: {auth}\r\n\r\n",
                    bob.handle
                )
            } else {
                let auth = bob.stream_credential(Some(0), now_secs());
                format!(
                    "GET /v1/inbox/{}/stream?since=0&auth={auth} HTTP/1.1\r\nHost: x\r\n\r\n",
                    bob.handle
                )
            };
            client.write_all(request.as_bytes()).await?;
            held.push(client);
        }
        let mut peak = before;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(8) {
            peak = peak.max(rss_kib()?);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let after = rss_kib()?;
        println!(
            "{messages} envelopes, {readers} unread responses: RSS {} MiB before, peak {} MiB \
             (+{} MiB), {} MiB after 8 s",
            before / 1024,
            peak / 1024,
            (peak - before) / 1024,
            after / 1024
        );
        drop(held);
        Ok(())
    })
}
