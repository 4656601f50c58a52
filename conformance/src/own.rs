//! Nodes of a case's own (`--spawn` only): some requirements are about state over time — a
//! sequence number after a restart, a message on either side of `max_age` — and need a node the
//! case may restart, or configure with settings no other case must see (a retention of seconds,
//! a small page). Such a case starts a one-node testnet from the same kezd binary, with the
//! spawned nodes' configuration ([`SPAWN_CONFIG`]) plus its own, on the store of the targets it
//! stands for, and restarts it in place: same data directory, same address, same configuration.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kez_testnet::backend::{Backend, CreatedDatabase};
use kez_testnet::{NodeOptions, Testnet};

use crate::fail::Fail;
use crate::server::Server;
use crate::spawn::{self, SPAWN_CONFIG};

/// What every own node of a run is started from.
#[derive(Debug)]
pub struct OwnNodes {
    /// The kezd binary the spawned targets run.
    kezd: PathBuf,
    /// The stores of the spawned targets; one run of an own-node case per distinct store.
    backends: Vec<Backend>,
    /// The bound on one request.
    timeout: Duration,
    /// Numbers own nodes (and their databases) uniquely.
    counter: AtomicUsize,
    /// The PostgreSQL databases created for own nodes, dropped at the end of the run.
    databases: Mutex<Vec<CreatedDatabase>>,
}

impl OwnNodes {
    /// Own nodes from `kezd` on `backends` (SQLite when empty).
    pub fn new(kezd: PathBuf, backends: &[Backend], timeout: Duration) -> OwnNodes {
        let mut distinct: Vec<Backend> = Vec::new();
        for backend in backends {
            if !distinct.contains(backend) {
                distinct.push(backend.clone());
            }
        }
        if distinct.is_empty() {
            distinct.push(Backend::Sqlite);
        }
        OwnNodes {
            kezd,
            backends: distinct,
            timeout,
            counter: AtomicUsize::new(0),
            databases: Mutex::new(Vec::new()),
        }
    }

    /// The distinct stores, each with the label its runs carry (`own node (sqlite)`).
    pub fn backends(&self) -> impl Iterator<Item = (String, &Backend)> {
        self.backends.iter().map(|backend| {
            let store = match backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres { .. } => "postgres",
            };
            (format!("own node ({store})"), backend)
        })
    }

    /// Starts a node of its own on `backend`, configured with [`SPAWN_CONFIG`] and `config`
    /// (TOML whose tables are not among [`SPAWN_CONFIG`]'s: `[retention]`, `[inbox]`, …).
    pub async fn start(&self, backend: &Backend, config: &str) -> Result<OwnNode, Fail> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("own{n}.test");
        let tag = format!("{}_own{n}", std::process::id());
        let (store, database) = backend
            .prepare(&tag)
            .await
            .map_err(|e| Fail::Fail(format!("preparing the store of {name}: {e}")))?;
        if let Some(database) = database {
            self.databases
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(database);
        }
        let options = NodeOptions::new()
            .extra_config(SPAWN_CONFIG)
            .extra_config(&store)
            .extra_config(config);
        let net = Testnet::builder(&self.kezd)
            .node_with(&name, options)
            .start()
            .await
            .map_err(|e| Fail::Fail(format!("starting the node {name}: {e}")))?;
        let server = connect(&net, self.timeout).await?;
        Ok(OwnNode {
            net,
            name,
            server,
            timeout: self.timeout,
            kezd: self.kezd.clone(),
        })
    }

    /// The databases created for own nodes, to drop after the run.
    pub fn take_databases(&self) -> Vec<CreatedDatabase> {
        std::mem::take(
            &mut *self
                .databases
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// A one-node testnet of a case's own; dropping it kills the node.
#[derive(Debug)]
pub struct OwnNode {
    /// The testnet holding the node, its DNS and its CA.
    net: Testnet,
    /// The node's server name.
    name: String,
    /// The node, connected.
    server: Arc<Server>,
    /// The bound on one request.
    timeout: Duration,
    /// The kezd binary it runs, for its operator's commands.
    kezd: PathBuf,
}

impl OwnNode {
    /// The node as a server under test.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// What `kezd admin <args> --json` answers on the node, as its operator would run it
    /// (own nodes are kezd; the suite judges what the node then does over HTTP): the outcome,
    /// or the failure with what the command printed.
    pub async fn admin(&self, args: &[&str]) -> Result<serde_json::Value, Fail> {
        let node = self
            .net
            .node(&self.name)
            .map_err(|e| Fail::Fail(format!("{}: {e}", self.name)))?;
        let run = tokio::process::Command::new(&self.kezd)
            .env_clear()
            .arg("--config")
            .arg(node.config_path())
            .arg("admin")
            .args(args)
            .arg("--json")
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| Fail::Fail(format!("kezd admin {args:?} did not finish in time")))?
            .map_err(|e| Fail::Fail(format!("running kezd admin {args:?}: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        match serde_json::from_str(stdout.trim()) {
            Ok(outcome) if output.status.success() => Ok(outcome),
            _ => Err(Fail::Fail(format!(
                "kezd admin {args:?} failed ({}): {stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ))),
        }
    }

    /// Stops the node gracefully and starts it again in place (same data directory, address
    /// and configuration); returns the node connected anew, since connections to the old
    /// process are gone.
    pub async fn restart(&mut self) -> Result<Arc<Server>, Fail> {
        self.net
            .restart(&self.name)
            .await
            .map_err(|e| Fail::Fail(format!("restarting {}: {e}", self.name)))?;
        self.server = connect(&self.net, self.timeout).await?;
        Ok(self.server.clone())
    }
}

/// The testnet's one node, connected.
async fn connect(net: &Testnet, timeout: Duration) -> Result<Arc<Server>, Fail> {
    spawn::testnet_targets(net, timeout)
        .await
        .map_err(Fail::Fail)?
        .into_iter()
        .next()
        .ok_or_else(|| Fail::Fail("the node's testnet has no node".into()))?
        .server
        .map_err(Fail::Fail)
}
