//! A store that looks like a server after a year: 1,000,000 registered users and 5,000,000
//! stored messages (inboxes from empty to the 10,000 cap), loaded straight into kezd's tables
//! (preload.rs), on SQLite and on PostgreSQL. Against it, beside a kezd on an empty store in the
//! same run, alternately: scenario 1a and 1c, start to serving, inbox polls (first and newest
//! page) and stream catch-ups on inboxes of 0, 100, 1,000 and 10,000 messages, 1c again with
//! the retention sweep running every second, and the disk the messages take. Targets (issue
//! "unchanged when the store is large"): send rate and p99 within 10 % of the empty store,
//! poll p99 < 5 ms, start to serving < 1 s, the sweep moves 1c's p99.9 by < 20 %, disk per
//! message ≤ 2 × its envelope's JSON.
//!
//! It states the disk it needs and refuses to start without it; the data directories and
//! databases it made are removed at the end, also after a failure.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use kez_spec::auth::AuthRequest;
use rand_core::{OsRng, RngCore};
use serde_json::Value;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::client::{Endpoint, Ident, now_ms};
use crate::preload::{self, Fixture, PROBES, Target};
use crate::procfs;
use crate::report::Report;
use crate::scenario::cluster::{psql, with_database};
use crate::scenario::send::{self, SendArgs, ms};
use crate::server::{Kezd, KezdOptions};
use crate::sse::SseReader;
use crate::stats::Latencies;

/// Disk a stored message needs at most while loading (database, indexes, log), bytes: the
/// target is 2 × a ~1.1 KB envelope; the margin covers the write-ahead log.
const BYTES_PER_MESSAGE: u64 = 4_000;

/// Disk per registered user (row, two indexes, signed registration), bytes.
const BYTES_PER_USER: u64 = 1_000;

/// Free space left over after the estimate, so the machine's other work keeps room.
const SPARE_BYTES: u64 = 2_000_000_000;

/// Flags of `kez-bench large`.
#[derive(Debug, Args)]
pub struct LargeArgs {
    /// Registered users in the store.
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    /// Stored messages.
    #[arg(long, default_value_t = 5_000_000)]
    messages: usize,
    /// Which stores.
    #[arg(long, value_enum, default_value = "both")]
    store: Stores,
    /// A PostgreSQL database the bench may create and drop databases from.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database_url: String,
    /// Messages per 1a / 1c run.
    #[arg(long, default_value_t = 20_000)]
    send_messages: usize,
    /// Polls per probe inbox and page.
    #[arg(long, default_value_t = 500)]
    polls: usize,
}

/// The stores the scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Stores {
    Sqlite,
    Postgres,
    Both,
}

/// Runs the scenario.
pub async fn run(options: &KezdOptions, args: LargeArgs) -> Result<Vec<Report>> {
    let need = args.messages as u64 * BYTES_PER_MESSAGE + args.users as u64 * BYTES_PER_USER;
    let parent = tempfile::Builder::new()
        .prefix("kez-bench-large-")
        .tempdir()?;
    let free = free_bytes(parent.path())?;
    let stores = match args.store {
        Stores::Sqlite => vec![false],
        Stores::Postgres => vec![true],
        Stores::Both => vec![false, true],
    };
    // PostgreSQL's files are on this machine too; both stores exist one after the other.
    eprintln!(
        "kez-bench large: needs about {:.1} GB per store, {:.1} GB free at {}",
        need as f64 / 1e9,
        free as f64 / 1e9,
        parent.path().display()
    );
    if free < need + SPARE_BYTES {
        bail!(
            "not enough disk: {:.1} GB free, {:.1} GB needed (+{:.1} GB spare)",
            free as f64 / 1e9,
            need as f64 / 1e9,
            SPARE_BYTES as f64 / 1e9
        );
    }
    let mut reports = Vec::new();
    for postgres in stores {
        let mut databases = Vec::new();
        let result = one_store(options, &args, parent.path(), postgres, &mut databases).await;
        // Whatever happened, drop what was made (FORCE: kezd's pool may still be closing).
        for db in &databases {
            let dropped = psql(
                &args.database_url,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
            if let Err(e) = dropped {
                eprintln!("kez-bench large: dropping {db}: {e:#}");
            }
        }
        match result {
            Ok(done) => reports.extend(done),
            Err(e) => {
                let mut failed = Report::new(&format!("large-{}", store_name(postgres)));
                failed.problem(format!("{e:#}"));
                reports.push(failed);
            }
        }
    }
    Ok(reports)
}

fn store_name(postgres: bool) -> &'static str {
    if postgres { "postgres" } else { "sqlite" }
}

/// Free bytes for an unprivileged user on `path`'s file system.
fn free_bytes(path: &Path) -> Result<u64> {
    let stat = rustix::fs::statvfs(path).context("statvfs")?;
    Ok(stat.f_bavail * stat.f_frsize)
}

/// A kezd on an empty store and one on the large store, both kept running; `databases` gets
/// every PostgreSQL database made, for the caller to drop.
async fn one_store(
    options: &KezdOptions,
    args: &LargeArgs,
    parent: &Path,
    postgres: bool,
    databases: &mut Vec<String>,
) -> Result<Vec<Report>> {
    let name = store_name(postgres);
    let mut summary = Report::new(&format!("large-{name}"));
    summary.param("users", args.users);
    summary.param("messages", args.messages);
    let mut tables = Vec::new();
    for which in ["empty", "large"] {
        let mut table = toml::Table::new();
        if postgres {
            let mut tag = [0u8; 6];
            OsRng.fill_bytes(&mut tag);
            let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
            let db = format!("kez_bench_{which}_{tag}");
            psql(&args.database_url, &format!("CREATE DATABASE {db}"))?;
            databases.push(db.clone());
            table.insert(
                "database_url".into(),
                with_database(&args.database_url, &db)?.into(),
            );
            // kezd on PostgreSQL may be one of several instances: it must name one address.
            let server = format!("{which}.localhost");
            table.insert("public_base_url".into(), format!("http://{server}").into());
            table.insert("server_name".into(), server.into());
        }
        tables.push(table);
    }
    let dir = parent.join(name);
    let mut empty = Kezd::start(options, &dir, "empty", tables[0].clone()).await?;
    let mut large = Kezd::start(options, &dir, "large", tables[1].clone()).await?;
    large.stop().await?;

    // The load, on the schema kezd made.
    let fixture = Fixture::new(&large.server_name, args.users, args.messages)?;
    let database_url = tables[1].get("database_url").and_then(toml::Value::as_str);
    let times = load_store(&fixture, &large, database_url, &mut summary).await?;
    let loaded = fixture.messages();
    summary.figure("load_seconds", times.total.as_secs_f64());
    summary.figure("build_seconds", times.build.as_secs_f64());
    summary.figure(
        "load_messages_per_second",
        loaded as f64 / times.total.as_secs_f64(),
    );
    summary.line(format!(
        "loaded {} users, {loaded} messages in {:.1} s ({:.0} messages/s; building rows {:.1} s of it)",
        args.users,
        times.total.as_secs_f64(),
        loaded as f64 / times.total.as_secs_f64(),
        times.build.as_secs_f64()
    ));

    // Whatever the load left dirty in the page cache is written out first: its writeback would
    // otherwise run under the measurements below and delay the fsyncs of both kezds.
    let flushing = Instant::now();
    tokio::task::spawn_blocking(rustix::fs::sync).await?;
    summary.line(format!(
        "wrote the load out to disk (sync) in {:.1} s before measuring",
        flushing.elapsed().as_secs_f64()
    ));

    let mut starts = Vec::new();
    for _ in 0..3 {
        starts.push(ms(large.spawn().await?));
        large.stop().await?;
    }
    large.spawn().await?;
    let (work, until) = settled(&large).await?;
    summary.figure("start_up_work_cpu_seconds", work);
    summary.line(format!(
        "after it started serving on the large store, kezd worked {work:.2} s of CPU over \
         {until:.1} s before it was idle (on SQLite, mostly reading the stored ids); 1a and 1c \
         measured after"
    ));
    settled(&empty).await?;
    starts.sort_by(f64::total_cmp);
    summary.figure("start_to_serving_ms", &starts);
    summary.line(format!(
        "start to serving on the large store: {starts:.1?} ms (target < 1,000 ms)"
    ));

    let mut reports = Vec::new();
    let runs = [
        ("1a", None, &empty, "e1a"),
        ("1a", None, &large, "l1a"),
        ("1c", Some(2000.0), &empty, "e1c"),
        ("1c", Some(2000.0), &large, "l1c"),
    ];
    for (scenario, rate, kezd, prefix) in runs {
        let which = if prefix.starts_with('e') {
            "empty"
        } else {
            "large"
        };
        let mut report = Report::new(&format!("large-{name}-{which}-{scenario}"));
        send::load_on(kezd, &load_args(args, rate), prefix, &mut report).await?;
        reports.push(report);
    }
    empty.stop().await?;
    compare(&reports, postgres, &mut summary);

    polls(&large, &fixture, args.polls, &mut summary).await?;

    sweeps(name, &mut large, args, &fixture, &mut summary, &mut reports).await?;
    large.stop().await?;
    reports.insert(0, summary);
    Ok(reports)
}

/// 1c right after a start, without sweeps and then with one every second (the first one
/// deletes an hour's expired messages): the first sweep comes a second after the start, while
/// kezd may still be doing its start-up work, so both runs start the same way.
async fn sweeps(
    name: &str,
    large: &mut Kezd,
    args: &LargeArgs,
    fixture: &Fixture,
    summary: &mut Report,
    reports: &mut Vec<Report>,
) -> Result<()> {
    let mut quiet = 0.0;
    let mut sweeping = 0.0;
    for (interval, prefix) in [(None, "q1c"), (Some(1), "w1c")] {
        large.stop().await?;
        if let Some(secs) = interval {
            large.set("retention.sweep_interval_secs", secs.into())?;
        }
        large.spawn().await?;
        let what = if interval.is_some() {
            "sweeping"
        } else {
            "restarted"
        };
        let mut report = Report::new(&format!("large-{name}-large-1c-{what}"));
        send::load_on(large, &load_args(args, Some(2000.0)), prefix, &mut report).await?;
        match interval {
            Some(_) => sweeping = p999(&report),
            None => quiet = p999(&report),
        }
        reports.push(report);
    }
    summary.figure("sweep_1c_p999_ms", [quiet, sweeping]);
    summary.line(format!(
        "1c p99.9 on the large store, just started: {quiet:.2} ms without sweeps, {sweeping:.2} ms \
         with one every second ({} expired messages to delete): {:+.0} % (target < 20 %)",
        fixture.expired(),
        (sweeping / quiet - 1.0) * 100.0
    ));
    Ok(())
}

/// CPU a kezd uses per [`SETTLE_WINDOW`], at most, once it has finished its start-up work.
const SETTLED_CPU_SECONDS: f64 = 0.01;
/// How often a starting kezd's CPU is read.
const SETTLE_WINDOW: Duration = Duration::from_millis(500);
/// How long start-up work may take before the scenario measures anyway.
const SETTLE_MAX: Duration = Duration::from_secs(60);

/// Waits until `kezd` has finished what it does after it starts serving (on SQLite, reading
/// every stored id into the writer's filter): a server after a year restarts rarely, and what
/// follows compares it running with an empty one. Returns the CPU seconds that work took and
/// the seconds until kezd was idle.
async fn settled(kezd: &Kezd) -> Result<(f64, f64)> {
    let pid = kezd.pid()?;
    let started = Instant::now();
    let first = procfs::cpu_seconds(pid)?;
    let mut last = first;
    loop {
        tokio::time::sleep(SETTLE_WINDOW).await;
        let now = procfs::cpu_seconds(pid)?;
        if now - last < SETTLED_CPU_SECONDS || started.elapsed() > SETTLE_MAX {
            return Ok((now - first, started.elapsed().as_secs_f64()));
        }
        last = now;
    }
}

/// Loads the fixture into the stopped `large` kezd's store (PostgreSQL at `database_url`, else
/// its SQLite file), checkpoints it, and notes the disk it takes.
async fn load_store(
    fixture: &Fixture,
    large: &Kezd,
    database_url: Option<&str>,
    summary: &mut Report,
) -> Result<preload::LoadTimes> {
    Ok(match database_url {
        Some(url) => {
            let mut conn = PgConnection::connect(url).await?;
            let times = preload::load(fixture, Target::Postgres(&mut conn)).await?;
            // What autovacuum would have done on a server a year old.
            sqlx::query("ANALYZE").execute(&mut conn).await?;
            sqlx::query("CHECKPOINT").execute(&mut conn).await?;
            disk_postgres(&mut conn, summary).await?;
            times
        }
        None => {
            let mut conn = SqliteConnectOptions::new()
                .filename(large.data_dir().join("kezd.db"))
                .synchronous(SqliteSynchronous::Off)
                .foreign_keys(false)
                .connect()
                .await?;
            let times = preload::load(fixture, Target::Sqlite(&mut conn)).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await?;
            disk_sqlite(&mut conn, summary).await?;
            conn.close().await?;
            times
        }
    })
}

/// The 1a (`rate` None) or 1c load of this scenario.
fn load_args(args: &LargeArgs, rate: Option<f64>) -> SendArgs {
    SendArgs {
        senders: 64,
        recipients: 1,
        messages: args.send_messages,
        rate,
        duration: 120,
        drain_timeout: 60,
    }
}

/// A report's send → stream percentile.
fn percentile(report: &Report, key: &str) -> f64 {
    report.figures["send_to_stream_latency"][key]
        .as_f64()
        .unwrap_or(f64::NAN)
}

fn p999(report: &Report) -> f64 {
    percentile(report, "p999_ms")
}

/// Rate, p99, kezd's CPU and (on SQLite) its disk writes per message of each run on the large
/// store against the empty one run just before it.
fn compare(reports: &[Report], postgres: bool, summary: &mut Report) {
    for pair in reports.chunks(2) {
        let [empty, large] = pair else { continue };
        let rate = |r: &Report| r.figures["delivered_per_second"].as_f64().unwrap_or(0.0);
        let name = large.scenario.rsplit('-').next().unwrap_or("?");
        let (re, rl) = (rate(empty), rate(large));
        let (pe, pl) = (percentile(empty, "p99_ms"), percentile(large, "p99_ms"));
        summary.figure(&format!("{name}_rate_empty_large"), [re, rl]);
        summary.figure(&format!("{name}_p99_ms_empty_large"), [pe, pl]);
        summary.line(format!(
            "{name}: {re:.0}/s → {rl:.0}/s ({:+.1} %), p99 {pe:.2} → {pl:.2} ms ({:+.1} %) \
             (empty → large store; target within 10 %)",
            (rl / re - 1.0) * 100.0,
            (pl / pe - 1.0) * 100.0
        ));
        let figure = |r: &Report, key: &str| r.figures[key].as_f64().unwrap_or(0.0);
        let cpu = [empty, large].map(|r| figure(r, "server_cpu_ms_per_message"));
        let disk = [empty, large].map(|r| figure(r, "server_disk_write_bytes_per_message") / 1e3);
        summary.figure(&format!("{name}_cpu_ms_per_message_empty_large"), cpu);
        summary.figure(&format!("{name}_disk_kb_per_message_empty_large"), disk);
        // On PostgreSQL the database server writes, not kezd: its figure would be zero.
        let writes = match postgres {
            true => String::new(),
            false => format!(" and disk writes {:.1} → {:.1} KB", disk[0], disk[1]),
        };
        summary.line(format!(
            "{name}: kezd's CPU {:.3} → {:.3} ms{writes} per message",
            cpu[0], cpu[1]
        ));
    }
}

/// Polls of the first and the newest page, one in flight, and stream catch-ups (open with a
/// cursor 100 back, until the first message), on each probe inbox.
async fn polls(kezd: &Kezd, fixture: &Fixture, count: usize, summary: &mut Report) -> Result<()> {
    let endpoint = Endpoint::plain(kezd.addr, &kezd.server_name)?;
    for (user, &length) in PROBES.iter().enumerate() {
        let ident = Ident {
            key: fixture.key(user),
            address: fixture.address(user)?,
        };
        let handle = ident.handle().clone();
        let newest = u64::from(length.saturating_sub(100));
        for (page, since) in [("first", 0), ("newest", newest)] {
            let mut samples = Vec::with_capacity(count);
            for _ in 0..count {
                let cred = AuthRequest::Poll {
                    handle: &handle,
                    since,
                }
                .sign(&ident.key, now_ms() / 1000)
                .to_string();
                let url = format!("{}/v1/inbox/{handle}?since={since}", endpoint.base);
                let started = Instant::now();
                let response = endpoint
                    .client
                    .get(url)
                    .header("x-kez-auth", cred)
                    .send()
                    .await?;
                let status = response.status();
                let body = response.bytes().await?;
                samples.push(started.elapsed());
                if status != 200 {
                    bail!("polling {handle} answered {status}");
                }
                let page: Value = serde_json::from_slice(&body)?;
                let got = page["messages"].as_array().map_or(0, Vec::len);
                if got != (length as usize).min(100) {
                    summary.problem(format!("{handle}: {got} messages on a page of {length}"));
                }
            }
            let l = Latencies::from_samples(samples);
            summary.line(format!("poll {page} page of {length}: {}", l.line()));
            summary.figure(&format!("poll_{page}_page_{length}"), &l);
        }
        if length == 0 {
            continue;
        }
        let mut samples = Vec::new();
        for _ in 0..count.div_ceil(10) {
            let path = ident.stream_path(Some(newest));
            let started = Instant::now();
            let mut reader = SseReader::new(endpoint.stream(&path).await?);
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(10), reader.next_event())
                    .await??
                    .context("stream ended before its first message")?;
                if frame.event.as_deref() == Some("message") {
                    break;
                }
            }
            samples.push(started.elapsed());
        }
        let l = Latencies::from_samples(samples);
        summary.line(format!(
            "stream catch-up, first of the newest 100 of {length}: {}",
            l.line()
        ));
        summary.figure(&format!("stream_catch_up_{length}"), &l);
    }
    Ok(())
}

/// SQLite: the file after a checkpoint, and what the messages' tables and indexes take.
async fn disk_sqlite(conn: &mut SqliteConnection, summary: &mut Report) -> Result<()> {
    let total: i64 = sqlx::query_scalar(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(&mut *conn)
    .await?;
    let users: i64 = sqlx::query_scalar(
        "SELECT SUM(pgsize) FROM dbstat WHERE name = 'users' OR name LIKE 'sqlite_autoindex_users%'",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (count, envelope): (i64, f64) =
        sqlx::query_as("SELECT COUNT(*), AVG(LENGTH(envelope)) FROM messages")
            .fetch_one(&mut *conn)
            .await?;
    disk_figures(total, users, count, envelope, summary);
    Ok(())
}

/// PostgreSQL: the database after a checkpoint, and what all but the users table takes.
async fn disk_postgres(conn: &mut PgConnection, summary: &mut Report) -> Result<()> {
    let (total, users): (i64, i64) = sqlx::query_as(
        "SELECT pg_database_size(current_database()), pg_total_relation_size('users')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (count, envelope): (i64, f64) =
        sqlx::query_as("SELECT COUNT(*), AVG(OCTET_LENGTH(envelope))::float8 FROM messages")
            .fetch_one(&mut *conn)
            .await?;
    disk_figures(total, users, count, envelope, summary);
    Ok(())
}

fn disk_figures(total: i64, users: i64, count: i64, envelope: f64, summary: &mut Report) {
    let per_message = (total - users) as f64 / count.max(1) as f64;
    summary.figure("disk_bytes", total);
    summary.figure("disk_bytes_users", users);
    summary.figure("disk_bytes_per_message", per_message);
    summary.figure("envelope_json_bytes", envelope);
    summary.line(format!(
        "disk: {:.2} GB in all, {:.2} GB of it users; {per_message:.0} bytes per message \
         (messages, ids, counters, conversations and their indexes) for a {envelope:.0}-byte \
         envelope: {:.2} × (target ≤ 2)",
        total as f64 / 1e9,
        users as f64 / 1e9,
        per_message / envelope
    ));
}
