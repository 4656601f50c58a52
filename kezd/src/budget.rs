//! The memory budget: one cap on the bytes kezd holds in memory for requests and responses in
//! flight (`[http] max_inflight_bytes`), so hostile traffic meets a 503 with `Retry-After`
//! instead of growing the process. Per-connection limits bound one party; only a total bounds
//! many parties together.
//!
//! Whoever is about to hold bytes reserves them first and keeps the [`Reservation`] for as long
//! as it holds them; dropping it gives the bytes back, on every path (error, panic, client
//! gone). Nothing waits for room: a request that does not fit is answered at once, because
//! waiting would hold the connection and everything already read, which is what the budget is
//! for.
//!
//! How each kind of work uses it:
//! - A request body reserves its declared length before the first byte is read, or, when
//!   chunked, grows its reservation as data arrives ([`crate::request_body::read`]).
//! - A response built in memory (a poll page, a transaction's answer) reserves its size
//!   before it is built or as it grows ([`Reservation::try_grow`]), then travels with its bytes
//!   ([`crate::body::reserved`]) so the bytes stay counted until they are written.
//! - A streamed response reserves each batch while it holds it and shrinks
//!   ([`Reservation::shrink_to`]) or drops the reservation once the batch is written.
//!
//! ```
//! # use kezd::budget::Budget;
//! let budget = Budget::new(1024);
//! let mut held = budget.try_reserve(600).expect("fits");
//! assert!(budget.try_reserve(600).is_err(), "600 + 600 > 1024");
//! held.try_grow(400).expect("1000 fits");
//! held.shrink_to(100);
//! assert_eq!(budget.in_use(), 100);
//! drop(held);
//! assert_eq!(budget.in_use(), 0);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The shared cap. Clone it freely; clones count against the same total.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Shared with every reservation, which gives its bytes back on drop.
    inner: Arc<Inner>,
}

/// The counter and its cap.
#[derive(Debug)]
struct Inner {
    /// The most bytes reservations may hold together.
    limit: u64,
    /// Bytes reserved now. Never above `limit`: every increase is a compare-and-swap that
    /// checks it.
    used: AtomicU64,
}

/// A reservation did not fit. Answered as 503 `unavailable` with `Retry-After` (SPEC §10):
/// in-flight work ends within seconds (bodies have a deadline), so room comes back soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "in-flight bytes budget full: {requested} more bytes requested, {in_use} of {limit} in use"
)]
pub struct OverBudget {
    /// The bytes asked for.
    pub requested: u64,
    /// Reserved by others when it was refused.
    pub in_use: u64,
    /// The configured cap.
    pub limit: u64,
}

impl Budget {
    /// A budget of `limit` bytes, none in use.
    pub fn new(limit: u64) -> Self {
        Budget {
            inner: Arc::new(Inner {
                limit,
                used: AtomicU64::new(0),
            }),
        }
    }

    /// Reserves `bytes`, or refuses at once when they do not fit. The bytes come back when the
    /// reservation is dropped.
    pub fn try_reserve(&self, bytes: u64) -> Result<Reservation, OverBudget> {
        let mut reservation = self.empty();
        reservation.try_grow(bytes)?;
        Ok(reservation)
    }

    /// A reservation of nothing yet, to grow as data arrives (a chunked body, a page filled
    /// one message at a time).
    pub fn empty(&self) -> Reservation {
        Reservation {
            inner: Arc::clone(&self.inner),
            bytes: 0,
        }
    }

    /// Bytes reserved now: the `kezd_inflight_bytes` gauge.
    pub fn in_use(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// The cap: the `kezd_inflight_bytes_budget` gauge.
    pub fn limit(&self) -> u64 {
        self.inner.limit
    }
}

/// Bytes held against the [`Budget`] until this is dropped.
#[derive(Debug)]
#[must_use = "the bytes are given back as soon as the reservation is dropped"]
pub struct Reservation {
    /// The budget the bytes come from and go back to.
    inner: Arc<Inner>,
    /// Bytes this reservation holds.
    bytes: u64,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Holds `additional` bytes more, or refuses (holding what it held) when they do not fit.
    pub fn try_grow(&mut self, additional: u64) -> Result<(), OverBudget> {
        let limit = self.inner.limit;
        let refused = |in_use| OverBudget {
            requested: additional,
            in_use,
            limit,
        };
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(additional).filter(|total| *total <= limit)
            })
            .map_err(refused)?;
        self.bytes += additional;
        Ok(())
    }

    /// Grows or shrinks to hold exactly `bytes`; growing can be refused as in
    /// [`try_grow`](Self::try_grow).
    pub fn try_resize(&mut self, bytes: u64) -> Result<(), OverBudget> {
        if bytes > self.bytes {
            self.try_grow(bytes - self.bytes)
        } else {
            self.shrink_to(bytes);
            Ok(())
        }
    }

    /// Gives back all but `bytes` (nothing when it holds no more than that): a batch written,
    /// a buffer trimmed.
    pub fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            self.inner
                .used
                .fetch_sub(self.bytes - bytes, Ordering::AcqRel);
            self.bytes = bytes;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_the_limit_and_come_back_on_drop() {
        let budget = Budget::new(100);
        let a = budget.try_reserve(60).expect("fits");
        let refused = budget.try_reserve(41).expect_err("60 + 41 > 100");
        assert_eq!(
            refused,
            OverBudget {
                requested: 41,
                in_use: 60,
                limit: 100
            }
        );
        let b = budget.try_reserve(40).expect("exactly full");
        assert_eq!(budget.in_use(), 100);
        drop(a);
        assert_eq!(budget.in_use(), 40);
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn a_refused_growth_keeps_what_was_held() {
        let budget = Budget::new(100);
        let mut held = budget.empty();
        held.try_grow(70).expect("fits");
        assert!(held.try_grow(31).is_err());
        assert_eq!((held.bytes(), budget.in_use()), (70, 70));
        held.try_resize(100).expect("grows to the limit");
        held.try_resize(10).expect("shrinking always works");
        assert_eq!((held.bytes(), budget.in_use()), (10, 10));
        assert!(held.try_grow(u64::MAX).is_err(), "no overflow");
        drop(held);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn concurrent_reservations_never_pass_the_limit() {
        let budget = Budget::new(1000);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let budget = budget.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        if let Ok(held) = budget.try_reserve(300) {
                            assert!(budget.in_use() <= 1000);
                            drop(held);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no panic");
        }
        assert_eq!(budget.in_use(), 0);
    }
}
