//! # `GET /v1/messages/{id}/status` (SPEC §9.7)
//!
//! A sender following a message: stored, queued, delivered or failed.

use serde::{Deserialize, Serialize};

/// The answer. `next_attempt_at` and `error` are `null` when there is none, not absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatus {
    /// The message id.
    pub id: String,
    /// `stored`, `queued`, `delivered` or `failed`.
    pub status: String,
    /// Transactions that carried the message (0 for a local recipient).
    pub attempts: u64,
    /// When the next attempt is due, Unix milliseconds.
    pub next_attempt_at: Option<u64>,
    /// The last error code.
    pub error: Option<String>,
}
