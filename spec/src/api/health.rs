//! # `GET /v1/healthz` (SPEC §4.5)
//!
//! The prototype's health answer, kept exactly (SPEC §12.1).

use serde::{Deserialize, Serialize};

/// The `status` a healthy server answers.
pub const OK: &str = "ok";

/// The answer: `{"server","status":"ok","version"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The server name.
    pub server: String,
    /// Always [`OK`].
    pub status: String,
    /// The implementation and its version, e.g. `kezd/0.1.0`.
    pub version: String,
}
