//! The measurement behind SPEC §11's conversations living in the store
//! (`kezd/src/conversation.rs`): what the look-up every send now makes costs, and what the
//! record made for a new (or day-old) conversation costs, on SQLite and, when
//! `KEZ_TEST_POSTGRES_URL` (`postgres://…/<database>`) is set, on PostgreSQL, in a database
//! of its own created beside that one and dropped after.
//!
//! Fills the table with `PAIRS` conversations, then times `LOOKUPS` look-ups of random pairs
//! one after another (the latency a send adds) and 16 at a time (what concurrent sends see),
//! and `RECORDS` records one by one (each its own commit: a first contact's extra write).
//!
//! `cargo run --release -p kezd --example conversation_cost [PAIRS] [LOOKUPS] [RECORDS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kezd::store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let pairs: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let lookups: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let records: usize = args.next().map_or(Ok(2_000), |a| a.parse())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let sqlite = SqliteStore::open(SqliteOptions::new(dir.path().join("kezd.db"))).await?;
        measure("sqlite", Arc::new(sqlite), pairs, lookups, records).await?;
        if let Ok(url) = std::env::var("KEZ_TEST_POSTGRES_URL") {
            let name = format!("kez_cost_{}", std::process::id());
            let (server, _) = url.rsplit_once('/').ok_or("a URL ending in /<database>")?;
            exec(&url, &format!("CREATE DATABASE {name}")).await?;
            let pg = PostgresStore::open(PostgresOptions::new(format!("{server}/{name}"))).await?;
            let result = measure("postgres", Arc::new(pg), pairs, lookups, records).await;
            exec(&url, &format!("DROP DATABASE {name} WITH (FORCE)")).await?;
            result?;
        }
        Ok(())
    })
}

async fn measure(
    name: &str,
    store: Arc<dyn Store>,
    pairs: usize,
    lookups: usize,
    records: usize,
) -> Result<(), Error> {
    let pair = |n: usize| (format!("s{n}@a.example"), format!("r{}@b.example", n / 7));
    let batch: Vec<_> = (0..pairs).map(pair).collect();
    for chunk in batch.chunks(1_000) {
        store.record_conversations(chunk.to_vec(), 1).await?;
    }
    // A fixed stride through the pairs, half of them unknown (the reverse direction).
    let probe = |i: usize| {
        let (s, r) = pair(i.wrapping_mul(7_919) % pairs);
        if i.is_multiple_of(2) { (s, r) } else { (r, s) }
    };
    let started = Instant::now();
    for i in 0..lookups {
        let (s, r) = probe(i);
        store.conversation(&s, &r).await?;
    }
    let serial = started.elapsed();
    let started = Instant::now();
    futures_util::stream::iter(0..lookups)
        .map(|i| {
            let store = store.clone();
            async move {
                let (s, r) = probe(i);
                store.conversation(&s, &r).await
            }
        })
        .buffer_unordered(16)
        .for_each(|result| async move {
            if let Err(error) = result {
                eprintln!("look-up failed: {error}");
            }
        })
        .await;
    let concurrent = started.elapsed();
    let started = Instant::now();
    for n in 0..records {
        store
            .record_conversations(vec![(format!("new{n}@a.example"), "x@b.example".into())], 2)
            .await?;
    }
    let recorded = started.elapsed();
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{name}: {pairs} conversations; look-up {:.1} µs one at a time, {:.1} µs each 16 at a \
         time ({:.0}/s); record {:.1} µs each, one commit per record",
        per(serial, lookups),
        per(concurrent, lookups),
        lookups as f64 / concurrent.as_secs_f64(),
        per(recorded, records),
    );
    store.close().await;
    Ok(())
}

/// Runs one statement on a connection of its own to `url`.
async fn exec(url: &str, sql: &str) -> Result<(), Error> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    Ok(())
}
