//! The machine's floor beside kezd: the same signed sends, first to the floor server (HTTP,
//! parse, `verify_strict`, answer — see `floor.rs`), then to kezd (`send`, scenario 1a),
//! round after round so both see the machine in the same state. Also measures
//! `verify_strict` on one core, the one cost no conforming server can avoid.
//!
//! What it shows: the floor's rate is an upper bound for any KEZ server on these cores under
//! this load generator, so a send target above it is beyond the machine; kezd's share of it
//! is what storage, fsync and live delivery cost on top.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use kez_spec::envelope::SignedEnvelope;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::client::{self, Endpoint, Ident, Msg};
use crate::load::{self, Pace, Tracker};
use crate::report::Report;
use crate::scenario::send::{self, SendArgs};
use crate::server::{self, KezdOptions};
use crate::stats::Latencies;

/// Flags of `kez-bench floor`.
#[derive(Debug, Args)]
pub struct FloorArgs {
    /// Concurrent senders (each its own identity and connection, one request in flight).
    #[arg(long, default_value_t = 64)]
    senders: usize,
    /// Messages per run.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Floor-then-kezd rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measure the floor only, without kezd.
    #[arg(long)]
    floor_only: bool,
}

/// Runs the scenario: one report per run, then a summary.
pub async fn run(options: &KezdOptions, args: FloorArgs) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    let mut summary = Report::new("floor-summary");
    summary.param("senders", args.senders);
    summary.param("messages", args.messages);
    summary.param("rounds", args.rounds);
    let verify_rate = verify_rate_one_core().await?;
    summary.figure("verify_strict_per_second_one_core", verify_rate);
    summary.line(format!(
        "verify_strict on one core: {verify_rate:.0}/s ({:.1} µs each)",
        1e6 / verify_rate
    ));
    let fsync = fsync_latency().await?;
    summary.figure("fsync_p50_ms", fsync.p50_ms);
    summary.figure("fsync_p99_ms", fsync.p99_ms);
    summary.line(format!(
        "fsync of a 4 KiB append where kezd's database goes: {}",
        fsync.line()
    ));
    let kezd_args = SendArgs {
        senders: args.senders,
        recipients: 1,
        messages: args.messages,
        rate: None,
        duration: 120,
        drain_timeout: 60,
    };
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        let floor = floor_run(&args).await?;
        let floor_rate = acked_rate(&floor);
        reports.push(floor);
        if args.floor_only {
            summary.line(format!("round {round}: floor {floor_rate:.0}/s"));
            rounds.push(serde_json::json!({ "floor_per_second": floor_rate }));
            continue;
        }
        let kezd = send::single_server(options, &kezd_args, "send").await?;
        let kezd_rate = kezd
            .figures
            .get("delivered_per_second")
            .and_then(Value::as_f64);
        let kezd_rate = kezd_rate.unwrap_or(0.0);
        reports.push(kezd);
        summary.line(format!(
            "round {round}: floor {floor_rate:.0}/s, kezd {kezd_rate:.0}/s delivered ({:.0} % of the floor)",
            100.0 * kezd_rate / floor_rate.max(1.0)
        ));
        rounds.push(serde_json::json!({
            "floor_per_second": floor_rate,
            "kezd_delivered_per_second": kezd_rate,
        }));
    }
    summary.figure("rounds", rounds);
    reports.push(summary);
    Ok(reports)
}

/// The acknowledged sends per second of a floor run's report.
fn acked_rate(report: &Report) -> f64 {
    report
        .figures
        .get("acked_per_second")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// One run against a fresh floor server.
async fn floor_run(args: &FloorArgs) -> Result<Report> {
    let mut report = Report::new("floor");
    report.param("senders", args.senders);
    report.param("messages", args.messages);
    let port = server::free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let host = format!("localhost:{port}");
    let mut child = start_floor(port).await?;
    let pid = child.id().context("floor server exited")?;

    let senders = Ident::many("s", args.senders, &host)?;
    let recipients = Ident::many("r", 1, &host)?;
    let messages = Arc::new(client::build_messages(
        &senders,
        &recipients,
        args.messages,
    )?);
    let tracker = Arc::new(Tracker::new(&messages));
    let endpoints = [Endpoint::plain(addr, &host)?];
    let before = crate::procfs::snapshot(&[pid])?;
    let own_before = crate::procfs::cpu_seconds(std::process::id())?;
    tracker.start();
    let outcome = load::run_sends(
        messages.clone(),
        &endpoints,
        Pace {
            tasks: args.senders,
            rate: None,
            duration: Duration::from_secs(120),
        },
        201,
        tracker,
    )
    .await?;
    let after = crate::procfs::snapshot(&[pid])?;
    let own_cpu = crate::procfs::cpu_seconds(std::process::id())? - own_before;
    child.kill().await?;

    let cpu = after.cpu_seconds - before.cpu_seconds;
    let rate = outcome.acked as f64 / outcome.send_seconds.max(1e-9);
    let cpu_ms = cpu * 1e3 / (outcome.acked.max(1) as f64);
    report.figure("acked", outcome.acked);
    report.figure("errors", outcome.errors);
    report.figure("acked_per_second", rate);
    report.figure("server_cpu_ms_per_message", cpu_ms);
    report.figure("generator_cpu_seconds", own_cpu);
    report.line(format!(
        "floor server (HTTP/1.1, parse, verify_strict, answer; nothing stored): {rate:.0} sends/s acknowledged"
    ));
    report.line(format!(
        "floor server CPU: {cpu:.2} s = {cpu_ms:.3} ms/message; load generator CPU: {own_cpu:.2} s"
    ));
    for e in &outcome.first_errors {
        report.line(format!("error: {e}"));
    }
    if outcome.errors > 0 || outcome.acked != messages.len() {
        report.problem(format!(
            "{} of {} sends acknowledged ({} errors)",
            outcome.acked,
            messages.len(),
            outcome.errors
        ));
    }
    Ok(report)
}

/// Starts `kez-bench floor-serve` on `port` and waits until it accepts connections.
async fn start_floor(port: u16) -> Result<Child> {
    let exe = std::env::current_exe().context("locating kez-bench")?;
    let mut child = Command::new(exe)
        .args(["floor-serve", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the floor server")?;
    let started = Instant::now();
    while tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .is_err()
    {
        if let Some(status) = child.try_wait()? {
            bail!("the floor server exited during start ({status})");
        }
        if started.elapsed() > Duration::from_secs(10) {
            bail!("the floor server did not listen within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(child)
}

/// `verify_strict` of one load envelope, repeated for about a second on one blocking thread:
/// verifications per second on one core of this machine, now.
async fn verify_rate_one_core() -> Result<f64> {
    let host = "localhost:1";
    let senders = Ident::many("s", 1, host)?;
    let recipients = Ident::many("r", 1, host)?;
    let message: Msg = client::build_messages(&senders, &recipients, 1)?
        .pop()
        .context("one message")?;
    let mut body = kez_spec::json::parse_object(&message.body)?;
    let Some(Value::Object(map)) = body.remove("envelope") else {
        bail!("a load message without an envelope");
    };
    let envelope = SignedEnvelope::from_map(map)?;
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut count = 0u32;
        while started.elapsed() < Duration::from_secs(1) {
            for _ in 0..100 {
                envelope.verify()?;
            }
            count += 100;
        }
        Ok(f64::from(count) / started.elapsed().as_secs_f64())
    })
    .await?
}

/// Appends timed by [`fsync_latency`].
const FSYNC_SAMPLES: usize = 500;

/// Appends 4 KiB and `fdatasync`s, [`FSYNC_SAMPLES`] times, in a file of the directory kezd's
/// database is made in (the system's temporary directory): what each of kezd's fsynced
/// commits waits for at least, so with few senders one in flight each, what bounds them.
async fn fsync_latency() -> Result<Latencies> {
    tokio::task::spawn_blocking(|| {
        use std::io::Write;
        let dir = tempfile::Builder::new()
            .prefix("kez-bench-fsync-")
            .tempdir()?;
        let mut file = std::fs::File::create(dir.path().join("log"))?;
        let page = [0x5au8; 4096];
        let mut samples = Vec::with_capacity(FSYNC_SAMPLES);
        for _ in 0..FSYNC_SAMPLES {
            let started = Instant::now();
            file.write_all(&page)?;
            file.sync_data()?;
            samples.push(started.elapsed());
        }
        Ok(Latencies::from_samples(samples))
    })
    .await?
}
