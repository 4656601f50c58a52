//! Retry delays (SPEC §9.6): exponential from the configured start, doubling with a random
//! factor in [0.8, 1.4] so that many senders retrying one peer spread out, capped.

use std::time::Duration;

use rand_core::{OsRng, RngCore};

/// The delay before retry number `failures` (1 for the first retry).
pub fn delay(failures: u32, initial: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    let base = initial.saturating_mul(1u32 << doublings.min(31)).min(max);
    // 0.8 + 0.6 × a uniform draw; a thousand steps are plenty of spread.
    let factor = 0.8 + 0.6 * f64::from(OsRng.next_u32() % 1000) / 1000.0;
    base.mul_f64(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_and_is_capped() {
        let (initial, max) = (Duration::from_secs(30), Duration::from_secs(3600));
        for failures in 1..=20 {
            let d = delay(failures, initial, max);
            let base = initial.saturating_mul(1 << (failures - 1).min(31)).min(max);
            assert!(
                d >= base.mul_f64(0.8).min(max) && d <= max,
                "{failures}: {d:?}"
            );
            assert!(d <= base.mul_f64(1.4), "{failures}: {d:?}");
        }
        assert!(
            delay(40, initial, max) <= max,
            "the cap holds past any doubling"
        );
    }
}
