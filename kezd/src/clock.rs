//! The daemon's one reading of wall-clock time. kez-spec never reads a clock (its checks take
//! `now`), so every timestamp window in kezd is judged against these two functions.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds now (0 if the system clock is before 1970, which no window accepts).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    now_ms() / 1000
}
