//! Start-to-serving: kezd is started on an existing database (users registered, messages
//! stored, then a graceful stop), and each restart is timed from spawn until `GET /v1/healthz`
//! answers 200. Target: < 200 ms.
//!
//! Where a start's time goes comes from kezd itself: its `ready to serve` line (logged at
//! `info`, so these kezd run at that level) gives the milliseconds the configuration, the
//! store and federation took, and from `main` to everything set up; the rest of the spawn-to-200
//! time is the process's exec before `main` and the first request's round trip.

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
    let options = KezdOptions {
        log_level: "info".into(),
        ..options.clone()
    };
    let mut kezd = Kezd::start(&options, dir.path(), "kezd", toml::Table::new()).await?;
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
    let mut phases: Vec<Vec<f64>> = vec![Vec::with_capacity(args.runs); PHASES.len()];
    for _ in 0..args.runs {
        let t = kezd.spawn().await?;
        times.push(ms(t));
        kezd.stop().await?;
        match last_phases(&kezd.log()) {
            Some(found) => phases.iter_mut().zip(found).for_each(|(p, v)| p.push(v)),
            None => report.problem("kezd logged no \"ready to serve\" line with its phases"),
        }
    }
    let total = median(&times);
    report.figure("start_to_serving_ms", &times);
    report.figure("start_to_serving_ms_median", total);
    report.line(format!(
        "start to serving on an existing database ({} users, {} messages, {:.1} MB): {} ms (median {total:.1} ms)",
        args.users,
        outcome.acked,
        db_bytes as f64 / 1e6,
        times
            .iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let medians: Vec<f64> = phases.iter().map(|p| median(p)).collect();
    for (name, value) in PHASES.iter().zip(&medians) {
        report.figure(&format!("{name}_median"), *value);
    }
    if let [config, store, federation, ready] = medians[..] {
        report.line(format!(
            "where a start goes (medians): configuration {config:.1} ms, store open {store:.1} ms, \
             federation setup {federation:.1} ms, the rest of kezd's setup {:.1} ms (ready \
             {ready:.1} ms after main); exec and the first answer {:.1} ms",
            ready - config - store - federation,
            total - ready,
        ));
    }
    Ok(vec![report])
}

/// The fields of kezd's `ready to serve` line, in this order.
const PHASES: [&str; 4] = ["config_ms", "store_ms", "federation_ms", "ready_ms"];

/// The phases of the last start in `log`: the last `ready to serve` line's [`PHASES`].
fn last_phases(log: &str) -> Option<Vec<f64>> {
    let line = log.lines().rev().find(|l| l.contains("ready to serve"))?;
    PHASES.iter().map(|name| field(line, name)).collect()
}

/// The number after `name=` in a text log line.
fn field(line: &str, name: &str) -> Option<f64> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let value = &line[start..];
    let end = value.find(' ').unwrap_or(value.len());
    value[..end].parse().ok()
}

/// The middle value (the upper one of an even count); 0 for none.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_come_from_the_last_ready_line() {
        let log = "\
2026-11-26T09:00:00.000001Z  INFO kezd::startup: ready to serve config_ms=0.5 store_ms=7.25 federation_ms=1 ready_ms=9.0
2026-11-26T09:00:01.000001Z  INFO kezd::server: listening address=127.0.0.1:1 tls=false
2026-11-26T09:00:02.000001Z  INFO kezd::startup: ready to serve config_ms=0.25 store_ms=6 federation_ms=1.5 ready_ms=8.5
2026-11-26T09:00:02.000002Z  INFO kezd::server: listening address=127.0.0.1:1 tls=false";
        assert_eq!(last_phases(log), Some(vec![0.25, 6.0, 1.5, 8.5]));
        assert_eq!(last_phases("nothing here"), None);
        // A field that is missing or not a number is no phase at all.
        assert_eq!(
            last_phases(
                "INFO kezd::startup: ready to serve config_ms=1 store_ms=x federation_ms=1 ready_ms=2"
            ),
            None
        );
    }

    #[test]
    fn the_median_is_the_middle_value() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 4.0);
        assert_eq!(median(&[]), 0.0);
    }
}
