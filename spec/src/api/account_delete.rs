//! # `POST /v1/account/delete` (SPEC §4.7)
//!
//! Deleting an account: the body is the signed deletion ([`crate::deletion`]); the answer says
//! when the account was deleted and from when its handle may be registered again.

use serde::{Deserialize, Serialize};

/// The answer, the same to the first deletion and to every retry of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionAnswer {
    /// The deleted account's address, `handle@server`.
    pub address: String,
    /// When the server deleted it, Unix milliseconds.
    pub deleted_at: u64,
    /// From when the handle may be registered again, Unix milliseconds; the primary never may
    /// be, on this server.
    pub released_at: u64,
}
