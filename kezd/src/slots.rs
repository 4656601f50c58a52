//! Things open at once, counted per key and capped: connections per client address, live
//! streams per handle and per client address. A [`Slot`] is taken when the thing opens and
//! gives its place back when dropped, however the thing ends (closed, errored, aborted at the
//! end of a drain), so a count can never leak upwards and lock a key out for good.
//!
//! The counts are in this process's memory: in a cluster each instance caps on its own.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Open things per key, each key capped at the same maximum.
pub struct Slots<K: Eq + Hash> {
    /// The current counts; a key whose count falls to zero is removed, so the map holds only
    /// keys with something open and cannot grow with the number of keys ever seen.
    open: Arc<Mutex<HashMap<K, usize>>>,
    /// The most a key may hold at once.
    max: usize,
}

/// One open thing; dropping it frees its place.
pub struct Slot<K: Eq + Hash> {
    open: Arc<Mutex<HashMap<K, usize>>>,
    key: K,
}

impl<K: Eq + Hash + Clone> Slots<K> {
    /// Counts with at most `max` open per key.
    pub fn new(max: usize) -> Self {
        Slots {
            open: Arc::new(Mutex::new(HashMap::new())),
            max,
        }
    }

    /// A slot for `key`, or `None` when `key` already holds the maximum.
    pub fn try_take(&self, key: &K) -> Option<Slot<K>> {
        let mut open = lock(&self.open);
        let count = open.entry(key.clone()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        drop(open);
        Some(Slot {
            open: Arc::clone(&self.open),
            key: key.clone(),
        })
    }

    /// How many `key` holds now.
    pub fn count(&self, key: &K) -> usize {
        lock(&self.open).get(key).copied().unwrap_or(0)
    }
}

impl<K: Eq + Hash> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

fn lock<K>(open: &Mutex<HashMap<K, usize>>) -> MutexGuard<'_, HashMap<K, usize>> {
    open.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K: Eq + Hash> std::fmt::Debug for Slots<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots").field("max", &self.max).finish()
    }
}

impl<K: Eq + Hash> std::fmt::Debug for Slot<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slot")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_capped_and_freed_when_its_slots_drop() {
        let slots = Slots::new(2);
        let a1 = slots.try_take(&"a");
        let a2 = slots.try_take(&"a");
        assert!(a1.is_some() && a2.is_some());
        assert!(slots.try_take(&"a").is_none(), "third over the cap");
        assert!(slots.try_take(&"b").is_some(), "other keys unaffected");
        drop(a1);
        assert_eq!(slots.count(&"a"), 1);
        assert!(slots.try_take(&"a").is_some());
    }

    #[test]
    fn keys_with_nothing_open_are_forgotten() {
        let slots = Slots::new(1);
        for n in 0..1000 {
            drop(slots.try_take(&n));
        }
        assert!(lock(&slots.open).is_empty());
    }
}
