//! The kezd under attack: one real kezd process started through `kez-testnet` (plain HTTP on
//! 127.0.0.1, server name `a.test`), with the suite's base settings and the scenario's own on
//! top. The testnet writes the config, starts and reaps the process; this module adds what an
//! attack needs: the socket address, the `Host` to send, clients bound to other loopback source
//! addresses, and whether the process is still alive.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use kez_conformance::server::Server;
use kez_conformance::{Fail, fail};
use kez_testnet::{NodeOptions, Testnet};

use crate::wire::OBSERVER;

/// The server name of the kezd under attack.
pub const NAME: &str = "a.test";

/// Bound on one honest request (connect, send, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings every scenario starts from: the spam limits of SPEC §11 out of the way (a scenario
/// that attacks a limit sets it again), commits without fsync (the suite fills inboxes, it does
/// not test durability), warnings only in the log. Values are TOML.
const BASE: &[(&str, &str)] = &[
    ("durability", "\"crash_only\""),
    ("log.level", "\"warn\""),
    ("rate.client_per_minute", "1000000000"),
    ("rate.register_per_hour", "1000000000"),
    ("rate.sender_per_minute", "1000000000"),
    ("rate.recipient_per_minute", "1000000000"),
    ("rate.first_contacts_per_hour", "1000000000"),
    ("rate.origin_per_minute", "1000000000"),
];

/// A running kezd; dropping it kills the process.
#[derive(Debug)]
pub struct Daemon {
    /// The one-node testnet that owns the process, its config and its data.
    net: Testnet,
    /// The honest client's view of the server (from 127.0.0.1).
    server: Arc<Server>,
    /// The observer's view (from [`OBSERVER`]): metrics and liveness, never capped with the
    /// attacker's address.
    observer: Arc<Server>,
    /// Where kezd listens.
    addr: SocketAddr,
    /// The process id, for `/proc`.
    pid: u32,
}

impl Daemon {
    /// Starts `kezd` with the base settings and then `settings` (`("http.idle_timeout_ms",
    /// "1500")`: a dotted key and a TOML value; later values win) and waits until it serves.
    pub async fn start(kezd: &Path, settings: &[(&str, &str)]) -> Result<Daemon, Fail> {
        let options = NodeOptions::new().extra_config(config_text(settings));
        let net = Testnet::builder(kezd)
            .tls(false)
            .node_with(NAME, options)
            .start()
            .await
            .map_err(|e| Fail::Fail(format!("starting kezd: {e}")))?;
        let node = net
            .node(NAME)
            .map_err(|e| Fail::Fail(format!("the started node: {e}")))?;
        let (addr, base) = (node.addr(), node.base_url());
        let Some(pid) = node.pid() else {
            fail!("kezd has no process id right after starting");
        };
        let server = Server::connect(&base, net.client(), REQUEST_TIMEOUT)
            .await
            .map_err(Fail::Fail)?;
        let observer = connect_from(&net, &base, OBSERVER).await?;
        Ok(Daemon {
            net,
            server: Arc::new(server),
            observer,
            addr,
            pid,
        })
    }

    /// The socket kezd listens on (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `Host` header value: `a.test:<port>`.
    pub fn host(&self) -> String {
        format!("{NAME}:{}", self.addr.port())
    }

    /// kezd's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The honest client's view of the server.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// The same view through a client whose connections come from `source` (127.0.0.2, …), so
    /// kezd counts it as another client address.
    pub async fn server_from(&self, source: IpAddr) -> Result<Arc<Server>, Fail> {
        connect_from(&self.net, &self.server.base, source).await
    }

    /// The observer's view (from [`OBSERVER`]): for `/metrics` and liveness, so that caps
    /// on the attacker's address never hide what kezd reports.
    pub fn observer(&self) -> &Arc<Server> {
        &self.observer
    }

    /// Fails unless the process is still running (not exited, not a zombie) and answers
    /// `GET /v1/healthz`: what every scenario checks last.
    pub async fn check_alive(&self) -> Result<(), Fail> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if matches!(state, None | Some("Z" | "X")) {
            fail!("kezd (pid {}) is gone:\n{}", self.pid, self.log_tail());
        }
        let health = self.observer.get("/v1/healthz").await?;
        if health.status != 200 {
            fail!(
                "GET /v1/healthz answered {} after the attack",
                health.status
            );
        }
        Ok(())
    }

    /// SIGTERM, then waits for kezd to drain and exit (SIGKILL after kez-testnet's stop
    /// timeout); returns the exit status.
    pub async fn stop(&mut self) -> Result<ExitStatus, Fail> {
        self.net
            .stop(NAME)
            .await
            .map_err(|e| Fail::Fail(format!("stopping kezd: {e}")))
    }

    /// The last lines of kezd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.net
            .node(NAME)
            .map(|node| node.log_tail(kez_testnet::node::LOG_TAIL_LINES))
            .unwrap_or_default()
    }
}

/// A view of the server at `base` through a client whose connections come from `source`.
async fn connect_from(net: &Testnet, base: &str, source: IpAddr) -> Result<Arc<Server>, Fail> {
    let client = net
        .client_builder()
        .map_err(|e| Fail::Fail(format!("client builder: {e}")))?
        .local_address(source)
        .build()
        .map_err(|e| Fail::Fail(format!("client from {source}: {e}")))?;
    Server::connect(base, client, REQUEST_TIMEOUT)
        .await
        .map(Arc::new)
        .map_err(|e| Fail::Fail(format!("connecting from {source}: {e}")))
}

/// The TOML text of the base settings overridden by `settings`, one table per dotted prefix.
fn config_text(settings: &[(&str, &str)]) -> String {
    let mut tables: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for (key, value) in BASE.iter().chain(settings) {
        let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
        tables.entry(table).or_default().insert(name, value);
    }
    let mut text = String::new();
    // Top-level keys first: after a table header they would belong to that table.
    for (table, keys) in &tables {
        if !table.is_empty() {
            text.push_str(&format!("[{table}]\n"));
        }
        for (name, value) in keys {
            text.push_str(&format!("{name} = {value}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_settings_win_and_top_level_keys_come_first() {
        let text = config_text(&[
            ("rate.sender_per_minute", "5"),
            ("http.idle_timeout_ms", "9"),
        ]);
        assert!(text.starts_with("durability = \"crash_only\"\n"), "{text}");
        assert!(text.contains("[rate]\n"), "{text}");
        assert!(text.contains("sender_per_minute = 5\n"), "{text}");
        assert!(!text.contains("sender_per_minute = 1000000000"), "{text}");
        assert!(text.contains("[http]\nidle_timeout_ms = 9\n"), "{text}");
    }
}
