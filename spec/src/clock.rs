//! Timestamps: the windows they are judged in, and the one reading of the wall clock KEZ's
//! crates share. The checks never read the clock themselves: callers pass `now`, so the same
//! check runs in servers, clients, tests and vectors with any time they choose.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// Unix milliseconds now, the unit of every protocol timestamp (SPEC §3.3). A system clock
/// before 1970 reads as 0, which no window accepts.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Accepts `ts` when `|now − ts| ≤ window` (all in one unit), else [`Error::StaleTimestamp`].
pub fn check_window(ts: u64, now: u64, window: u64) -> Result<(), Error> {
    if ts.abs_diff(now) <= window {
        Ok(())
    } else {
        Err(Error::StaleTimestamp { ts, now })
    }
}

/// Accepts `ts` when `now − past ≤ ts ≤ now + future`: the asymmetric window federation uses
/// for envelopes that may have waited in an outbox (SPEC §9.4).
pub fn check_range(ts: u64, now: u64, past: u64, future: u64) -> Result<(), Error> {
    if ts >= now.saturating_sub(past) && ts <= now.saturating_add(future) {
        Ok(())
    } else {
        Err(Error::StaleTimestamp { ts, now })
    }
}

/// The largest integer JSON numbers may carry in signed objects (I-JSON, SPEC §3.3).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_inclusive_and_symmetric() {
        assert!(check_window(100, 160, 60).is_ok());
        assert!(check_window(220, 160, 60).is_ok());
        assert!(check_window(99, 160, 60).is_err());
        assert!(check_window(221, 160, 60).is_err());
    }

    #[test]
    fn range_is_asymmetric() {
        assert!(check_range(10, 100, 90, 5).is_ok());
        assert!(check_range(9, 100, 90, 5).is_err());
        assert!(check_range(105, 100, 90, 5).is_ok());
        assert!(check_range(106, 100, 90, 5).is_err());
    }
}
