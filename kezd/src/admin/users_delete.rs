//! `kezd admin users delete <handle> --yes`: the operator deletes an account as its owner can
//! (SPEC §4.7), through the same store operation — the user, the inbox and the undelivered
//! outbound messages go, and the tombstone holds the handle for 8 days + 300 s and the primary
//! for good — then every instance forgets the user and ends their streams. The tombstone keeps
//! the operator's note where an owner's deletion keeps the signed object.

use serde_json::json;

use crate::changes::Change;
use crate::store::{AccountDeletion, DeleteOutcome};

use super::context::{Context, now_ms};
use super::request::{Failure, Outcome};
use super::users::existing;

/// Deletes the account `handle`.
pub async fn delete(
    context: &Context,
    handle: &str,
    reason: Option<String>,
) -> Result<Outcome, Failure> {
    let user = existing(context, handle).await?;
    let now = now_ms();
    let note = json!({"type": "operator_deletion", "at": now, "reason": reason}).to_string();
    let deletion =
        AccountDeletion::new(&user.handle, &user.primary, &context.server_name, now, note);
    let (tombstone, changed) = match context.store.delete_account(deletion).await? {
        DeleteOutcome::Deleted(tombstone) => (tombstone, true),
        // Deleted by its owner between the look-up and now.
        DeleteOutcome::Existing(tombstone) => (tombstone, false),
    };
    context
        .changed(Change::User {
            handle: user.handle.clone(),
        })
        .await?;
    let released = u64::try_from(tombstone.released_at_ms).unwrap_or(0);
    Ok(Outcome::Done {
        message: format!(
            "{} is deleted; the handle is held until {} (Unix ms {released}), the key for good",
            user.handle,
            super::output::utc(tombstone.released_at_ms)
        ),
        changed,
    })
}
