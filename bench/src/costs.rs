//! What a cluster run costs outside its kezd instances, per message: the CPU of PostgreSQL's
//! server processes and of nats-server (read-only `/proc`, every process of that name), what
//! the run's database did (`pg_stat_database`: transactions, rows; `pg_stat_wal`: WAL flushes
//! and bytes), and the broker messages the instances exchanged (kezd's own broker counters on
//! `/metrics`). Sampled at the same two moments as kezd's CPU, so with kezd's and the load
//! generator's CPU the figures add up to what the whole run cost the machine.
//!
//! PostgreSQL processes that exit during the run take their CPU with them, and new ones count
//! from zero; the pools are open before the clock starts, so neither happens in a normal run.
//! The machine must have nothing else using PostgreSQL or NATS meanwhile (the bench runs alone).

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::client::Endpoint;
use crate::report::Report;

/// PostgreSQL 15 publishes a backend's statistics at most once a second (and within a second
/// of it going idle): counts are read after this, so the run's last transactions are in them.
const STATS_FLUSH: Duration = Duration::from_millis(1_200);

/// Samples the processes and the database beside the measured kezd instances.
pub struct Beside {
    /// The admin database (never the run's, so reading statistics adds nothing to them).
    admin: PgPool,
    /// The run's database.
    database: String,
    /// The instances whose broker counters are read.
    instances: Vec<Endpoint>,
    /// The sample taken when the clock started.
    before: Option<Sample>,
}

/// One moment's counters.
#[derive(Debug, Clone, Default)]
struct Sample {
    /// CPU seconds of every `postgres` process, and how many there were.
    postgres: (f64, usize),
    /// CPU seconds of every `nats-server` process, and how many there were.
    nats: (f64, usize),
    /// The run database's counters.
    database: Database,
    /// Broker messages and payload bytes sent and received, summed over the instances.
    broker: [f64; 4],
}

/// `pg_stat_database` of the run's database and `pg_stat_wal`.
#[derive(Debug, Clone, Default)]
struct Database {
    xact_commit: i64,
    xact_rollback: i64,
    tup_inserted: i64,
    tup_updated: i64,
    tup_fetched: i64,
    wal_sync: i64,
    wal_bytes: f64,
}

/// The run's totals that the caller measured itself.
pub struct Totals<'a> {
    /// Acknowledged sends.
    pub acked: usize,
    /// From the first send to the last delivery.
    pub seconds: f64,
    /// CPU seconds of each kezd instance.
    pub kezd_cpu: &'a [f64],
    /// CPU seconds of the load generator.
    pub generator_cpu: f64,
}

/// Per message, what the figures say (µs of CPU, counts).
#[derive(Debug, Serialize)]
struct PerMessage {
    kezd_cpu_us: Vec<f64>,
    postgres_cpu_us: f64,
    postgres_processes: usize,
    nats_cpu_us: f64,
    generator_cpu_us: f64,
    total_cpu_us: f64,
    cores_busy: f64,
    pg_transactions: f64,
    pg_rollbacks: f64,
    pg_wal_flushes: f64,
    pg_wal_bytes: f64,
    pg_rows_inserted: f64,
    pg_rows_updated: f64,
    pg_rows_fetched: f64,
    broker_messages_sent: f64,
    broker_messages_received: f64,
    broker_bytes_sent: f64,
    broker_bytes_received: f64,
}

impl Beside {
    /// Connects to `admin_url` to read the statistics of `database`.
    pub async fn new(admin_url: &str, database: &str, instances: Vec<Endpoint>) -> Result<Self> {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(admin_url)
            .await
            .context("connecting to PostgreSQL for its statistics")?;
        Ok(Self {
            admin,
            database: database.to_owned(),
            instances,
            before: None,
        })
    }

    /// Takes the first sample, just before the clock starts.
    pub async fn before(&mut self) -> Result<()> {
        let broker = self.broker().await;
        // The set-up's own transactions settle into the statistics first.
        tokio::time::sleep(STATS_FLUSH).await;
        let database = self.database().await?;
        self.before = Some(Sample {
            postgres: cpu_of("postgres"),
            nats: cpu_of("nats-server"),
            database,
            broker,
        });
        Ok(())
    }

    /// Takes the second sample right after the last delivery and reports the difference.
    pub async fn after(&mut self, totals: &Totals<'_>, report: &mut Report) -> Result<()> {
        let (postgres, nats) = (cpu_of("postgres"), cpu_of("nats-server"));
        tokio::time::sleep(STATS_FLUSH).await;
        let database = self.database().await?;
        let broker = self.broker().await;
        let after = Sample {
            postgres,
            nats,
            database,
            broker,
        };
        let before = self.before.take().context("no sample before the run")?;
        let per = per_message(&before, &after, totals);
        report_lines(&per, report);
        report.figure("per_message_costs", &per);
        Ok(())
    }

    async fn database(&self) -> Result<Database> {
        let row: (i64, i64, i64, i64, i64, i64, f64) = sqlx::query_as(
            "SELECT d.xact_commit, d.xact_rollback, d.tup_inserted, d.tup_updated, \
             d.tup_fetched, w.wal_sync, w.wal_bytes::float8 \
             FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = $1",
        )
        .bind(&self.database)
        .fetch_one(&self.admin)
        .await
        .context("reading pg_stat_database")?;
        Ok(Database {
            xact_commit: row.0,
            xact_rollback: row.1,
            tup_inserted: row.2,
            tup_updated: row.3,
            tup_fetched: row.4,
            wal_sync: row.5,
            wal_bytes: row.6,
        })
    }

    /// The instances' broker counters summed; zeros from a kezd without them.
    async fn broker(&self) -> [f64; 4] {
        let mut sum = [0.0; 4];
        for endpoint in &self.instances {
            let counts = crate::metrics::broker_traffic(endpoint).await;
            for (total, n) in sum.iter_mut().zip(counts) {
                *total += n;
            }
        }
        sum
    }
}

/// CPU seconds of every process named `name`, and how many there are (those that vanish
/// while being read are skipped).
fn cpu_of(name: &str) -> (f64, usize) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (0.0, 0);
    };
    let mut total = (0.0, 0);
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        if let Ok(cpu) = crate::procfs::cpu_seconds(pid) {
            total.0 += cpu;
            total.1 += 1;
        }
    }
    total
}

fn per_message(before: &Sample, after: &Sample, totals: &Totals<'_>) -> PerMessage {
    let n = totals.acked.max(1) as f64;
    let us = |seconds: f64| seconds * 1e6 / n;
    let count = |a: i64, b: i64| (a - b) as f64 / n;
    let broker = |i: usize| (after.broker[i] - before.broker[i]) / n;
    let (d, b) = (&after.database, &before.database);
    let kezd_cpu_us: Vec<f64> = totals.kezd_cpu.iter().map(|&c| us(c)).collect();
    let postgres_cpu_us = us(after.postgres.0 - before.postgres.0);
    let nats_cpu_us = us(after.nats.0 - before.nats.0);
    let generator_cpu_us = us(totals.generator_cpu);
    let total_cpu_us =
        kezd_cpu_us.iter().sum::<f64>() + postgres_cpu_us + nats_cpu_us + generator_cpu_us;
    PerMessage {
        cores_busy: if totals.seconds > 0.0 {
            total_cpu_us * n / 1e6 / totals.seconds
        } else {
            0.0
        },
        kezd_cpu_us,
        postgres_cpu_us,
        postgres_processes: after.postgres.1,
        nats_cpu_us,
        generator_cpu_us,
        total_cpu_us,
        pg_transactions: count(d.xact_commit, b.xact_commit),
        pg_rollbacks: count(d.xact_rollback, b.xact_rollback),
        pg_wal_flushes: count(d.wal_sync, b.wal_sync),
        pg_wal_bytes: (d.wal_bytes - b.wal_bytes) / n,
        pg_rows_inserted: count(d.tup_inserted, b.tup_inserted),
        pg_rows_updated: count(d.tup_updated, b.tup_updated),
        pg_rows_fetched: count(d.tup_fetched, b.tup_fetched),
        broker_messages_sent: broker(0),
        broker_messages_received: broker(1),
        broker_bytes_sent: broker(2),
        broker_bytes_received: broker(3),
    }
}

fn report_lines(p: &PerMessage, report: &mut Report) {
    let kezd: Vec<String> = p
        .kezd_cpu_us
        .iter()
        .enumerate()
        .map(|(i, c)| format!("kezd {} {c:.1}", i + 1))
        .collect();
    report.line(format!(
        "CPU per message, µs: {} + PostgreSQL {:.1} ({} processes) + nats-server {:.1} + load \
         generator {:.1} = {:.1} ({:.2} cores busy)",
        kezd.join(" + "),
        p.postgres_cpu_us,
        p.postgres_processes,
        p.nats_cpu_us,
        p.generator_cpu_us,
        p.total_cpu_us,
        p.cores_busy
    ));
    report.line(format!(
        "PostgreSQL per message: {:.3} transactions committed, {:.3} rolled back, {:.3} WAL \
         flushes, {:.0} WAL bytes; rows {:.2} inserted, {:.2} updated, {:.2} fetched",
        p.pg_transactions,
        p.pg_rollbacks,
        p.pg_wal_flushes,
        p.pg_wal_bytes,
        p.pg_rows_inserted,
        p.pg_rows_updated,
        p.pg_rows_fetched
    ));
    report.line(format!(
        "NATS per message (kezd's counters, all instances): {:.3} published, {:.3} received, \
         {:.0} payload bytes sent, {:.0} received",
        p.broker_messages_sent,
        p.broker_messages_received,
        p.broker_bytes_sent,
        p.broker_bytes_received
    ));
}
