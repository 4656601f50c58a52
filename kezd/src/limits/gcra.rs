//! A keyed GCRA (generic cell rate algorithm) that decides and spends in separate steps, so
//! that several limits can be checked together and spent only when every one of them admits:
//! a send refused by one limit spends nothing of the others (SPEC §11). governor's keyed
//! limiters, used for the single-key limits, update a key in the same step that decides and
//! offer no way to look without spending.
//!
//! Each key keeps one instant, its *theoretical arrival time* (TAT): when its quota would be
//! whole again. A cell costs `interval` (the window divided by the quota); a request is
//! admitted when, after paying, the TAT is at most one window ahead of now, so a fresh key
//! may spend its whole quota at once (a burst of one window's quota, like governor's
//! `Quota::per_minute`). A key whose TAT has passed is full and is forgotten by
//! [`KeyedGcra::retain_recent`], which bounds memory to the keys used within one window.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// One limit over string keys: `quota` requests per `window`.
#[derive(Debug)]
pub struct KeyedGcra {
    /// What one request costs: the window divided by the quota.
    interval: Duration,
    /// How far a key's TAT may run ahead of now: the burst is one window's quota.
    window: Duration,
    /// Each key's theoretical arrival time; a missing key is full.
    tats: Mutex<HashMap<String, Instant>>,
}

impl KeyedGcra {
    /// A limit of `quota` requests per `window`.
    pub fn new(quota: NonZeroU32, window: Duration) -> Self {
        KeyedGcra {
            interval: window / quota.get(),
            window,
            tats: Mutex::default(),
        }
    }

    /// Forgets keys whose quota is whole again.
    pub fn retain_recent(&self, now: Instant) {
        let mut tats = self.lock();
        tats.retain(|_, tat| *tat > now);
        tats.shrink_to_fit();
    }

    /// Keys currently remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.tats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The TAT `key` would have after one more request at `now`, or how long until it is
    /// admitted.
    fn decide(&self, tats: &HashMap<String, Instant>, key: &str, now: Instant) -> Decision {
        let tat = tats
            .get(key)
            .copied()
            .filter(|tat| *tat > now)
            .unwrap_or(now);
        let next = tat + self.interval;
        let ahead = next.saturating_duration_since(now);
        if ahead <= self.window {
            Decision::Admit(next)
        } else {
            Decision::Wait(ahead - self.window)
        }
    }
}

/// What one limit says about one request.
enum Decision {
    /// Admitted; the key's TAT once it is spent.
    Admit(Instant),
    /// Refused; it would be admitted after this long.
    Wait(Duration),
}

/// Counts one request against every `(limit, key)` of `charges` if all of them admit it, and
/// against none otherwise. A refusal names the charge (its index in `charges`) that makes the
/// request wait longest, and that wait: the earliest time every limit would admit it. Each
/// limit appears at most once in `charges`.
///
/// The limits are locked together, in one global order (their addresses), so a concurrent
/// request cannot spend between this one's decision and its spending, and two requests
/// locking overlapping sets cannot deadlock.
pub fn spend_all(charges: &[(&KeyedGcra, &str)], now: Instant) -> Result<(), (usize, Duration)> {
    let mut order: Vec<usize> = (0..charges.len()).collect();
    order.sort_by_key(|&i| std::ptr::from_ref(charges[i].0) as usize);
    debug_assert!(
        order
            .windows(2)
            .all(|w| !std::ptr::eq(charges[w[0]].0, charges[w[1]].0)),
        "a limit charged twice would lock itself"
    );
    let mut guards: Vec<(usize, MutexGuard<'_, HashMap<String, Instant>>)> = order
        .into_iter()
        .map(|i| (i, charges[i].0.lock()))
        .collect();
    let mut spends = Vec::with_capacity(guards.len());
    let mut longest: Option<(usize, Duration)> = None;
    for (i, tats) in &guards {
        let (limit, key) = charges[*i];
        match limit.decide(tats, key, now) {
            Decision::Admit(next) => spends.push(next),
            Decision::Wait(wait) => {
                if longest.is_none_or(|(_, w)| wait > w) {
                    longest = Some((*i, wait));
                }
            }
        }
    }
    if let Some(refusal) = longest {
        return Err(refusal);
    }
    for ((i, tats), next) in guards.iter_mut().zip(spends) {
        tats.insert(charges[*i].1.to_owned(), next);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn limit(quota: u32) -> KeyedGcra {
        KeyedGcra::new(NonZeroU32::new(quota).expect("non-zero"), MINUTE)
    }

    #[test]
    fn a_fresh_key_has_its_whole_quota_then_waits_one_interval() {
        let l = limit(3);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(spend_all(&[(&l, "k")], now).is_ok());
        }
        let (index, wait) = spend_all(&[(&l, "k")], now).expect_err("over");
        assert_eq!(index, 0);
        assert_eq!(
            wait,
            Duration::from_secs(20),
            "one cell is back after 60/3 s"
        );
        assert!(
            spend_all(&[(&l, "k")], now + wait).is_ok(),
            "and then admitted"
        );
        assert!(
            spend_all(&[(&l, "other")], now).is_ok(),
            "keys are separate"
        );
    }

    #[test]
    fn a_refusal_by_one_limit_spends_nothing_of_the_others() {
        let (wide, narrow) = (limit(10), limit(1));
        let now = Instant::now();
        assert!(spend_all(&[(&wide, "a"), (&narrow, "b")], now).is_ok());
        for _ in 0..20 {
            let (index, _) =
                spend_all(&[(&wide, "a"), (&narrow, "b")], now).expect_err("narrow is spent");
            assert_eq!(index, 1, "the narrow limit refuses");
        }
        for n in 0..9 {
            assert!(
                spend_all(&[(&wide, "a")], now).is_ok(),
                "the refusals spent none of the wide quota ({n} of 9 left)"
            );
        }
        assert!(spend_all(&[(&wide, "a")], now).is_err());
    }

    #[test]
    fn the_longest_wait_is_reported() {
        let (fast, slow) = (limit(60), limit(1));
        let now = Instant::now();
        for _ in 0..60 {
            assert!(spend_all(&[(&fast, "k")], now).is_ok());
        }
        assert!(spend_all(&[(&slow, "k")], now).is_ok());
        let (index, wait) = spend_all(&[(&fast, "k"), (&slow, "k")], now).expect_err("both");
        assert_eq!(
            (index, wait),
            (1, MINUTE),
            "the request waits for the slower limit"
        );
    }

    #[test]
    fn full_keys_are_forgotten() {
        let l = limit(2);
        let now = Instant::now();
        assert!(spend_all(&[(&l, "a")], now).is_ok());
        l.retain_recent(now);
        assert_eq!(l.len(), 1, "a key mid-window is kept");
        l.retain_recent(now + Duration::from_secs(30));
        assert_eq!(l.len(), 0, "whole again after one interval");
    }
}
