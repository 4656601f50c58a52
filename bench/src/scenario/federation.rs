//! Scenario 3, federation: two kezd on kez-testnet (private DNS, test CA, TLS on loopback).
//! Senders registered on a.test post envelopes for recipients on b.test (202 queued); a's
//! outbox forwards them in signed transactions; the recipients' live streams are on b.test.
//! Latency is from the POST on a to the stream event on b. Targets: >= 5,000 msg/s
//! forwarded, p99 < 50 ms at 1,000/s.
//!
//! `--backlog K` (backlog.rs): b is killed, K messages are queued on a, b stays down for
//! `--outage-secs` (60 by default) and is restarted; the drain (every message arriving on b's
//! resumed streams) is timed, while a's own users send to each other at `--local-rate`
//! (local.rs). Targets: 100,000 drained at >= 5,000/s; a's local send→stream p99 during the
//! drain at most twice its p99 at the same rate with nothing draining.

mod backlog;
mod local;

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use kez_testnet::{NodeOptions, Testnet};

use crate::client::{self, Endpoint, Ident};
use crate::load::{self, Pace, SendRun};
use crate::report::Report;
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
    /// Backlog mode: sends per second among a's own users, unloaded (while b is down) and
    /// through the drain; 0 for none.
    #[arg(long, default_value_t = 200.0)]
    local_rate: f64,
    /// Backlog mode: how long the unloaded local sends last, in seconds.
    #[arg(long, default_value_t = 10)]
    local_secs: u64,
    /// Backlog mode: a's local senders (and as many recipients), one request in flight each.
    #[arg(long, default_value_t = 16)]
    local_senders: usize,
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
            backlog::run(
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
