//! `kezd admin servers …`: the federation policy's blocks (SPEC §9.9) from its two sources.
//! The configuration file's `[federation] block` and `allow` hold what the operator wrote
//! there, re-read on SIGHUP; admin blocks live in the store, survive reloads and restarts, and
//! reach every instance of a cluster. The blocks in force are the union of both, so the two
//! lists never disagree: each entry has one source, and `servers allow` lifts only what an
//! admin command set, refusing (and naming the file) what the configuration decides.

use kez_spec::ServerName;

use crate::changes::Change;
use crate::store::AdminWrite;

use super::context::{Context, now_ms};
use super::request::{Failure, FailureKind, Outcome, Rule, ServerEntry, Source};

/// Every policy entry: the configuration's blocks and allows, then the admin blocks.
pub async fn list(context: &Context) -> Result<Outcome, Failure> {
    let configured = &context.configured;
    let from_config = |rule, names: &[ServerName]| {
        names
            .iter()
            .map(|name| ServerEntry {
                server: name.to_string(),
                rule,
                source: Source::Config,
                since_ms: None,
                reason: None,
            })
            .collect::<Vec<_>>()
    };
    let mut servers = from_config(Rule::Block, &configured.block);
    servers.extend(from_config(Rule::Allow, &configured.allow));
    servers.extend(
        context
            .store
            .server_blocks()
            .await?
            .into_iter()
            .map(|block| ServerEntry {
                server: block.server,
                rule: Rule::Block,
                source: Source::Admin,
                since_ms: Some(block.at_ms),
                reason: block.reason,
            }),
    );
    Ok(Outcome::Servers { servers })
}

/// Blocks `server`: its requests are refused and nothing is delivered to it, on every
/// instance, until `servers allow`.
pub async fn block(
    context: &Context,
    server: &str,
    reason: Option<String>,
) -> Result<Outcome, Failure> {
    let name = server_name(server)?;
    let write = AdminWrite::Block {
        server: name.to_string(),
        at_ms: now_ms(),
        reason,
    };
    let (done, unchanged) = (
        format!("{name} is blocked"),
        format!("{name} was already blocked"),
    );
    context.apply(write, Change::Policy, done, unchanged).await
}

/// Lifts the admin block of `server`; refused when the configuration file would still refuse
/// it, since only an edit of the file (and a reload) can change that.
pub async fn allow(context: &Context, server: &str) -> Result<Outcome, Failure> {
    let name = server_name(server)?;
    let configured = &context.configured;
    let file = context.config_file.as_ref().map_or_else(
        || "the configuration".to_owned(),
        |path| format!("the configuration file {}", path.display()),
    );
    if configured.block.contains(&name) {
        return Err(Failure::new(
            FailureKind::Refused,
            format!(
                "{name} is blocked by {file} ([federation] block); remove it there and reload \
                 kezd (SIGHUP)"
            ),
        ));
    }
    if !configured.allow.is_empty() && !configured.allow.contains(&name) {
        return Err(Failure::new(
            FailureKind::Refused,
            format!(
                "{name} is not on the allow list of {file} ([federation] allow), so it stays \
                 refused; add it there and reload kezd (SIGHUP)"
            ),
        ));
    }
    let write = AdminWrite::Unblock {
        server: name.to_string(),
    };
    let (done, unchanged) = (
        format!("{name} is no longer blocked"),
        format!("{name} was not blocked"),
    );
    context.apply(write, Change::Policy, done, unchanged).await
}

fn server_name(server: &str) -> Result<ServerName, Failure> {
    server.parse().map_err(|error| {
        Failure::new(
            FailureKind::Invalid,
            format!("{server:?} is not a server name: {error}"),
        )
    })
}
