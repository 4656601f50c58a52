//! # `POST /v1/account/delete` (SPEC §4.7)
//!
//! A primary deletes its account here with a signed deletion. The checks up to the timestamp
//! live in `kez_spec::deletion`; the store decides whether the primary is the handle's
//! (check 9), deletes the user, the inbox and the pending outbound messages, and leaves the
//! tombstone that keeps the handle and the primary from being registered again. A retry of a
//! deletion already done gets the same answer, so a client that lost the first may ask again.

use http::StatusCode;
use kez_spec::api::account_delete::DeletionAnswer;
use kez_spec::deletion::Deletion;

use crate::body;
use crate::changes::{self, Change};
use crate::clock;
use crate::handlers::{HandlerResult, RequestContext};
use crate::store::{AccountDeletion, DeleteOutcome};

/// Deletes an account (SPEC §4.7): [`Store::delete_account`]. Deletions count against the
/// per-address registration limit (SPEC §11): both are rare account changes.
///
/// [`Store::delete_account`]: crate::store::Store::delete_account
pub async fn delete(mut ctx: RequestContext) -> HandlerResult {
    ctx.state().limiters().check_register(ctx.client_addr())?;
    let bytes = ctx.body_bytes().await?;
    let state = ctx.state().clone();
    let config = state.config();
    let now = clock::now_ms();
    let skew = u64::try_from(config.skew.registration.as_millis()).unwrap_or(u64::MAX);
    let skew = if crate::faults::on("accept_stale_deletion") {
        u64::MAX
    } else {
        skew
    };
    let verified = Deletion::verify(&bytes, &config.server_name, now, skew)?;
    let deletion = AccountDeletion::new(
        verified.deletion.handle.as_str(),
        &verified.deletion.primary.to_string(),
        &config.server_name,
        i64::try_from(now).unwrap_or(i64::MAX),
        verified.canonical,
    );
    let address = deletion.address.clone();
    let tombstone = match state.store().delete_account(deletion).await? {
        DeleteOutcome::Deleted(tombstone) => {
            tracing::info!(%address, "account deleted");
            tombstone
        }
        DeleteOutcome::Existing(tombstone) => tombstone,
    };
    // Also on a retry: every instance forgets the user (and ends its streams), here at once,
    // the others through the change notice (kezd/src/changes.rs).
    let change = Change::User {
        handle: tombstone.handle.clone(),
    };
    if let Err(error) = changes::publish(&state, &change).await {
        // The user is forgotten here already, and the suspended set is re-read at the next
        // notice; the other instances must still hear of it.
        tracing::warn!(%error, %address, "re-reading suspensions after a deletion failed");
        state.broker().announce(change.encode()).await;
    }
    let millis = |ms: i64| u64::try_from(ms).unwrap_or(0);
    body::json(
        StatusCode::OK,
        &DeletionAnswer {
            address,
            deleted_at: millis(tombstone.deleted_at_ms),
            released_at: millis(tombstone.released_at_ms),
        },
    )
}
