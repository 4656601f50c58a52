//! `[stream]`: the live stream's keep-alive and how many may be open at once.

use std::num::NonZeroUsize;
use std::time::Duration;

use super::ConfigError;
use super::checks::{as_u64, nonzero_usize, positive_secs};
use super::raw::RawStream;

/// The live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Interval of `: keep-alive` comments (SPEC §8.5: 15 s).
    pub keep_alive: Duration,
    /// Streams open at once per handle, on this instance.
    pub max_per_handle: NonZeroUsize,
    /// Streams open at once per client address group, on this instance.
    pub max_per_address: NonZeroUsize,
}

impl StreamSettings {
    /// Validates `[stream]`.
    pub(super) fn from_raw(raw: RawStream) -> Result<Self, ConfigError> {
        Ok(StreamSettings {
            keep_alive: positive_secs("stream.keep_alive_secs", raw.keep_alive_secs)?,
            max_per_handle: nonzero_usize("stream.max_per_handle", raw.max_per_handle)?,
            max_per_address: nonzero_usize("stream.max_per_address", raw.max_per_address)?,
        })
    }

    /// `[stream]` as written in the file.
    pub(super) fn to_raw(&self) -> RawStream {
        RawStream {
            keep_alive_secs: self.keep_alive.as_secs(),
            max_per_handle: as_u64(self.max_per_handle.get()),
            max_per_address: as_u64(self.max_per_address.get()),
        }
    }
}
