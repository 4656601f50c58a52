//! `kezd admin` with no daemon answering on the admin socket: the request runs on the store
//! opened directly, with the same actions the daemon runs. Nothing in this process caches
//! anything, but a cluster's other instances (sharing a PostgreSQL store) may: a change is
//! announced to them over NATS when the configuration names a broker.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::federate::policy::Lists;

use super::audit;
use super::context::{Context, Effects};
use super::executor;
use super::request::{Failure, FailureKind, Outcome, Request};

/// Runs `request` on the store `config` names, as the local user running the command.
pub async fn execute(
    config: &Config,
    config_file: Option<PathBuf>,
    request: Request,
) -> Result<Outcome, Failure> {
    let store = crate::open_store::open(config)
        .await
        .map_err(|error| Failure::new(FailureKind::Failed, crate::admin::chain(&error)))?;
    let context = Context {
        store: Arc::clone(&store),
        effects: Effects::Direct(config.broker.clone()),
        configured: Arc::new(Lists::configured(&config.federation)),
        config_file,
        server_name: config.server_name.clone(),
    };
    let result = executor::execute(&context, request, &audit::actor(audit::own_uid())).await;
    store.close().await;
    result
}
