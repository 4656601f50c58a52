//! `[retention]`: what the retention sweep deletes (SPEC §8.4) and how often it runs.

use std::num::NonZeroU64;
use std::time::Duration;

use super::ConfigError;
use super::checks::{invalid, positive_secs};
use super::raw::RawRetention;

/// What retention deletes (SPEC §8.4) and how often it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Messages received longer ago are deleted.
    pub max_age: Duration,
    /// Per inbox, only this many newest messages are kept.
    pub max_per_inbox: NonZeroU64,
    /// Interval between retention sweeps.
    pub sweep_interval: Duration,
}

impl Retention {
    /// Validates `[retention]`.
    pub(super) fn from_raw(raw: RawRetention) -> Result<Self, ConfigError> {
        Ok(Retention {
            max_age: positive_secs("retention.max_age_secs", raw.max_age_secs)?,
            max_per_inbox: NonZeroU64::new(raw.max_per_inbox)
                .ok_or_else(|| invalid("retention.max_per_inbox", "must be at least 1"))?,
            sweep_interval: positive_secs(
                "retention.sweep_interval_secs",
                raw.sweep_interval_secs,
            )?,
        })
    }

    /// `[retention]` as written in the file.
    pub(super) fn to_raw(&self) -> RawRetention {
        RawRetention {
            max_age_secs: self.max_age.as_secs(),
            max_per_inbox: self.max_per_inbox.get(),
            sweep_interval_secs: self.sweep_interval.as_secs(),
        }
    }
}
