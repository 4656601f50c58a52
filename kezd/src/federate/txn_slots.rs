//! In-flight incoming transactions, counted per origin and in total (SPEC §9.4, §13.6).
//!
//! A transaction holds up to 8 MiB of body, its parsed envelopes and its sender look-ups for
//! as long as the origin's user look-ups take. Without a cap, an origin that is slow to answer
//! can keep any number of them in memory at once. A slot is taken once the transaction's
//! signature is verified, so only the origin itself can spend its share (the signature covers
//! the body, so a slot taken on the header's word alone could be held by anyone naming the
//! origin); it is given back when the request ends, however it ends (the [`TxnSlot`] guard is
//! dropped with the handler's future). Before that, a body is bounded like every request's:
//! held against the memory budget and read within the body deadline and minimum rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The origin already has its share in flight: 429, it should come back later.
    Origin,
    /// All origins together have the server's share in flight: 503.
    Total,
}

/// The counters, shared by every transaction request.
#[derive(Debug)]
pub struct TxnSlots {
    /// Most in flight for one origin.
    per_origin: usize,
    /// Most in flight in total.
    total: usize,
    /// What is in flight now.
    counts: Arc<Mutex<Counts>>,
}

/// In-flight transactions now.
#[derive(Debug, Default)]
struct Counts {
    /// All origins together.
    total: usize,
    /// Per origin; an origin with none in flight has no entry, so the map holds at most
    /// `total` entries whatever names are claimed.
    by_origin: HashMap<String, usize>,
}

/// One transaction's place; dropping it gives the place back.
#[derive(Debug)]
pub struct TxnSlot {
    /// Whose place it is.
    origin: String,
    /// The counters to give it back to.
    counts: Arc<Mutex<Counts>>,
}

impl TxnSlots {
    /// At most `per_origin` for one origin and `total` in all (both at least 1).
    pub fn new(per_origin: usize, total: usize) -> Self {
        TxnSlots {
            per_origin,
            total,
            counts: Arc::default(),
        }
    }

    /// A place for one more transaction from `origin`, or why there is none.
    pub fn try_take(&self, origin: &str) -> Result<TxnSlot, Refused> {
        let mut counts = lock(&self.counts);
        let of_origin = counts.by_origin.get(origin).copied().unwrap_or(0);
        if of_origin >= self.per_origin {
            return Err(Refused::Origin);
        }
        if counts.total >= self.total {
            return Err(Refused::Total);
        }
        counts.total += 1;
        counts.by_origin.insert(origin.to_owned(), of_origin + 1);
        Ok(TxnSlot {
            origin: origin.to_owned(),
            counts: self.counts.clone(),
        })
    }
}

impl Drop for TxnSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_origin.get_mut(&self.origin) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_origin.remove(&self.origin);
            }
        }
    }
}

/// The counts stay consistent even if a holder panicked: every update is complete before
/// the lock is released.
fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    counts.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_origin_then_in_total_and_gives_places_back() {
        let slots = TxnSlots::new(2, 3);
        let a1 = slots.try_take("a.example").expect("first");
        let a2 = slots.try_take("a.example").expect("second");
        assert_eq!(slots.try_take("a.example").err(), Some(Refused::Origin));
        let b1 = slots.try_take("b.example").expect("another origin");
        assert_eq!(slots.try_take("c.example").err(), Some(Refused::Total));
        // An origin at its own cap is told so even when the total is full too.
        assert_eq!(slots.try_take("a.example").err(), Some(Refused::Origin));
        drop(a1);
        let a3 = slots.try_take("a.example").expect("a place came back");
        drop((a2, a3, b1));
        assert_eq!(lock(&slots.counts).total, 0);
        assert!(lock(&slots.counts).by_origin.is_empty());
    }
}
