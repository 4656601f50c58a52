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

/// A moment in UTC to the second, as people read timestamps (clients and operator tools
/// print them; the protocol itself only carries Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// The year (proleptic Gregorian).
    pub year: i64,
    /// 1–12.
    pub month: i64,
    /// 1–31.
    pub day: i64,
    /// 0–23.
    pub hour: i64,
    /// 0–59.
    pub minute: i64,
    /// 0–59.
    pub second: i64,
}

/// Unix milliseconds as a UTC date and time (no time zone database needed).
pub fn civil(ms: i64) -> CivilTime {
    let secs = ms.div_euclid(1000);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    CivilTime {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: of_day / 3600,
        minute: of_day % 3600 / 60,
        second: of_day % 60,
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
