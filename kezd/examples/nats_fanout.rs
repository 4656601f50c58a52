//! The measurement behind the NATS broker's design (`kezd/src/broker/nats.rs`): how a kezd
//! instance with many open streams should listen — one NATS subscription per recipient with a
//! stream open, or one wildcard subscription (`<prefix>.inbox.>`) filtered locally.
//!
//! Starts its own `nats-server` on a free port, subscribes `HANDLES` recipients both ways, and
//! reports the time to subscribe, client and server memory, and delivered messages per second
//! for a burst spread over all recipients; for the wildcard, also the cost of traffic for
//! recipients with no local stream (which per-handle subscriptions never receive).
//!
//! `cargo run --release -p kezd --example nats_fanout MODE [HANDLES] [MESSAGES]`, MODE one of
//! `per-handle`, `per-handle-confirm` (a server round trip after each SUB, which a stream must
//! wait for before it reads the store) or `wildcard`; one mode per process, so memory figures do not overlap.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::broadcast;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "wildcard".into());
    let handles: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let messages: u64 = args.next().map_or(Ok(200_000), |a| a.parse())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let port = free_port()?;
        let mut server = tokio::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .kill_on_drop(true)
            .spawn()?;
        let server_pid = server.id().ok_or("nats-server exited")?;
        let url = format!("nats://127.0.0.1:{port}");
        wait_for(&url).await?;
        println!(
            "{handles} handles, {messages} messages of 200 bytes, nats-server pid {server_pid}"
        );
        match mode.as_str() {
            "per-handle" => per_handle(&url, server_pid, handles, messages, false).await?,
            "per-handle-confirm" => per_handle(&url, server_pid, handles, messages, true).await?,
            "wildcard" => wildcard(&url, server_pid, handles, messages).await?,
            other => return Err(format!("unknown mode {other}").into()),
        }
        server.kill().await?;
        Ok(())
    })
}

async fn per_handle(
    url: &str,
    server: u32,
    handles: usize,
    messages: u64,
    confirm_each: bool,
) -> Result<(), Error> {
    let (rss0, srv0) = (rss_kib(None), rss_kib(Some(server)));
    let client = async_nats::connect(url).await?;
    let started = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(handles);
    for h in 0..handles {
        let mut sub = client.subscribe(format!("bench.inbox.u{h}")).await?;
        if confirm_each {
            // A round trip, so the SUB is in force before the stream would read the store:
            // a request nobody answers, answered by the server's "no responders".
            if let Err(e) = client.request("bench.ping", Bytes::new()).await
                && e.kind() != async_nats::RequestErrorKind::NoResponders
            {
                return Err(e.into());
            }
        }
        let received = received.clone();
        // One task per stream, as each SSE stream polls its own subscription.
        tasks.push(tokio::spawn(async move {
            while sub.next().await.is_some() {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    client.flush().await?;
    let subscribe = started.elapsed();
    let (rss1, srv1) = (rss_kib(None), rss_kib(Some(server)));
    let rate = burst(url, handles, messages, &received, messages).await?;
    println!(
        "per-handle (round trip per SUB: {confirm_each}): subscribe {handles} in {subscribe:?} ({:.1} µs each); client +{} KiB \
         ({:.2} KiB/handle), server +{} KiB; delivered {rate:.0} msg/s",
        subscribe.as_secs_f64() * 1e6 / handles as f64,
        rss1 - rss0,
        (rss1 - rss0) as f64 / handles as f64,
        srv1 - srv0,
    );
    drop(client);
    tasks.iter().for_each(|t| t.abort());
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(())
}

async fn wildcard(url: &str, server: u32, handles: usize, messages: u64) -> Result<(), Error> {
    let (rss0, srv0) = (rss_kib(None), rss_kib(Some(server)));
    let client = async_nats::connect(url).await?;
    let started = Instant::now();
    let mut sub = client.subscribe("bench.inbox.>").await?;
    client.flush().await?;
    let received = Arc::new(AtomicU64::new(0));
    let discarded = Arc::new(AtomicU64::new(0));
    // The local side: one broadcast channel per handle, as LocalBroker kept them when the
    // comparison in broker/nats.rs was measured.
    let mut channels: HashMap<String, broadcast::Sender<Bytes>> = HashMap::new();
    let mut tasks = Vec::with_capacity(handles);
    for h in 0..handles {
        let (tx, mut rx) = broadcast::channel::<Bytes>(256);
        channels.insert(format!("u{h}"), tx);
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            while rx.recv().await.is_ok() {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let subscribe = started.elapsed();
    let dispatch = {
        let discarded = discarded.clone();
        tokio::spawn(async move {
            while let Some(message) = sub.next().await {
                let handle = message.subject.as_str().strip_prefix("bench.inbox.");
                match handle.and_then(|h| channels.get(h)) {
                    Some(tx) => drop(tx.send(message.payload)),
                    None => drop(discarded.fetch_add(1, Ordering::Relaxed)),
                }
            }
        })
    };
    let (rss1, srv1) = (rss_kib(None), rss_kib(Some(server)));
    let rate = burst(url, handles, messages, &received, messages).await?;
    // Traffic for recipients with no stream here: what other instances' users cost this one.
    let started = Instant::now();
    let publisher = async_nats::connect(url).await?;
    let payload = Bytes::from(vec![b'x'; 200]);
    for n in 0..messages {
        publisher
            .publish(
                format!("bench.inbox.elsewhere{}", n % 10_000),
                payload.clone(),
            )
            .await?;
    }
    publisher.flush().await?;
    while discarded.load(Ordering::Relaxed) < messages {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let filter_rate = messages as f64 / started.elapsed().as_secs_f64();
    println!(
        "wildcard: subscribe in {subscribe:?}; client +{} KiB ({:.2} KiB/handle), server +{} KiB; \
         delivered {rate:.0} msg/s; filtered out {filter_rate:.0} msg/s for absent handles",
        rss1 - rss0,
        (rss1 - rss0) as f64 / handles as f64,
        srv1 - srv0,
    );
    dispatch.abort();
    tasks.iter().for_each(|t| t.abort());
    Ok(())
}

/// Publishes `messages` spread over the handles from a second connection (another kezd) and
/// waits until `received` reaches `expect`; returns delivered messages per second.
async fn burst(
    url: &str,
    handles: usize,
    messages: u64,
    received: &AtomicU64,
    expect: u64,
) -> Result<f64, Error> {
    let publisher = async_nats::connect(url).await?;
    let payload = Bytes::from(vec![b'x'; 200]);
    let started = Instant::now();
    for n in 0..messages {
        let h = n % handles as u64;
        publisher
            .publish(format!("bench.inbox.u{h}"), payload.clone())
            .await?;
    }
    publisher.flush().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while received.load(Ordering::Relaxed) < expect {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {expect} delivered (slow consumer drops)",
                received.load(Ordering::Relaxed)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(messages as f64 / started.elapsed().as_secs_f64())
}

/// Resident memory of this process (`None`) or another, in KiB.
fn rss_kib(pid: Option<u32>) -> i64 {
    let path = pid.map_or("/proc/self/status".to_owned(), |p| {
        format!("/proc/{p}/status")
    });
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_for(url: &str) -> Result<(), Error> {
    for _ in 0..100 {
        if async_nats::connect(url).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("nats-server did not start".into())
}
