//! `[skew]`: how far a signed timestamp may be from this server's clock.

use std::time::Duration;

use super::ConfigError;
use super::checks::positive_secs;
use super::raw::RawSkew;

/// Accepted distance between a signed timestamp and this server's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skews {
    /// Registrations (SPEC §4.1: 300 s).
    pub registration: Duration,
    /// Client request auth (SPEC §7.1: 60 s).
    pub auth: Duration,
    /// Envelopes on send (SPEC §8.1: 300 s).
    pub envelope: Duration,
}

impl Skews {
    /// Validates `[skew]`.
    pub(super) fn from_raw(raw: RawSkew) -> Result<Self, ConfigError> {
        Ok(Skews {
            registration: positive_secs("skew.registration_secs", raw.registration_secs)?,
            auth: positive_secs("skew.auth_secs", raw.auth_secs)?,
            envelope: positive_secs("skew.envelope_secs", raw.envelope_secs)?,
        })
    }

    /// `[skew]` as written in the file.
    pub(super) fn to_raw(&self) -> RawSkew {
        RawSkew {
            registration_secs: self.registration.as_secs(),
            auth_secs: self.auth.as_secs(),
            envelope_secs: self.envelope.as_secs(),
        }
    }
}
