//! Operator administration without a web UI: `kezd admin <group> <action>`.
//!
//! The running daemon caches what admin commands change (users, the federation policy), so
//! while it runs they go through it, over a local Unix socket only kezd's user can open
//! (`<data_dir>/admin.sock`, mode 0600); it puts each change in force at once and tells the
//! other instances of a cluster (kezd/src/changes.rs). With the daemon stopped, `kezd admin`
//! works on the store directly. Either way every action is written to the audit log.
//!
//! | module | what |
//! | --- | --- |
//! | [`command`] | the `kezd admin` arguments, and running one: through the socket or directly |
//! | [`request`] | requests, outcomes and failures (one JSON line each on the socket) |
//! | [`server`] | the daemon's admin socket |
//! | [`client`] | asking the daemon over it |
//! | [`direct`] | running a request on the store when no daemon answers |
//! | [`context`] | what a request works with: the store, and the caches and cluster it reaches |
//! | [`executor`] | running a request, wherever it came from, and auditing it |
//! | [`audit`] | who did what, when, and how it ended |
//! | [`output`] | human output and `--json` |
//! | [`users`], [`users_delete`], [`servers`], [`tokens`], [`outbox`], [`backup`] | the actions of each group |
//!
//! Adding an action: a variant in [`request::Request`] (and its `action`/`target`), a
//! subcommand in [`command`] that builds it, a function in its group's file that the
//! [`executor`] calls, and, if it answers with something new, an [`request::Outcome`]
//! variant that [`output`] prints. A change other instances cache is announced with
//! [`context::Context::changed`].

pub mod audit;
pub mod backup;
pub mod client;
pub mod command;
pub mod context;
pub mod direct;
pub mod executor;
pub mod outbox;
pub mod output;
pub mod request;
pub mod server;
pub mod servers;
pub mod tokens;
pub mod users;
pub mod users_delete;

/// An error and its causes on one line, each cause once.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
