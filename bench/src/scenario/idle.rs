//! Scenario 2, many idle streams: opens N live SSE streams (spread over H handles), measures
//! the server's resident memory before and after and divides by N (target: ≤ 4 KiB per
//! stream at N = 10,000 with one stream per handle), optionally the server's CPU while the
//! streams stay quiet, then sends one message to each of enough handles to reach
//! `--broadcast-streams` streams and checks that every stream of those handles — and no
//! other — received it exactly once, timing the broadcast.
//!
//! By default it runs every layout: one stream per handle (what a server with N people online
//! holds) and N streams over 100 handles (several devices per person, the channel of a handle
//! shared), each over HTTP/1.1 (a connection per stream) and over HTTP/2 (many streams per
//! connection); each run starts a fresh kezd. The open-file limit (20,000 per process here)
//! bounds N: over HTTP/1.1 the bench holds one socket per stream and so does kezd.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::{StreamExt, stream};

use crate::client::{self, Endpoint, Ident, Msg};
use crate::h2::H2Conn;
use crate::http::ByteStream;
use crate::procfs;
use crate::report::Report;
use crate::server::{Kezd, KezdOptions};
use crate::sse::{ItemHead, SseReader};

/// Handles of the shared layout run by default beside one stream per handle.
const SHARED_HANDLES: usize = 100;

/// Flags of `kez-bench idle`.
#[derive(Debug, Args)]
pub struct IdleArgs {
    /// Streams to open (at most 19,000: the open-file limit).
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Handles the streams are spread over (stream i belongs to handle i mod H), one run per
    /// value (comma-separated); default: one stream per handle, then 100 handles.
    #[arg(long, value_delimiter = ',')]
    handles: Vec<usize>,
    /// HTTP versions to open the streams over, one run per value: 1 (a connection per
    /// stream) and 2 (`--streams-per-connection` streams per connection).
    #[arg(long, value_delimiter = ',', default_values_t = [1u8, 2])]
    http: Vec<u8>,
    /// Streams per HTTP/2 connection (kezd allows 32 at once on one).
    #[arg(long, default_value_t = 32)]
    streams_per_connection: usize,
    /// Streams the broadcast reaches at least: one message to each of the first
    /// ceil(this / streams per handle) handles.
    #[arg(long, default_value_t = 1_000)]
    broadcast_streams: usize,
    /// Streams opened at once.
    #[arg(long, default_value_t = 64)]
    open_concurrency: usize,
    /// Seconds to let the server settle (allocator, keep-alives) before reading its RSS.
    #[arg(long, default_value_t = 2)]
    settle: u64,
    /// Seconds over which to measure the server's CPU with every stream open and no traffic
    /// (0: not measured). Keep-alives fall in this time: pick several keep-alive periods.
    #[arg(long, default_value_t = 0)]
    quiet_secs: u64,
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

/// One run's layout: streams, handles and HTTP version.
#[derive(Debug, Clone, Copy)]
struct Layout {
    streams: usize,
    handles: usize,
    http: u8,
    /// Handles that get a broadcast message.
    broadcast: usize,
}

/// Runs the scenario: every layout asked for, each on a fresh kezd.
pub async fn run(options: &KezdOptions, args: IdleArgs) -> Result<Vec<Report>> {
    let handles = if args.handles.is_empty() {
        vec![args.streams, SHARED_HANDLES.min(args.streams)]
    } else {
        args.handles.clone()
    };
    if args.streams > 19_000 || args.streams == 0 || args.streams_per_connection == 0 {
        bail!("need 1 <= streams <= 19000 and streams-per-connection >= 1");
    }
    let mut reports = Vec::new();
    for &h in &handles {
        if h == 0 || h > args.streams {
            bail!("need 1 <= handles <= streams");
        }
        for &http in &args.http {
            if !matches!(http, 1 | 2) {
                bail!("--http takes 1 and 2");
            }
            let per_handle = args.streams.div_ceil(h);
            let layout = Layout {
                streams: args.streams,
                handles: h,
                http,
                broadcast: args.broadcast_streams.div_ceil(per_handle).clamp(1, h),
            };
            reports.push(run_layout(options, &args, layout).await?);
        }
    }
    Ok(reports)
}

/// kezd's settings for the scenario: room for every stream from one client address.
fn kezd_config(streams: usize) -> Result<toml::Table> {
    let n = i64::try_from(streams)?;
    let mut stream = toml::Table::new();
    stream.insert("max_per_handle".into(), n.into());
    stream.insert("max_per_address".into(), n.into());
    let mut http = toml::Table::new();
    http.insert("max_connections_per_address".into(), 19_500.into());
    let mut config = toml::Table::new();
    config.insert("stream".into(), stream.into());
    config.insert("http".into(), http.into());
    Ok(config)
}

/// One layout on a fresh kezd.
async fn run_layout(options: &KezdOptions, args: &IdleArgs, layout: Layout) -> Result<Report> {
    let mut report = Report::new("idle");
    report.param("streams", layout.streams);
    report.param("handles", layout.handles);
    report.param("http", layout.http);
    report.param("broadcast_handles", layout.broadcast);

    let dir = tempfile::Builder::new().prefix("kez-bench-").tempdir()?;
    let config = kezd_config(layout.streams)?;
    let mut kezd = Kezd::start(options, dir.path(), "kezd", config).await?;
    let pid = kezd.pid()?;
    let endpoint = Endpoint::plain(kezd.addr, &kezd.server_name)?;
    let handles = Ident::many("h", layout.handles, &kezd.server_name)?;
    let sender = Ident::many("sender", 1, &kezd.server_name)?;
    client::register_all(&endpoint, &handles).await?;
    client::register_all(&endpoint, &sender).await?;
    // One message to each broadcast handle, built before anything is measured.
    let broadcast_to = &handles[..layout.broadcast];
    let messages = client::build_messages(&sender, broadcast_to, layout.broadcast)?;

    // Warm the server's per-connection paths once so the baseline includes them.
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let before = procfs::memory(pid)?;

    let seen = Arc::new(StreamSeen {
        counts: (0..layout.streams).map(|_| AtomicU32::new(0)).collect(),
        wrong: AtomicUsize::new(0),
        last_ns: AtomicU64::new(0),
    });
    let ids: Arc<Vec<String>> = Arc::new(messages.iter().map(|m| m.id.clone()).collect());
    let t_broadcast = Arc::new(std::sync::OnceLock::<Instant>::new());
    let opener = Opener::new(&endpoint, layout, args.streams_per_connection).await?;
    let (tasks, open_seconds) =
        open_streams(&opener, &handles, layout, args, &seen, &ids, &t_broadcast).await?;
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let after = procfs::memory(pid)?;
    let per_stream_kib =
        (after.rss_kib.saturating_sub(before.rss_kib)) as f64 / layout.streams as f64;
    report.figure("open_seconds", open_seconds);
    report.figure("connections", opener.connections(layout.streams));
    report.figure("memory_before_kib", before);
    report.figure("memory_after_kib", after);
    report.figure("rss_per_stream_kib", per_stream_kib);
    report.line(format!(
        "HTTP/{}, {} handles: opened {} streams on {} connections in {open_seconds:.2} s; server VmRSS {} -> {} KiB = {per_stream_kib:.2} KiB per stream (VmHWM {} KiB)",
        layout.http,
        layout.handles,
        layout.streams,
        opener.connections(layout.streams),
        before.rss_kib,
        after.rss_kib,
        after.hwm_kib
    ));
    if args.quiet_secs > 0 {
        quiet_cpu(pid, args.quiet_secs, &mut report).await?;
    }

    broadcast_and_check(
        &endpoint,
        &handles,
        &messages,
        layout,
        &seen,
        &t_broadcast,
        pid,
        &mut report,
    )
    .await?;
    for t in tasks {
        t.abort();
    }
    kezd.stop().await?;
    Ok(report)
}

/// The server's CPU over `secs` seconds with every stream open and nothing sent.
async fn quiet_cpu(pid: u32, secs: u64, report: &mut Report) -> Result<()> {
    let cpu_before = procfs::cpu_seconds(pid)?;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let cpu = procfs::cpu_seconds(pid)? - cpu_before;
    let percent = 100.0 * cpu / started.elapsed().as_secs_f64();
    report.figure("quiet_cpu_seconds", cpu);
    report.figure("quiet_cpu_percent_of_core", percent);
    report.line(format!(
        "quiet: server CPU {cpu:.3} s over {secs} s = {percent:.3} % of one core"
    ));
    Ok(())
}

/// The broadcast, then the checks: every stream of a broadcast handle got its message once,
/// no other stream got anything, and each message is stored once in its own inbox.
#[allow(clippy::too_many_arguments)]
async fn broadcast_and_check(
    endpoint: &Endpoint,
    handles: &[Ident],
    messages: &[Msg],
    layout: Layout,
    seen: &StreamSeen,
    t_broadcast: &std::sync::OnceLock<Instant>,
    pid: u32,
    report: &mut Report,
) -> Result<()> {
    let cpu_before = procfs::cpu_seconds(pid)?;
    let _ = t_broadcast.set(Instant::now());
    let acked = broadcast(endpoint, messages, report).await?;
    // Every stream of handle h < B must get one message: streams i with i mod H < B.
    let chosen = |i: usize| i % layout.handles < layout.broadcast;
    let expected_streams = (0..layout.streams).filter(|&i| chosen(i)).count();
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = || {
        seen.counts
            .iter()
            .enumerate()
            .filter(|(i, c)| chosen(*i) && c.load(Ordering::Relaxed) > 0)
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
        layout.broadcast
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
    check_polls(endpoint, handles, messages, report).await
}

/// How streams are opened: each on a connection of its own (HTTP/1.1), or on HTTP/2
/// connections made up front, `per_connection` streams on each.
enum Opener {
    Http1(Endpoint),
    Http2 {
        conns: Vec<H2Conn>,
        per_connection: usize,
    },
}

impl Opener {
    async fn new(endpoint: &Endpoint, layout: Layout, per_connection: usize) -> Result<Opener> {
        if layout.http == 1 {
            return Ok(Opener::Http1(endpoint.clone()));
        }
        let (addr, host) = endpoint.plain.clone().context("HTTP/2 needs plain HTTP")?;
        let count = layout.streams.div_ceil(per_connection);
        let conns = stream::iter(0..count)
            .map(|_| H2Conn::open(addr, &host))
            .buffered(client::SETUP_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(Opener::Http2 {
            conns,
            per_connection,
        })
    }

    /// How many connections `streams` streams use.
    fn connections(&self, streams: usize) -> usize {
        match self {
            Opener::Http1(_) => streams,
            Opener::Http2 { conns, .. } => conns.len(),
        }
    }

    /// Opens stream `i` at `path_and_query`.
    async fn open(&self, i: usize, path_and_query: &str) -> Result<ByteStream> {
        match self {
            Opener::Http1(endpoint) => endpoint.stream(path_and_query).await,
            Opener::Http2 {
                conns,
                per_connection,
            } => conns[i / per_connection].stream(path_and_query).await,
        }
    }
}

/// Opens the streams (`args.open_concurrency` at a time) and spawns a reader per stream that
/// counts what arrives in `seen`. Returns the readers and how long opening took, in seconds.
async fn open_streams(
    opener: &Opener,
    handles: &[Ident],
    layout: Layout,
    args: &IdleArgs,
    seen: &Arc<StreamSeen>,
    ids: &Arc<Vec<String>>,
    t_broadcast: &Arc<std::sync::OnceLock<Instant>>,
) -> Result<(Vec<tokio::task::JoinHandle<()>>, f64)> {
    let opening = Instant::now();
    let readers: Vec<Result<(usize, SseReader)>> = stream::iter(0..layout.streams)
        .map(|i| {
            let ident = &handles[i % layout.handles];
            async move {
                let body = opener.open(i, &ident.stream_path(None)).await?;
                let mut reader = SseReader::new(body);
                reader.until_ready(|_| {}).await?;
                Ok((i, reader))
            }
        })
        .buffer_unordered(args.open_concurrency)
        .collect()
        .await;
    let open_seconds = opening.elapsed().as_secs_f64();
    let mut tasks = Vec::with_capacity(layout.streams);
    for reader in readers {
        let (slot, mut reader) = reader.context("opening a stream")?;
        let handle = slot % layout.handles;
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
