//! What an admin action works with, the same whether the running daemon received it on its
//! socket or `kezd admin` works on the store directly because no daemon runs: the only
//! differences — which caches to drop and whom to tell — are behind [`Effects`].

use std::path::PathBuf;
use std::sync::Arc;

use kez_spec::ServerName;

use crate::broker::{Broker, NatsBroker};
use crate::changes::{self, Change};
use crate::clock;
use crate::config::BrokerSettings;
use crate::federate::policy::Lists;
use crate::state::AppState;
use crate::store::{AdminWrite, Store};

use super::request::{Failure, FailureKind, Outcome};

/// What an executed change affects beyond the store.
pub enum Effects {
    /// The running daemon: its caches and its federation, then the cluster.
    Daemon(AppState),
    /// No daemon here: only other instances of a cluster, through the configured broker
    /// (connected only when there is a change to announce).
    Direct(BrokerSettings),
}

/// What one request works with.
pub struct Context {
    /// Where everything is read and written.
    pub store: Arc<dyn Store>,
    /// What else a change reaches.
    pub effects: Effects,
    /// The configuration file's federation lists in force (the daemon's after its reloads).
    pub configured: Arc<Lists>,
    /// The configuration file, to name it when it decides something (a block).
    pub config_file: Option<PathBuf>,
    /// This server's name: a deleted user's outbound messages are found by their address.
    pub server_name: ServerName,
}

impl Context {
    /// Puts a change in force: in the daemon's memory before the answer, and announced to the
    /// other instances of a cluster. The store already holds it, so a failure to re-read it
    /// here is reported but does not undo it.
    pub async fn changed(&self, change: Change) -> Result<(), Failure> {
        match &self.effects {
            Effects::Daemon(state) => changes::publish(state, &change).await?,
            Effects::Direct(BrokerSettings::Local) => {}
            Effects::Direct(BrokerSettings::Nats { url, prefix }) => {
                match NatsBroker::connect(url, prefix).await {
                    Ok(broker) => broker.announce(change.encode()).await,
                    Err(error) => {
                        return Err(Failure::new(
                            FailureKind::Failed,
                            format!(
                                "done in the store, but the cluster was not told (NATS: {}); \
                                 running instances learn it when they next reconnect to NATS \
                                 or restart",
                                super::chain(&error)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs `write` and puts `change` in force; done, saying `done` when it changed something
    /// and `unchanged` when the state already was as asked.
    pub async fn apply(
        &self,
        write: AdminWrite,
        change: Change,
        done: String,
        unchanged: String,
    ) -> Result<Outcome, Failure> {
        let changed = self.store.admin_write(write).await? > 0;
        self.changed(change).await?;
        let message = if changed { done } else { unchanged };
        Ok(Outcome::Done { message, changed })
    }

    /// The running daemon's state, when there is one.
    pub fn daemon(&self) -> Option<&AppState> {
        match &self.effects {
            Effects::Daemon(state) => Some(state),
            Effects::Direct(_) => None,
        }
    }
}

/// Now, Unix milliseconds, as the store keeps times.
pub fn now_ms() -> i64 {
    i64::try_from(clock::now_ms()).unwrap_or(i64::MAX)
}
