//! The checks every section's validation uses: each turns a raw value into its typed form or
//! into a [`ConfigError`] naming the key, so messages read the same for every setting.

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;

/// The error for `key`, whose value is not acceptable for `reason`.
pub(super) fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// A path that is not empty.
pub(super) fn non_empty_path(key: &'static str, text: String) -> Result<PathBuf, ConfigError> {
    if text.is_empty() {
        Err(invalid(key, "must not be empty"))
    } else {
        Ok(PathBuf::from(text))
    }
}

/// A count from 1 to `u32::MAX`.
pub(super) fn nonzero_u32(key: &'static str, value: u64) -> Result<NonZeroU32, ConfigError> {
    u32::try_from(value)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| invalid(key, format!("must be from 1 to {}", u32::MAX)))
}

/// A count of at least 1.
pub(super) fn nonzero_usize(key: &'static str, value: u64) -> Result<NonZeroUsize, ConfigError> {
    usize::try_from(value)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| invalid(key, "must be at least 1 (and fit this machine's usize)"))
}

/// A duration of at least one millisecond.
pub(super) fn positive_millis(key: &'static str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(Duration::from_millis(value))
}

/// A duration of at least one second.
pub(super) fn positive_secs(key: &'static str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(Duration::from_secs(value))
}

/// A duration written back in milliseconds.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A count written back as the raw `u64`.
pub(super) fn as_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}
