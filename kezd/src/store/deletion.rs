//! Account deletion in the store (SPEC §4.7), the part both backends share: what is written,
//! the statements (the same text on SQLite and PostgreSQL, see `statements.rs`) and the one
//! decision of whether a deletion is new, a retry, or refused.
//!
//! A deletion removes the user, the inbox and its counter, fails the user's pending outbound
//! messages with [`SENDER_DELETED`] (their rows, and so their ids, stay as long as any
//! finished outbox row, SPEC §8.7) and writes a tombstone, all in one transaction. The
//! tombstone holds the handle until its release time and the primary for good: a replayed
//! registration or deletion of that primary (both valid for 300 s) can then never create or
//! delete another account.

use super::StoreError;
use super::rows::UserRow;

/// The outbox code of a message whose sender deleted the account before it was delivered
/// (SPEC §4.7, §9.7).
pub const SENDER_DELETED: &str = "sender_deleted";

/// A verified deletion, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDeletion {
    /// The local handle whose account goes.
    pub handle: String,
    /// The primary that signed the deletion: it must be the handle's registered one.
    pub primary: String,
    /// `handle@server`: the sender of the outbox rows to fail.
    pub address: String,
    /// When this server deleted it, Unix milliseconds.
    pub deleted_at_ms: i64,
    /// From when the handle may be registered again (SPEC §4.7).
    pub released_at_ms: i64,
    /// The signed deletion's canonical JSON text.
    pub deletion_json: String,
}

impl AccountDeletion {
    /// The deletion of `handle@server` (registered with `primary`) at `now_ms`, its handle
    /// released [`HANDLE_HOLD_MS`](kez_spec::deletion::HANDLE_HOLD_MS) later; `deletion_json`
    /// is the owner's signed deletion, or the operator's note.
    pub fn new(
        handle: &str,
        primary: &str,
        server: &kez_spec::ServerName,
        now_ms: i64,
        deletion_json: String,
    ) -> Self {
        let hold = if crate::faults::on("handle_released_at_once") {
            0
        } else {
            kez_spec::deletion::HANDLE_HOLD_MS
        };
        AccountDeletion {
            handle: handle.to_owned(),
            primary: primary.to_owned(),
            address: format!("{handle}@{server}"),
            deleted_at_ms: now_ms,
            released_at_ms: now_ms.saturating_add(i64::try_from(hold).unwrap_or(i64::MAX)),
            deletion_json,
        }
    }
}

/// What a deleted account leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The handle the account had.
    pub handle: String,
    /// Its primary, never registered on this server again.
    pub primary: String,
    /// When it was deleted, Unix milliseconds.
    pub deleted_at_ms: i64,
    /// When the handle is released, Unix milliseconds.
    pub released_at_ms: i64,
}

/// The outcome of storing a deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The account was deleted now.
    Deleted(Tombstone),
    /// The account was already deleted by this primary: an idempotent retry (SPEC §4.7).
    Existing(Tombstone),
}

/// `handle, primary_key, deleted_at, released_at` of `deleted_accounts`.
pub(super) type TombstoneRow = (String, String, i64, i64);

pub(super) fn tombstone_from_row(
    (handle, primary, deleted_at_ms, released_at_ms): TombstoneRow,
) -> Tombstone {
    Tombstone {
        handle,
        primary,
        deleted_at_ms,
        released_at_ms,
    }
}

/// The tombstone of primary `$1`.
pub(super) const BY_PRIMARY: &str = "SELECT handle, primary_key, deleted_at, released_at \
     FROM deleted_accounts WHERE primary_key = $1";

/// The newest tombstone of handle `$1` that still holds it at `$2`.
pub(super) const BY_HANDLE: &str = "SELECT handle, primary_key, deleted_at, released_at \
     FROM deleted_accounts WHERE handle = $1 AND released_at > $2 \
     ORDER BY deleted_at DESC LIMIT 1";

/// Whether handle `$1` is held at `$2` (registration check 11), and primary `$3` ever deleted
/// here (check 12).
pub(super) const HOLDS: &str = "SELECT \
     EXISTS (SELECT 1 FROM deleted_accounts WHERE handle = $1 AND released_at > $2), \
     EXISTS (SELECT 1 FROM deleted_accounts WHERE primary_key = $3)";

/// What goes with the user `$1`, in an order the foreign keys allow.
pub(super) const REMOVE_USER: [&str; 3] = [
    "DELETE FROM messages WHERE recipient = $1",
    "DELETE FROM inbox_counters WHERE recipient = $1",
    "DELETE FROM users WHERE handle = $1",
];

/// Fails sender `$1`'s pending outbound messages with code `$2` at `$3`.
pub(super) const FAIL_OUTBOX: &str = "UPDATE outbox SET state = 'failed', last_error = $2, \
     next_attempt_at = NULL, finished_at = $3 WHERE sender = $1 AND state = 'pending'";

/// The tombstone.
pub(super) const INSERT: &str = "INSERT INTO deleted_accounts \
     (primary_key, handle, deleted_at, released_at, deletion) VALUES ($1, $2, $3, $4, $5)";

/// Whether a registration is refused by a tombstone (SPEC §4.1 checks 11 and 12).
pub(super) fn check_held(
    held: (bool, bool),
    handle: &str,
    primary: &str,
) -> Result<(), StoreError> {
    match held {
        (true, _) => Err(StoreError::HandleTaken {
            handle: handle.to_owned(),
        }),
        (false, true) if crate::faults::on("deleted_primary_reusable") => Ok(()),
        (false, true) => Err(StoreError::PrimaryTaken {
            primary: primary.to_owned(),
        }),
        (false, false) => Ok(()),
    }
}

/// What to do with `deletion`, given the handle's user row and the tombstone of the
/// deletion's primary: `Ok(None)` to delete now, `Ok(Some(_))` for a retry, or the refusal
/// (SPEC §4.7 check 9).
pub(super) fn decide(
    deletion: &AccountDeletion,
    user: Option<UserRow>,
    tombstone: Option<TombstoneRow>,
) -> Result<Option<DeleteOutcome>, StoreError> {
    if let Some((_, primary, _, _)) = user {
        return if primary == deletion.primary {
            Ok(None)
        } else {
            Err(StoreError::PrimaryMismatch {
                handle: deletion.handle.clone(),
            })
        };
    }
    match tombstone.map(tombstone_from_row) {
        Some(tombstone) if tombstone.handle == deletion.handle => {
            Ok(Some(DeleteOutcome::Existing(tombstone)))
        }
        _ => Err(StoreError::NotRegistered {
            handle: deletion.handle.clone(),
        }),
    }
}

/// The tombstone a deletion writes.
pub(super) fn tombstone_of(deletion: &AccountDeletion) -> Tombstone {
    Tombstone {
        handle: deletion.handle.clone(),
        primary: deletion.primary.clone(),
        deleted_at_ms: deletion.deleted_at_ms,
        released_at_ms: deletion.released_at_ms,
    }
}
