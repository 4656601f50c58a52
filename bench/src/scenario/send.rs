//! Scenario 1, single server: concurrent senders post signed envelopes to recipients whose
//! live streams are open on the same kezd (SQLite, fsynced group commits by default). Latency
//! is from the start of the POST to the stream event carrying that message id. Targets:
//! 15,000 sends/s with 64 senders at < 0.1 ms server CPU per message; p99 < 2 ms with one
//! message in flight (`--senders 1`) and < 10 ms at `--rate 2000`.

use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use crate::client::{self, Endpoint, Ident};
use crate::load::{self, Pace, SendRun};
use crate::report::Report;
use crate::server::{Kezd, KezdOptions};

/// Flags of `kez-bench send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Concurrent senders: each its own identity and connection, one request in flight.
    #[arg(long, default_value_t = 64)]
    pub(crate) senders: usize,
    /// Recipients, each with one live stream; message j goes to recipient j mod N.
    #[arg(long, default_value_t = 1)]
    pub(crate) recipients: usize,
    /// Messages in the run (all built and signed before the clock starts).
    #[arg(long, default_value_t = 20_000)]
    pub(crate) messages: usize,
    /// Aggregate send rate in messages/s; without it, as fast as answers come.
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// No send starts after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub(crate) duration: u64,
    /// Seconds to wait for the last deliveries after the last answer.
    #[arg(long, default_value_t = 60)]
    pub(crate) drain_timeout: u64,
}

/// Runs the scenario.
pub async fn run(options: &KezdOptions, args: SendArgs) -> Result<Vec<Report>> {
    Ok(vec![single_server(options, &args, "send").await?])
}

/// The scenario's run on one kezd, reported as `name` (the cluster scenario's SQLite baseline
/// is this same run).
pub(crate) async fn single_server(
    options: &KezdOptions,
    args: &SendArgs,
    name: &str,
) -> Result<Report> {
    let mut report = Report::new(name);
    report.param("senders", args.senders);
    report.param("recipients", args.recipients);
    report.param("messages", args.messages);
    report.param("rate", args.rate);
    report.param("durability", options.durability.as_str());
    report.param("log_level", options.log_level.as_str());

    let dir = tempfile::Builder::new().prefix("kez-bench-").tempdir()?;
    let mut kezd = Kezd::start(options, dir.path(), "kezd", toml::Table::new()).await?;
    report.figure("start_to_serving_ms_empty_db", ms(kezd.last_start));
    load_on(&kezd, args, "", &mut report).await?;
    kezd.stop().await?;
    Ok(report)
}

/// The scenario's load on a running kezd: its senders and recipients are registered as
/// `<prefix>s<n>` and `<prefix>r<n>` (a prefix of its own for each run on the same kezd).
pub(crate) async fn load_on(
    kezd: &Kezd,
    args: &SendArgs,
    prefix: &str,
    report: &mut Report,
) -> Result<()> {
    let endpoint = Endpoint::plain(kezd.addr, &kezd.server_name)?;
    let senders = Ident::many(&format!("{prefix}s"), args.senders, &kezd.server_name)?;
    let recipients = Ident::many(&format!("{prefix}r"), args.recipients, &kezd.server_name)?;
    client::register_all(&endpoint, &senders).await?;
    client::register_all(&endpoint, &recipients).await?;
    let built = Instant::now();
    let messages = client::build_messages(&senders, &recipients, args.messages)?;
    report.figure("prebuild_seconds", built.elapsed().as_secs_f64());

    let endpoints = [endpoint];
    load::measure(
        SendRun {
            send_endpoints: &endpoints,
            stream_endpoints: &endpoints,
            poll_endpoints: &endpoints,
            recipients: &recipients,
            messages,
            pace: Pace {
                tasks: args.senders,
                rate: args.rate,
                duration: Duration::from_secs(args.duration),
            },
            expect: 201,
            pids: vec![kezd.pid()?],
            drain_timeout: Duration::from_secs(args.drain_timeout),
            beside: None,
        },
        report,
    )
    .await
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
