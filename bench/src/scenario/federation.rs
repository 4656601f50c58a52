//! Scenario 3, federation: two kezd on kez-testnet (private DNS, test CA, TLS on loopback).
//! Senders registered on a.test post envelopes for recipients on b.test (202 queued); a's
//! outbox forwards them in signed transactions; the recipients' live streams are on b.test.
//! Latency is from the POST on a to the stream event on b. Targets: >= 5,000 msg/s
//! forwarded, p99 < 50 ms at 1,000/s.
//!
//! `--backlog K`: b is killed, K messages are queued on a, b stays down for `--outage-secs`
//! (60 by default) and is restarted; the drain (every message arriving on b's resumed
//! streams) is timed. Target: 100,000 drained at >= 5,000/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use kez_testnet::{NodeOptions, Testnet};

use crate::client::{self, Endpoint, Ident, Msg};
use crate::load::{self, Pace, SendRun, Tracker};
use crate::procfs;
use crate::report::Report;
use crate::scenario::send::ms;
use crate::server::{KezdOptions, rate_table};

/// Flags of `kez-bench federation`.
#[derive(Debug, Args)]
pub struct FederationArgs {
    /// Concurrent senders on a.test.
    #[arg(long, default_value_t = 64)]
    senders: usize,
    /// Recipients on b.test, each with a live stream there.
    #[arg(long, default_value_t = 16)]
    recipients: usize,
    /// Messages in the run.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Aggregate send rate, messages/s; without it, as fast as a answers.
    #[arg(long)]
    rate: Option<f64>,
    /// No send starts after this many seconds.
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Seconds to wait for the last deliveries.
    #[arg(long, default_value_t = 120)]
    drain_timeout: u64,
    /// Backlog mode: queue this many messages while b is down, then time the drain.
    #[arg(long)]
    backlog: Option<usize>,
    /// Backlog mode: how long b stays down (from the kill), in seconds.
    #[arg(long, default_value_t = 60)]
    outage_secs: u64,
    /// a's `federation.backoff_max_secs`: the longest retry delay, so how long a may take to
    /// notice that b is back.
    #[arg(long, default_value_t = 5)]
    backoff_max_secs: u64,
}

/// The extra TOML every node gets: limits out of the way, the bench's log level and
/// retention, and short retry delays.
fn node_options(options: &KezdOptions, args: &FederationArgs) -> NodeOptions {
    let mut config = toml::Table::new();
    config.insert("rate".into(), rate_table().into());
    config.insert("durability".into(), options.durability.clone().into());
    let mut log = toml::Table::new();
    log.insert("level".into(), options.log_level.clone().into());
    config.insert("log".into(), log.into());
    let mut retention = toml::Table::new();
    retention.insert("max_per_inbox".into(), 10_000_000.into());
    config.insert("retention".into(), retention.into());
    let mut federation = toml::Table::new();
    federation.insert("backoff_initial_secs".into(), 1.into());
    federation.insert(
        "backoff_max_secs".into(),
        i64::try_from(args.backoff_max_secs).unwrap_or(5).into(),
    );
    config.insert("federation".into(), federation.into());
    NodeOptions::new().extra_config(toml::to_string(&config).unwrap_or_default())
}

/// Runs the scenario.
pub async fn run(options: &KezdOptions, args: FederationArgs) -> Result<Vec<Report>> {
    let name = if args.backlog.is_some() {
        "federation-backlog"
    } else {
        "federation"
    };
    let mut report = Report::new(name);
    report.param("senders", args.senders);
    report.param("recipients", args.recipients);
    report.param("rate", args.rate);
    report.param("durability", options.durability.as_str());
    let node = node_options(options, &args);
    let mut net = Testnet::builder(&options.bin)
        .node_with("a.test", node.clone())
        .node_with("b.test", node)
        .start()
        .await?;
    let a = Endpoint::https(net.node("a.test")?.base_url(), net.client());
    let b = Endpoint::https(net.node("b.test")?.base_url(), net.client());
    let senders = Ident::many("s", args.senders, "a.test")?;
    let recipients = Ident::many("r", args.recipients, "b.test")?;
    client::register_all(&a, &senders).await?;
    client::register_all(&b, &recipients).await?;

    match args.backlog {
        None => {
            report.param("messages", args.messages);
            let messages = client::build_messages(&senders, &recipients, args.messages)?;
            let pids = net.pids();
            load::measure(
                SendRun {
                    send_endpoints: std::slice::from_ref(&a),
                    stream_endpoints: std::slice::from_ref(&b),
                    poll_endpoints: std::slice::from_ref(&b),
                    recipients: &recipients,
                    messages,
                    pace: Pace {
                        tasks: args.senders,
                        rate: args.rate,
                        duration: Duration::from_secs(args.duration),
                    },
                    expect: 202,
                    pids,
                    drain_timeout: Duration::from_secs(args.drain_timeout),
                    beside: None,
                },
                &mut report,
            )
            .await?;
        }
        Some(k) => {
            backlog(
                &mut net,
                &a,
                &b,
                &senders,
                &recipients,
                k,
                &args,
                &mut report,
            )
            .await?
        }
    }
    net.shutdown().await?;
    Ok(vec![report])
}

/// The backlog mode (see the file doc).
#[allow(clippy::too_many_arguments)]
async fn backlog(
    net: &mut Testnet,
    a: &Endpoint,
    b: &Endpoint,
    senders: &[Ident],
    recipients: &[Ident],
    k: usize,
    args: &FederationArgs,
    report: &mut Report,
) -> Result<()> {
    report.param("backlog", k);
    report.param("outage_secs", args.outage_secs);
    report.param("backoff_max_secs", args.backoff_max_secs);
    let messages = Arc::new(client::build_messages(senders, recipients, k)?);
    let a_pid = net.node("a.test")?.pid().unwrap_or(0);

    net.kill("b.test").await?;
    let killed = Instant::now();
    let (enqueue, outcome) = enqueue_while_down(&messages, a, k, args, report).await?;
    let outage = Duration::from_secs(args.outage_secs);
    if let Some(rest) = outage.checked_sub(killed.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    report.figure("outage_seconds", killed.elapsed().as_secs_f64());

    // The drain clock starts at the restart; b's own start-up is part of the drain.
    let drain = Arc::new(Tracker::new(&messages));
    for i in 0..messages.len() {
        if enqueue_acked(&enqueue, i) {
            drain.mark_acked(i);
        }
    }
    let a_cpu_before = procfs::cpu_seconds(a_pid)?;
    drain.start();
    net.restart("b.test").await?;
    let b_start = drain.t0().elapsed();
    let b_pid = net.node("b.test")?.pid().unwrap_or(0);
    // Resumed streams from seq 0: what arrived before they opened is replayed, the rest
    // is live, and either way each message must arrive exactly once.
    let streams =
        load::open_all_streams(std::slice::from_ref(b), recipients, Some(0), &drain).await?;
    let all = drain
        .wait_delivered(outcome.acked, Duration::from_secs(args.drain_timeout))
        .await;
    let a_cpu = procfs::cpu_seconds(a_pid)? - a_cpu_before;
    let b_cpu = procfs::cpu_seconds(b_pid)?;
    let delivered = drain.delivered();
    let last = drain.last_delivery().as_secs_f64();
    let first = drain.first_delivery().map_or(0.0, |d| d.as_secs_f64());
    let rate_from_restart = delivered as f64 / last.max(1e-9);
    let rate_from_first = delivered as f64 / (last - first).max(1e-9);
    report.figure("b_start_to_serving_ms", ms(b_start));
    report.figure("drain_delivered", delivered);
    report.figure("drain_first_delivery_seconds", first);
    report.figure("drain_last_delivery_seconds", last);
    report.figure("drain_per_second_from_restart", rate_from_restart);
    report.figure("drain_per_second_from_first_delivery", rate_from_first);
    report.figure(
        "a_cpu_ms_per_message",
        a_cpu * 1e3 / delivered.max(1) as f64,
    );
    report.figure(
        "b_cpu_ms_per_message",
        b_cpu * 1e3 / delivered.max(1) as f64,
    );
    report.figure(
        "memory_kib",
        [procfs::memory(a_pid)?, procfs::memory(b_pid)?],
    );
    report.line(format!(
        "b.test restarted (serving after {:.0} ms); drained {delivered} of {} in {last:.2} s after the restart = {rate_from_restart:.0}/s (first delivery at {first:.2} s, {rate_from_first:.0}/s from then)",
        ms(b_start),
        outcome.acked
    ));
    report.line(format!(
        "server CPU during the drain: a {a_cpu:.2} s, b {b_cpu:.2} s ({:.3} + {:.3} ms/message)",
        a_cpu * 1e3 / delivered.max(1) as f64,
        b_cpu * 1e3 / delivered.max(1) as f64
    ));
    if !all {
        report.problem(format!(
            "only {delivered} of {} queued messages drained within {} s",
            outcome.acked, args.drain_timeout
        ));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let verification = load::verify(&drain, &messages, recipients, std::slice::from_ref(b)).await?;
    for s in streams {
        s.abort();
    }
    load::check(&verification, report);
    Ok(())
}

/// Queues the backlog on a while b is down; reports how fast a accepted it.
async fn enqueue_while_down(
    messages: &Arc<Vec<Msg>>,
    a: &Endpoint,
    k: usize,
    args: &FederationArgs,
    report: &mut Report,
) -> Result<(Arc<Tracker>, load::SendOutcome)> {
    let enqueue = Arc::new(Tracker::new(messages));
    enqueue.start();
    let outcome = load::run_sends(
        messages.clone(),
        std::slice::from_ref(a),
        Pace {
            tasks: args.senders,
            rate: None,
            duration: Duration::from_secs(args.duration),
        },
        202,
        enqueue.clone(),
    )
    .await?;
    report.figure("enqueue_acked", outcome.acked);
    report.figure("enqueue_seconds", outcome.send_seconds);
    report.line(format!(
        "queued {} of {k} on a.test in {:.2} s ({:.0}/s) while b.test was down",
        outcome.acked,
        outcome.send_seconds,
        outcome.acked as f64 / outcome.send_seconds.max(1e-9)
    ));
    if outcome.errors > 0 {
        report.problem(format!("{} sends to a.test failed", outcome.errors));
        for e in &outcome.first_errors {
            report.line(format!("error: {e}"));
        }
    }
    Ok((enqueue, outcome))
}

/// Whether the enqueue phase saw message `i` acknowledged.
fn enqueue_acked(tracker: &Tracker, i: usize) -> bool {
    tracker.is_acked(i)
}
