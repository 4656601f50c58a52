//! `kezd admin users …`: list and show this server's users, suspend and unsuspend them.
//! A suspended user's own requests — send, poll, stream, acknowledge, delivery status — are
//! refused with 403 `account_suspended` (SPEC §10) by every instance, and their open streams
//! end; messages to them are still accepted and kept, so lifting the suspension loses nothing.

use kez_spec::Handle;

use crate::changes::Change;
use crate::store::{AdminWrite, UserEntry};

use super::context::{Context, now_ms};
use super::request::{Failure, FailureKind, Outcome};

/// The most users one page may ask for.
pub const MAX_PAGE: u32 = 1000;

/// A page of users after `after`.
pub async fn list(
    context: &Context,
    after: Option<String>,
    limit: u32,
) -> Result<Outcome, Failure> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(Failure::new(
            FailureKind::Invalid,
            format!("a page holds 1 to {MAX_PAGE} users, not {limit}"),
        ));
    }
    let users = context
        .store
        .users_page(after.as_deref().unwrap_or(""), limit)
        .await?;
    let full = users.len() == usize::try_from(limit).unwrap_or(usize::MAX);
    let next = users
        .last()
        .filter(|_| full)
        .map(|user| user.handle.clone());
    Ok(Outcome::Users { users, next })
}

/// One user.
pub async fn show(context: &Context, handle: &str) -> Result<Outcome, Failure> {
    let user = existing(context, handle).await?;
    let latest_seq = context.store.latest_seq(&user.handle).await?;
    Ok(Outcome::User { user, latest_seq })
}

/// Suspends a user; their own requests are refused from the answer on, on every instance.
pub async fn suspend(
    context: &Context,
    handle: &str,
    reason: Option<String>,
) -> Result<Outcome, Failure> {
    let handle = existing(context, handle).await?.handle;
    let write = AdminWrite::Suspend {
        handle: handle.clone(),
        at_ms: now_ms(),
        reason,
    };
    let (done, unchanged) = (
        format!("{handle} is suspended"),
        format!("{handle} was already suspended"),
    );
    context
        .apply(write, Change::User { handle }, done, unchanged)
        .await
}

/// Lifts a user's suspension.
pub async fn unsuspend(context: &Context, handle: &str) -> Result<Outcome, Failure> {
    let handle = existing(context, handle).await?.handle;
    let write = AdminWrite::Unsuspend {
        handle: handle.clone(),
    };
    let (done, unchanged) = (
        format!("{handle} is no longer suspended"),
        format!("{handle} was not suspended"),
    );
    context
        .apply(write, Change::User { handle }, done, unchanged)
        .await
}

/// The user registered as `handle`: an invalid handle is a usage error, an unknown one is
/// not found.
pub async fn existing(context: &Context, handle: &str) -> Result<UserEntry, Failure> {
    let handle = Handle::parse(handle).map_err(|error| {
        Failure::new(
            FailureKind::Invalid,
            format!("{handle:?} is not a handle: {error}"),
        )
    })?;
    context
        .store
        .user_entry(handle.as_str())
        .await?
        .ok_or_else(|| {
            Failure::new(
                FailureKind::NotFound,
                format!("no user is registered as {handle}"),
            )
        })
}
