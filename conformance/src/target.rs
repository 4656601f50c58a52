//! The servers under test: existing deployments (`--server URL`) or a local testnet of kezd
//! processes (`--spawn N`), and the [`Env`] every case sees.
//!
//! Spawned nodes are configured for the suite: rate limits raised (every case registers its
//! own accounts), keep-alives every second (so §8.5's keep-alive is checked in a second, not
//! 15), and federation retries after one second with a two-second request timeout (so the
//! rogue-receiver cases see backoff, timeouts and `Retry-After` within a few seconds). Two
//! settings exist to be provoked: 40 messages per recipient per minute, from its contacts and
//! from strangers each (the rate-limit cases; no other case sends that many to one recipient) and a deny list of `blocked<n>.test` origins
//! (the origin-policy case starts rogues with those names).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use kez_testnet::{NodeOptions, Testnet};

use kez_testnet::backend::{Backend, CreatedDatabase};

use crate::own::OwnNodes;
use crate::server::Server;

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

/// One server under test as the runner sees it.
#[derive(Debug, Clone)]
pub struct Target {
    /// How it was named (URL or node name).
    pub label: String,
    /// The connected server, or why it cannot be tested.
    pub server: Result<Arc<Server>, String>,
}

/// What every case sees.
#[derive(Debug)]
pub struct Env {
    /// The servers under test.
    pub targets: Vec<Target>,
    /// The testnet, under `--spawn`; rogue cases need it.
    pub testnet: Option<Arc<Testnet>>,
    /// The keep-alive interval to expect: the configured one under `--spawn`, the SPEC's 15 s
    /// bound with `--slow`, otherwise `None` (the keep-alive case skips).
    pub keepalive: Option<Duration>,
    /// Numbers rogue peers uniquely.
    pub rogue_counter: AtomicUsize,
    /// Numbers the blocked rogue names used so far.
    pub blocked_counter: AtomicUsize,
    /// Under `--spawn`, what own-node cases start their nodes from.
    pub own: Option<OwnNodes>,
    /// How many of the targets single-server and rogue cases run against: all, except in the
    /// faults run, where every node has the same fault and one is enough.
    pub single_targets: usize,
}

impl Env {
    /// An environment over `targets`.
    pub fn new(
        targets: Vec<Target>,
        testnet: Option<Arc<Testnet>>,
        keepalive: Option<Duration>,
    ) -> Env {
        Env {
            targets,
            testnet,
            keepalive,
            rogue_counter: AtomicUsize::new(0),
            blocked_counter: AtomicUsize::new(0),
            own: None,
            single_targets: usize::MAX,
        }
    }

    /// The same environment with own-node cases enabled (`--spawn`).
    pub fn with_own_nodes(mut self, own: OwnNodes) -> Env {
        self.own = Some(own);
        self
    }

    /// The same environment with single-server and rogue cases run against the first `n`
    /// targets only.
    pub fn with_single_targets(mut self, n: usize) -> Env {
        self.single_targets = n;
        self
    }
}

/// An HTTP client for external servers: the system's roots, plus `extra_ca` (PEM) if given.
pub fn external_client(extra_ca: Option<&Path>) -> Result<reqwest::Client, String> {
    kez_testnet::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kez-conformance/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", path.display()))?;
        builder = builder.tls_certs_merge([cert]);
    }
    builder
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

/// Connects to each URL (in parallel); unreachable servers become targets whose cases fail.
pub async fn connect_all(urls: &[String], http: reqwest::Client, timeout: Duration) -> Vec<Target> {
    let connects = urls.iter().map(|url| {
        let http = http.clone();
        async move {
            Target {
                label: url.clone(),
                server: Server::connect(url, http, timeout)
                    .await
                    .map(Arc::new)
                    .map_err(|e| format!("cannot test {url}: {e}")),
            }
        }
    });
    futures_util::future::join_all(connects).await
}

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
        let options = NodeOptions::new().extra_config(format!("{extra}\n{SPAWN_CONFIG}\n{config}"));
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
