//! A local testnet of kezd processes for `--spawn N`, configured for the suite.
//!
//! Spawned nodes are configured for the suite: rate limits raised (every case registers its
//! own accounts), keep-alives every second (so §8.5's keep-alive is checked in a second, not
//! 15), and federation retries after one second with a two-second request timeout (so the
//! rogue-receiver cases see backoff, timeouts and `Retry-After` within a few seconds). Two
//! settings exist to be provoked: 40 messages per recipient per minute, from its contacts and
//! from strangers each (the rate-limit cases; no other case sends that many to one recipient),
//! and a deny list of `blocked<n>.test` origins (the origin-policy case starts rogues with those
//! names). Registration is open (SPEC §4.1 check 10), as every case registers freely; the
//! cases of the other policies start nodes of their own.

use std::path::Path;
use std::time::Duration;

use kez_testnet::backend::{Backend, CreatedDatabase};
use kez_testnet::{NodeOptions, Testnet};

use crate::target::{Target, connect_all};

/// The keep-alive interval configured on spawned nodes.
pub const SPAWN_KEEPALIVE: Duration = Duration::from_secs(1);

/// The configuration added to every spawned node (see the module doc).
pub const SPAWN_CONFIG: &str = r#"
[rate]
client_per_minute = 1000000
register_per_hour = 1000000
sender_per_minute = 1000000
recipient_per_minute = 40
recipient_strangers_per_minute = 40
first_contacts_per_hour = 1000000
origin_per_minute = 1000000
remote_lookups_per_minute = 1000000
remote_lookups_per_server_per_minute = 1000000
[stream]
keep_alive_secs = 1
[registration]
policy = "open"
[federation]
backoff_initial_secs = 1
backoff_max_secs = 2
request_timeout_secs = 2
block = [
    "blocked0.test", "blocked1.test", "blocked2.test", "blocked3.test",
    "blocked4.test", "blocked5.test", "blocked6.test", "blocked7.test",
]
"#;

/// How many blocked rogue names [`SPAWN_CONFIG`] lists (`blocked<n>.test`).
pub const BLOCKED_ROGUES: usize = 8;

/// Starts `n` kezd nodes (`a.test`, `b.test`, …) from `kezd` with `extra` (TOML) and
/// [`SPAWN_CONFIG`], node `i` on `backends[i % len]` (SQLite when none are given). Returns the
/// databases it created, to drop after the run.
pub async fn spawn(
    kezd: &Path,
    n: usize,
    backends: &[Backend],
    extra: &str,
) -> Result<(Testnet, Vec<CreatedDatabase>), String> {
    let mut builder = Testnet::builder(kezd);
    let mut created = Vec::new();
    for i in 0..n {
        let name = node_name(i);
        let backend = backends
            .get(i % backends.len().max(1))
            .unwrap_or(&Backend::Sqlite);
        let tag = format!("{}_{i}", std::process::id());
        let (config, database) = backend.prepare(&tag).await?;
        created.extend(database);
        // Three documents, merged in order: the store's top-level keys never fall into a table
        // of the suite's configuration.
        let options = NodeOptions::new()
            .extra_config(extra)
            .extra_config(SPAWN_CONFIG)
            .extra_config(&config);
        builder = builder.node_with(name, options);
    }
    match builder.start().await {
        Ok(net) => Ok((net, created)),
        Err(e) => {
            drop_databases(created).await;
            Err(e.to_string())
        }
    }
}

/// Drops the databases created for spawned nodes, reporting (not failing on) errors.
pub async fn drop_databases(created: Vec<CreatedDatabase>) {
    for database in created {
        if let Err(e) = database.drop_now().await {
            eprintln!("kez-conformance: {e}");
        }
    }
}

/// The name of the `i`th spawned node: `a.test` … `z.test`, then `n26.test` ….
pub fn node_name(i: usize) -> String {
    match u8::try_from(i).ok().filter(|i| *i < 26) {
        Some(i) => format!("{}.test", char::from(b'a' + i)),
        None => format!("n{i}.test"),
    }
}

/// The targets of a spawned testnet.
pub async fn testnet_targets(net: &Testnet, timeout: Duration) -> Result<Vec<Target>, String> {
    let http = net
        .client_builder()
        .map_err(|e| e.to_string())?
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let urls: Vec<String> = net.nodes().map(kez_testnet::Node::base_url).collect();
    Ok(connect_all(&urls, http, timeout)
        .await
        .into_iter()
        .zip(net.nodes())
        .map(|(target, node)| Target {
            label: node.name().to_owned(),
            ..target
        })
        .collect())
}
