//! The store's error type: structured variants a handler can map to a KEZ error code
//! (SPEC §10) without ever reading a message text.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a store operation failed.
///
/// Conflicts (`HandleTaken`, `PrimaryTaken`), `UnknownRecipient`, `NotRegistered` and
/// `PrimaryMismatch` are answers about the
/// request; every other variant means the store could not do its job, and nothing of the
/// failed write was stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another registration already holds this handle (SPEC §10 `handle_taken`).
    #[error("handle {handle:?} is already registered")]
    HandleTaken {
        /// The handle that conflicted.
        handle: String,
    },
    /// Another handle is already registered with this primary (SPEC §10 `primary_taken`).
    #[error("primary {primary} is already registered")]
    PrimaryTaken {
        /// The primary that conflicted.
        primary: String,
    },
    /// The registration token offered cannot be spent (SPEC §10
    /// `registration_token_invalid`); nothing was stored.
    #[error("registration token refused: {0}")]
    TokenRefused(super::TokenRefusal),
    /// A local route named a handle that has no registration.
    #[error("no user is registered with handle {handle:?}")]
    UnknownRecipient {
        /// The handle that was looked for.
        handle: String,
    },
    /// A deletion named a handle that has no registration and no tombstone of the deletion's
    /// primary (SPEC §4.7 check 9, `unknown_handle`).
    #[error("no user is registered with handle {handle:?}")]
    NotRegistered {
        /// The handle that was looked for.
        handle: String,
    },
    /// A deletion was signed by a primary other than the handle's registered one (SPEC §4.7
    /// check 9, `primary_mismatch`).
    #[error("handle {handle:?} is registered with another primary")]
    PrimaryMismatch {
        /// The handle.
        handle: String,
    },
    /// A new message's admission check refused it (a rate limit); nothing was stored.
    #[error("refused: {0}")]
    Refused(#[source] super::Refusal),
    /// The store was closed, or its writer stopped; nothing more can be written.
    #[error("the store is closed")]
    Closed,
    /// The transaction that carried this write (with others of its group commit) failed to
    /// commit, so nothing of it was stored. Shared because one failure answers many callers.
    #[error("the group commit carrying this write failed")]
    BatchFailed(#[source] Arc<sqlx::Error>),
    /// The database refused or failed an operation.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The embedded schema migrations could not be applied at open.
    #[error("schema migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's parent directory could not be created at open.
    #[error("cannot create directory {path}")]
    CreateDir {
        /// The directory that could not be created.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The backend does not do this; the message says what to do instead.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A file the store was asked to write could not be created.
    #[error("cannot create {path}")]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A stored value is outside the range the schema promises (for example a negative seq):
    /// the file was changed by something other than this store.
    #[error("stored {what} is out of range")]
    Corrupt {
        /// Which value.
        what: &'static str,
    },
}

impl From<sqlx::Error> for StoreError {
    /// A closed pool means the store was closed, which callers handle like a stopped writer;
    /// everything else is a database failure.
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => StoreError::Closed,
            other => StoreError::Database(other),
        }
    }
}
