//! `kez-bench`: the KEZ load tool. It starts kezd itself (release binary, temp data directory,
//! generated config with the spam limits out of the way) so that it can read the server's
//! `/proc`, generates and signs its whole load before the clock starts, drives it over
//! loopback, and reports throughput, latency percentiles, server CPU per message and memory.
//! Every run checks that every acknowledged message reached the live stream exactly once and
//! is in the inbox exactly once when polled; a failed check exits with status 1.
//!
//! Scenarios (one per file under `scenario/`): `send`, `idle`, `startup`, `federation`,
//! `cluster`, `large` (a store after a year), `flood` (honest latency beside a flooding client, kezd on its default limits),
//! and `floor`, which measures the machine's ceiling for sends beside kezd. Commands and figures: docs/BENCHMARKS.md, section "kez-bench".

mod client;
mod costs;
mod floor;
mod h2;
mod http;
mod load;
mod metrics;
mod preload;
mod procfs;
mod report;
mod scenario;
mod server;
mod sse;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::server::KezdOptions;

/// mimalloc, as in kezd: the floor server (this binary) must allocate as kezd does, and the
/// load generator shares the cores with the server it measures, so it should spend little.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The KEZ load tool.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    scenario: Scenario,
}

/// Options of every scenario.
#[derive(Debug, Args)]
pub struct Common {
    /// The kezd binary to start.
    #[arg(long, global = true, default_value = "target/release/kezd")]
    kezd: PathBuf,
    /// Print the report as JSON instead of a summary.
    #[arg(long, global = true)]
    json: bool,
    /// kezd's `log.level` (`info` adds one access-log line per request).
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    /// kezd's `durability`: `full` (fsync, SPEC §8.6) or `crash_only`.
    #[arg(long, global = true, default_value = "full")]
    durability: String,
    /// Any other kezd setting, `KEY=VALUE` (TOML value), repeatable.
    #[arg(long = "kezd-set", global = true, value_parser = server::parse_setting)]
    kezd_set: Vec<(String, toml::Value)>,
}

impl Common {
    /// The options for the kezd processes a scenario starts.
    fn kezd_options(&self) -> KezdOptions {
        KezdOptions {
            bin: self.kezd.clone(),
            log_level: self.log_level.clone(),
            durability: self.durability.clone(),
            extra: self.kezd_set.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Single server: signed sends from concurrent senders to recipients with live streams.
    Send(scenario::send::SendArgs),
    /// Many idle SSE streams: server memory per stream, then one broadcast.
    Idle(scenario::idle::IdleArgs),
    /// Start-to-serving time of kezd on an existing database.
    Startup(scenario::startup::StartupArgs),
    /// Two servers over TLS (kez-testnet): forwarding throughput, latency, backlog drain.
    Federation(scenario::federation::FederationArgs),
    /// Two kezd on PostgreSQL + NATS against one on SQLite, same load.
    Cluster(scenario::cluster::ClusterArgs),
    /// One client address flooding sends while honest senders on other addresses send at a
    /// steady rate: honest latency alone and under the flood (SPEC §11).
    Flood(scenario::flood::FloodArgs),
    /// A store like a server's after a year (1,000,000 users, 5,000,000 messages) on SQLite
    /// and PostgreSQL: 1a, 1c, polls, stream catch-ups, a retention sweep, disk per message.
    Large(scenario::large::LargeArgs),
    /// The machine's ceiling for sends (a server that only parses and verifies) beside kezd.
    Floor(scenario::floor::FloorArgs),
    /// Serves as the floor server on 127.0.0.1 (started by `floor`).
    #[command(hide = true)]
    FloorServe {
        /// The port to listen on.
        #[arg(long)]
        port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kez-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut options = cli.common.kezd_options();
    // The testnet starts kezd from each node's own directory: the path must be absolute.
    if let Ok(absolute) = std::fs::canonicalize(&options.bin) {
        options.bin = absolute;
    }
    let result = runtime.block_on(async {
        // The floor server is the one command that starts no kezd.
        let needs_kezd = !matches!(cli.scenario, Scenario::FloorServe { .. });
        if needs_kezd && !options.bin.is_file() {
            anyhow::bail!(
                "{} is not a file: build it with `cargo build --release -p kezd -p kez-bench`",
                options.bin.display()
            );
        }
        match cli.scenario {
            Scenario::Send(args) => scenario::send::run(&options, args).await,
            Scenario::Idle(args) => scenario::idle::run(&options, args).await,
            Scenario::Startup(args) => scenario::startup::run(&options, args).await,
            Scenario::Federation(args) => scenario::federation::run(&options, args).await,
            Scenario::Cluster(args) => scenario::cluster::run(&options, args).await,
            Scenario::Flood(args) => scenario::flood::run(&options, args).await,
            Scenario::Large(args) => scenario::large::run(&options, args).await,
            Scenario::Floor(args) => scenario::floor::run(&options, args).await,
            Scenario::FloorServe { port } => floor::serve(port).await.map(|()| Vec::new()),
        }
    });
    match result {
        Ok(reports) => {
            let mut passed = true;
            if cli.common.json {
                let all: Vec<_> = reports.iter().map(report::Report::to_json).collect();
                let value = if all.len() == 1 {
                    all.into_iter().next().unwrap_or_default()
                } else {
                    serde_json::Value::Array(all)
                };
                println!("{value:#}");
            }
            for r in &reports {
                if !cli.common.json {
                    println!("{}", r.human());
                }
                passed &= r.problems.is_empty();
            }
            if passed {
                ExitCode::SUCCESS
            } else {
                eprintln!("kez-bench: CHECK FAILED: see the report");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("kez-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
