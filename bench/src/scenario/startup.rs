//! Start-to-serving: kezd is started on an existing database (users registered, messages
//! stored, then a graceful stop), and each restart is timed from spawn until `GET /v1/healthz`
//! answers 200. Target: < 200 ms.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::client::{self, Endpoint, Ident};
use crate::load::{self, Pace, Tracker};
use crate::report::Report;
use crate::scenario::send::ms;
use crate::server::{Kezd, KezdOptions};

/// Flags of `kez-bench startup`.
#[derive(Debug, Args)]
pub struct StartupArgs {
    /// Users registered before the timed starts.
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    /// Messages stored before the timed starts (to the users, round robin).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Timed starts.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// Runs the scenario.
pub async fn run(options: &KezdOptions, args: StartupArgs) -> Result<Vec<Report>> {
    let mut report = Report::new("startup");
    report.param("users", args.users);
    report.param("messages", args.messages);
    report.param("runs", args.runs);
    let dir = tempfile::Builder::new().prefix("kez-bench-").tempdir()?;
    let mut kezd = Kezd::start(options, dir.path(), "kezd", toml::Table::new()).await?;
    report.figure("start_to_serving_ms_empty_db", ms(kezd.last_start));

    // Fill the database: users, then messages sent 32 at a time (not measured).
    let endpoint = Endpoint::plain(kezd.addr, &kezd.server_name)?;
    let users = Ident::many("u", args.users.max(2), &kezd.server_name)?;
    client::register_all(&endpoint, &users).await?;
    let senders = &users[..users.len().min(32)];
    let messages = client::build_messages(senders, &users, args.messages)?;
    let tracker = Arc::new(Tracker::new(&messages));
    tracker.start();
    let outcome = load::run_sends(
        Arc::new(messages),
        &[endpoint],
        Pace {
            tasks: senders.len(),
            rate: None,
            duration: Duration::from_secs(300),
        },
        201,
        tracker,
    )
    .await?;
    if outcome.errors > 0 {
        report.problem(format!("{} preload sends failed", outcome.errors));
    }
    kezd.stop().await?;
    let db_bytes: u64 = std::fs::read_dir(dir.path().join("kezd").join("data"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    report.figure("data_dir_bytes", db_bytes);

    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let t = kezd.spawn().await?;
        times.push(ms(t));
        kezd.stop().await?;
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    report.figure("start_to_serving_ms", &times);
    report.figure("start_to_serving_ms_median", median);
    report.line(format!(
        "start to serving on an existing database ({} users, {} messages, {:.1} MB): {} ms (median {median:.1} ms)",
        args.users,
        outcome.acked,
        db_bytes as f64 / 1e6,
        times
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(vec![report])
}
