//! Scenario 4, the cluster: two kezd sharing one PostgreSQL database and one NATS, as behind a
//! load balancer, against one kezd on SQLite, under the same load. Senders alternate between
//! the two instances and every recipient's live stream is on the other instance than the one
//! its messages are posted to, so each message crosses the broker. Server CPU is both kezd
//! processes'; beside it, each message's CPU in PostgreSQL and nats-server, its PostgreSQL
//! transactions and WAL flushes, and its NATS messages ([`crate::costs`]).
//!
//! Runs only if this kezd accepts `database_url = postgres://…` and `broker_url = nats://…`
//! (checked with `kezd check-config`); otherwise it reports that the cluster is not ready.
//! Each run creates its own database (dropped afterwards) and NATS subject prefix.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use rand_core::{OsRng, RngCore};

use crate::client::{self, Endpoint, Ident};
use crate::costs::Beside;
use crate::load::{self, Pace, SendRun};
use crate::report::Report;
use crate::scenario::send::{self, SendArgs};
use crate::server::{Kezd, KezdOptions};

/// Flags of `kez-bench cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// An existing PostgreSQL database the bench may create and drop databases from.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database_url: String,
    /// The NATS server.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Concurrent senders (even: half on each instance).
    #[arg(long, default_value_t = 64)]
    senders: usize,
    /// Recipients (even, so each stream is on the other instance than its senders').
    #[arg(long, default_value_t = 2)]
    recipients: usize,
    /// Messages per run.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Aggregate send rate, messages/s; without it, as fast as answers come.
    #[arg(long)]
    rate: Option<f64>,
    /// No send starts after this many seconds.
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Skip the SQLite comparison run.
    #[arg(long)]
    no_sqlite: bool,
}

/// Whether kezd knows the cluster's keys: `check-config` must accept them and echo them.
fn cluster_ready(options: &KezdOptions, db: &str, nats: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = Command::new(&options.bin)
        .arg("check-config")
        .arg("--set")
        .arg(format!("data_dir={}", dir.path().display()))
        .arg("--set")
        .arg(format!("database_url={db}"))
        .arg("--set")
        .arg(format!("broker_url={nats}"))
        .arg("--set")
        .arg("public_base_url=http://cluster.localhost")
        .output()
        .map_err(|e| format!("running kezd check-config: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "kezd check-config refused the keys: {}",
            stderr.trim()
        ));
    }
    if !stdout.contains("database_url = \"postgres") || !stdout.contains("broker_url = \"nats") {
        return Err("kezd check-config does not echo database_url / broker_url".to_owned());
    }
    Ok(())
}

/// Runs SQL on the admin database with psql (the bench needs no PostgreSQL client of its own).
pub(crate) fn psql(admin_url: &str, sql: &str) -> Result<()> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            admin_url,
            "-c",
            sql,
        ])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// `admin_url` with its database name replaced.
pub(crate) fn with_database(admin_url: &str, name: &str) -> Result<String> {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .context("database URL without scheme")?;
    let prefix = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    })
}

/// Runs the scenario.
pub async fn run(options: &KezdOptions, args: ClusterArgs) -> Result<Vec<Report>> {
    let mut report = Report::new("cluster");
    report.param("senders", args.senders);
    report.param("recipients", args.recipients);
    report.param("messages", args.messages);
    report.param("rate", args.rate);
    if let Err(why) = cluster_ready(options, &args.database_url, &args.nats_url) {
        report.line(format!("cluster NOT READY: {why}"));
        report.problem(format!("cluster scenario not run: {why}"));
        return Ok(vec![report]);
    }
    let mut tag = [0u8; 6];
    OsRng.fill_bytes(&mut tag);
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let db_name = format!("kez_bench_{tag}");
    psql(&args.database_url, &format!("CREATE DATABASE {db_name}"))?;
    let result = cluster_run(options, &args, &db_name, &tag, &mut report).await;
    // Drop the database whatever happened (FORCE: kezd's pool may still be closing).
    let dropped = psql(
        &args.database_url,
        &format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"),
    );
    result?;
    dropped?;
    let mut reports = vec![report];
    if !args.no_sqlite {
        reports.push(sqlite_run(options, &args).await?);
    }
    Ok(reports)
}

/// The two-instance run.
async fn cluster_run(
    options: &KezdOptions,
    args: &ClusterArgs,
    db_name: &str,
    tag: &str,
    report: &mut Report,
) -> Result<()> {
    let db_url = with_database(&args.database_url, db_name)?;
    let mut tables = toml::Table::new();
    tables.insert("server_name".into(), "cluster.localhost".into());
    // A cluster names one address for all its instances (kezd refuses one without it).
    tables.insert("public_base_url".into(), "http://cluster.localhost".into());
    tables.insert("database_url".into(), db_url.into());
    tables.insert("broker_url".into(), args.nats_url.clone().into());
    tables.insert(
        "broker_prefix".into(),
        format!("kez_bench_{tag}.chat").into(),
    );
    let dir = tempfile::Builder::new().prefix("kez-bench-").tempdir()?;
    let mut first = Kezd::start(options, dir.path(), "kezd-1", tables.clone()).await?;
    let mut second = Kezd::start(options, dir.path(), "kezd-2", tables).await?;
    let one = Endpoint::plain(first.addr, &first.server_name)?;
    let two = Endpoint::plain(second.addr, &second.server_name)?;
    let senders = Ident::many("s", args.senders, &first.server_name)?;
    let recipients = Ident::many("r", args.recipients, &first.server_name)?;
    client::register_all(&one, &senders).await?;
    client::register_all(&two, &recipients).await?;
    let messages = client::build_messages(&senders, &recipients, args.messages)?;
    let send_endpoints = [one.clone(), two.clone()];
    let mut beside = Beside::new(&args.database_url, db_name, send_endpoints.to_vec()).await?;
    // Recipient r's messages are posted through instance r mod 2 (senders and recipients are
    // both even in number); its stream is on the other one.
    let stream_endpoints = [two, one];
    let result = load::measure(
        SendRun {
            send_endpoints: &send_endpoints,
            stream_endpoints: &stream_endpoints,
            poll_endpoints: &send_endpoints,
            recipients: &recipients,
            messages,
            pace: Pace {
                tasks: args.senders,
                rate: args.rate,
                duration: Duration::from_secs(args.duration),
            },
            expect: 201,
            pids: vec![first.pid()?, second.pid()?],
            drain_timeout: Duration::from_secs(60),
            beside: Some(&mut beside),
        },
        report,
    )
    .await;
    first.stop().await?;
    second.stop().await?;
    result
}

/// The same load on one kezd with SQLite, for comparison: the `send` scenario's run.
async fn sqlite_run(options: &KezdOptions, args: &ClusterArgs) -> Result<Report> {
    let load = SendArgs {
        senders: args.senders,
        recipients: args.recipients,
        messages: args.messages,
        rate: args.rate,
        duration: args.duration,
        drain_timeout: 60,
    };
    send::single_server(options, &load, "cluster-baseline-sqlite").await
}
