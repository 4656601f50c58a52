//! Scenario 2, many idle streams: opens N live SSE streams (spread over H handles), measures
//! the server's resident memory before and after and divides by N (target: < 10 KiB per
//! stream at N = 10,000), then sends one message to each of B handles and checks that every
//! stream of those handles — and no other — received it exactly once, timing the broadcast.
//! The open-file limit (20,000 per process here) bounds N: the bench holds one socket per
//! stream and so does kezd.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::{StreamExt, stream};

use crate::client::{self, Endpoint, Ident, Msg};
use crate::procfs;
use crate::report::Report;
use crate::server::{Kezd, KezdOptions};
use crate::sse::{ItemHead, SseReader};

/// Flags of `kez-bench idle`.
#[derive(Debug, Args)]
pub struct IdleArgs {
    /// Streams to open (at most 19,000: the open-file limit).
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Handles the streams are spread over (stream i belongs to handle i mod H).
    #[arg(long, default_value_t = 100)]
    handles: usize,
    /// Handles that get one broadcast message each.
    #[arg(long, default_value_t = 10)]
    broadcast: usize,
    /// Streams opened at once.
    #[arg(long, default_value_t = 64)]
    open_concurrency: usize,
    /// Seconds to let the server settle (allocator, keep-alives) before reading its RSS.
    #[arg(long, default_value_t = 2)]
    settle: u64,
}

/// What a stream task saw.
struct StreamSeen {
    /// Message events per stream.
    counts: Vec<AtomicU32>,
    /// Events naming another handle's message or an unknown id.
    wrong: AtomicUsize,
    /// Latest event, ns after the broadcast started.
    last_ns: AtomicU64,
}

/// Runs the scenario.
pub async fn run(options: &KezdOptions, args: IdleArgs) -> Result<Vec<Report>> {
    if args.streams > 19_000 || args.handles == 0 || args.broadcast > args.handles {
        bail!("need streams <= 19000, handles >= 1, broadcast <= handles");
    }
    let mut report = Report::new("idle");
    report.param("streams", args.streams);
    report.param("handles", args.handles);
    report.param("broadcast", args.broadcast);

    let dir = tempfile::Builder::new().prefix("kez-bench-").tempdir()?;
    let mut kezd = Kezd::start(options, dir.path(), "kezd", toml::Table::new()).await?;
    let pid = kezd.pid()?;
    let endpoint = Endpoint::plain(kezd.addr, &kezd.server_name)?;
    let handles = Ident::many("h", args.handles, &kezd.server_name)?;
    let sender = Ident::many("sender", 1, &kezd.server_name)?;
    client::register_all(&endpoint, &handles).await?;
    client::register_all(&endpoint, &sender).await?;
    // One message to each broadcast handle, built before anything is measured.
    let broadcast_to = &handles[..args.broadcast];
    let messages = client::build_messages(&sender, broadcast_to, args.broadcast)?;

    // Warm the server's per-connection paths once so the baseline includes them.
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let before = procfs::memory(pid)?;

    let seen = Arc::new(StreamSeen {
        counts: (0..args.streams).map(|_| AtomicU32::new(0)).collect(),
        wrong: AtomicUsize::new(0),
        last_ns: AtomicU64::new(0),
    });
    let ids: Arc<Vec<String>> = Arc::new(messages.iter().map(|m| m.id.clone()).collect());
    let t_broadcast = Arc::new(std::sync::OnceLock::<Instant>::new());
    let (tasks, open_seconds) =
        open_streams(&endpoint, &handles, &args, &seen, &ids, &t_broadcast).await?;
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let after = procfs::memory(pid)?;
    let per_stream_kib =
        (after.rss_kib.saturating_sub(before.rss_kib)) as f64 / args.streams as f64;
    report.figure("open_seconds", open_seconds);
    report.figure("memory_before_kib", before);
    report.figure("memory_after_kib", after);
    report.figure("rss_per_stream_kib", per_stream_kib);
    report.line(format!(
        "opened {} streams in {open_seconds:.2} s; server VmRSS {} -> {} KiB = {per_stream_kib:.2} KiB per stream (VmHWM {} KiB)",
        args.streams, before.rss_kib, after.rss_kib, after.hwm_kib
    ));

    // The broadcast: one POST per chosen handle, all at once.
    let cpu_before = procfs::cpu_seconds(pid)?;
    let _ = t_broadcast.set(Instant::now());
    let acked = broadcast(&endpoint, &messages, &mut report).await?;
    // Every stream of handle h < B must get one message: streams i with i mod H < B.
    let expected_streams = (0..args.streams)
        .filter(|i| i % args.handles < args.broadcast)
        .count();
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = || {
        seen.counts
            .iter()
            .enumerate()
            .filter(|(i, c)| i % args.handles < args.broadcast && c.load(Ordering::Relaxed) > 0)
            .count()
    };
    while delivered() < expected_streams && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cpu = procfs::cpu_seconds(pid)? - cpu_before;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all_ms = seen.last_ns.load(Ordering::Relaxed) as f64 / 1e6;
    let got = delivered();
    let duplicates = seen
        .counts
        .iter()
        .filter(|c| c.load(Ordering::Relaxed) > 1)
        .count();
    let wrong = seen.wrong.load(Ordering::Relaxed);
    report.figure("broadcast_streams_expected", expected_streams);
    report.figure("broadcast_streams_delivered", got);
    report.figure("broadcast_all_delivered_ms", all_ms);
    report.figure("broadcast_server_cpu_seconds", cpu);
    report.line(format!(
        "broadcast: {acked} messages to {} handles reached {got} of {expected_streams} streams, the last {all_ms:.1} ms after the first POST (server CPU {cpu:.3} s)",
        args.broadcast
    ));
    if got != expected_streams {
        report.problem(format!(
            "{} streams that should have had the broadcast did not get it",
            expected_streams.saturating_sub(got)
        ));
    }
    if duplicates > 0 || wrong > 0 {
        report.problem(format!(
            "{duplicates} streams got more than one message; {wrong} events were unexpected"
        ));
    }
    check_polls(&endpoint, &handles, &messages, &mut report).await?;
    for t in tasks {
        t.abort();
    }
    kezd.stop().await?;
    Ok(vec![report])
}

/// Opens the streams (`args.open_concurrency` at a time) and spawns a reader per stream that
/// counts what arrives in `seen`. Returns the readers and how long opening took, in seconds.
async fn open_streams(
    endpoint: &Endpoint,
    handles: &[Ident],
    args: &IdleArgs,
    seen: &Arc<StreamSeen>,
    ids: &Arc<Vec<String>>,
    t_broadcast: &Arc<std::sync::OnceLock<Instant>>,
) -> Result<(Vec<tokio::task::JoinHandle<()>>, f64)> {
    let opening = Instant::now();
    let readers: Vec<Result<(usize, SseReader)>> = stream::iter(0..args.streams)
        .map(|i| {
            let ident = &handles[i % args.handles];
            async move {
                let body = endpoint.stream(&ident.stream_path(None)).await?;
                let mut reader = SseReader::new(body);
                reader.until_ready(|_| {}).await?;
                Ok((i, reader))
            }
        })
        .buffer_unordered(args.open_concurrency)
        .collect()
        .await;
    let open_seconds = opening.elapsed().as_secs_f64();
    let mut tasks = Vec::with_capacity(args.streams);
    for reader in readers {
        let (slot, mut reader) = reader.context("opening a stream")?;
        let handle = slot % args.handles;
        let seen = seen.clone();
        let ids = ids.clone();
        let t_broadcast = t_broadcast.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok(Some(frame)) = reader.next_event().await {
                if frame.event.as_deref() != Some("message") {
                    continue;
                }
                // Only this handle's own broadcast message may arrive on its streams.
                let mine = serde_json::from_str::<ItemHead<'_>>(&frame.data)
                    .ok()
                    .is_some_and(|h| ids.get(handle).is_some_and(|id| id == h.id));
                if !mine {
                    seen.wrong.fetch_add(1, Ordering::Relaxed);
                }
                seen.counts[slot].fetch_add(1, Ordering::Relaxed);
                if let Some(t) = t_broadcast.get() {
                    let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    seen.last_ns.fetch_max(ns, Ordering::Relaxed);
                }
            }
        }));
    }
    Ok((tasks, open_seconds))
}

/// The broadcast: one POST per chosen handle, all at once. Returns how many were accepted;
/// the others are problems.
async fn broadcast(endpoint: &Endpoint, messages: &[Msg], report: &mut Report) -> Result<usize> {
    let mut posts = Vec::new();
    for m in messages {
        let endpoint = endpoint.clone();
        let body = m.body.clone();
        posts.push(tokio::spawn(async move {
            endpoint.post("/v1/messages", body).await
        }));
    }
    let mut acked = 0;
    for (i, p) in posts.into_iter().enumerate() {
        let (status, answer) = p.await??;
        if status == 201 {
            acked += 1;
        } else {
            report.problem(format!(
                "broadcast message {i}: {status} {}",
                String::from_utf8_lossy(&answer)
            ));
        }
    }
    Ok(acked)
}

/// The poll: each broadcast message stored exactly once, in its own inbox only.
async fn check_polls(
    endpoint: &Endpoint,
    handles: &[Ident],
    messages: &[Msg],
    report: &mut Report,
) -> Result<()> {
    for (h, m) in messages.iter().enumerate() {
        let items = client::poll_all(endpoint, &handles[h]).await?;
        let n = items.iter().filter(|(_, id)| *id == m.id).count();
        if n != 1 || items.len() != 1 {
            report.problem(format!(
                "handle {h}: broadcast message {n} times in an inbox of {}",
                items.len()
            ));
        }
    }
    Ok(())
}
