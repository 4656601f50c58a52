//! Runs one admin request (request.rs) with its [`Context`]: the action of its group's
//! module, then the audit log (audit.rs), whatever the outcome.

use super::audit;
use super::context::Context;
use super::request::{Failure, Outcome, Request};
use super::{backup, outbox, servers, tokens, users, users_delete};

/// Runs `request` for `actor` (`uid:<n>` or `local`), writes the audit log, and answers.
pub async fn execute(context: &Context, request: Request, actor: &str) -> Result<Outcome, Failure> {
    let action = request.action();
    let target = request.target();
    let result = run(context, request).await;
    audit::record(context.store.as_ref(), actor, &action, target, &result).await;
    result
}

async fn run(context: &Context, request: Request) -> Result<Outcome, Failure> {
    match request {
        Request::UsersList { after, limit } => users::list(context, after, limit).await,
        Request::UsersShow { handle } => users::show(context, &handle).await,
        Request::UsersSuspend { handle, reason } => users::suspend(context, &handle, reason).await,
        Request::UsersUnsuspend { handle } => users::unsuspend(context, &handle).await,
        Request::UsersDelete { handle, reason } => {
            users_delete::delete(context, &handle, reason).await
        }
        Request::ServersList => servers::list(context).await,
        Request::ServersBlock { server, reason } => servers::block(context, &server, reason).await,
        Request::ServersAllow { server } => servers::allow(context, &server).await,
        Request::TokensCreate {
            uses,
            expires_in_secs,
        } => tokens::create(context, uses, expires_in_secs).await,
        Request::TokensList => tokens::list(context).await,
        Request::TokensRevoke { id } => tokens::revoke(context, &id).await,
        Request::OutboxShow => outbox::show(context).await,
        Request::OutboxRetry { server } => outbox::retry(context, &server).await,
        Request::Backup { file } => backup::write(context, &file).await,
    }
}
