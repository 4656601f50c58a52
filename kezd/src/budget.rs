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
//! One client address (IPv6 grouped by prefix, the forwarded address behind a trusted proxy)
//! may hold only a share of the total (`[http] max_inflight_bytes_per_address`): without it,
//! one party declaring large bodies and sending them slowly could fill the whole budget and
//! turn everyone else away. Its own requests then get 429 `rate_limited`; the total full gets
//! 503 `unavailable`. A request's view of the budget ([`Budget::for_client`]) counts against
//! both.
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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// The shared cap. Clone it freely; clones count against the same total (and, for a view from
/// [`Budget::for_client`], the same client's share).
#[derive(Debug, Clone)]
pub struct Budget {
    /// Shared with every reservation, which gives its bytes back on drop.
    inner: Arc<Inner>,
    /// The client's share this view also counts against; `None` for the whole budget.
    share: Option<Arc<Share>>,
}

/// The counter and its cap.
#[derive(Debug)]
struct Inner {
    /// The total.
    total: Counter,
    /// The most one client address may hold; `None` when shares are off (as large as the
    /// total).
    per_address: Option<u64>,
    /// The shares of the addresses holding something now. Weak, so a share is freed with its
    /// last reservation and the map cannot grow with the number of addresses ever seen.
    shares: Mutex<HashMap<IpAddr, Weak<Share>>>,
}

/// Bytes held and their cap.
#[derive(Debug)]
struct Counter {
    /// The most bytes reservations may hold together.
    limit: u64,
    /// Bytes reserved now. Never above `limit`: every increase is a compare-and-swap that
    /// checks it.
    used: AtomicU64,
}

/// One client address's part of the total.
#[derive(Debug)]
struct Share {
    /// Where this share is listed, to unlist it when the last holder lets go.
    inner: Arc<Inner>,
    /// The address group.
    client: IpAddr,
    /// Its bytes and its cap.
    counter: Counter,
}

/// Which cap refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole budget is full: 503 `unavailable`.
    Total,
    /// The client's share is full while others still fit: 429 `rate_limited`.
    Client,
}

/// A reservation did not fit. Answered as 503 `unavailable` with `Retry-After` (SPEC §10):
/// in-flight work ends within seconds (bodies have a deadline), so room comes back soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "in-flight bytes budget ({scope:?}) full: {requested} more bytes requested, {in_use} of {limit} in use"
)]
pub struct OverBudget {
    /// The cap that refused.
    pub scope: Scope,
    /// The bytes asked for.
    pub requested: u64,
    /// Reserved under that cap when it was refused.
    pub in_use: u64,
    /// That cap.
    pub limit: u64,
}

impl Counter {
    fn new(limit: u64) -> Self {
        Counter {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// Adds `bytes` if the total stays within the limit; otherwise what was in use.
    fn try_add(&self, bytes: u64) -> Result<(), u64> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .map(drop)
    }

    fn sub(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl Budget {
    /// A budget of `limit` bytes, none in use, with no per-client share.
    pub fn new(limit: u64) -> Self {
        Self::with_client_share(limit, limit)
    }

    /// A budget of `limit` bytes of which one client address may hold `per_address` (no share
    /// when that is not below `limit`).
    pub fn with_client_share(limit: u64, per_address: u64) -> Self {
        Budget {
            inner: Arc::new(Inner {
                total: Counter::new(limit),
                per_address: (per_address < limit).then_some(per_address),
                shares: Mutex::new(HashMap::new()),
            }),
            share: None,
        }
    }

    /// The budget as one client sees it: its reservations count against the total and
    /// against `client`'s share (`client` already grouped, see [`crate::client_addr::group`]).
    pub fn for_client(&self, client: IpAddr) -> Budget {
        let Some(limit) = self.inner.per_address else {
            return self.clone();
        };
        let mut shares = self
            .inner
            .shares
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let share = match shares.get(&client).and_then(Weak::upgrade) {
            Some(share) => share,
            None => {
                let share = Arc::new(Share {
                    inner: Arc::clone(&self.inner),
                    client,
                    counter: Counter::new(limit),
                });
                shares.insert(client, Arc::downgrade(&share));
                share
            }
        };
        Budget {
            inner: Arc::clone(&self.inner),
            share: Some(share),
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
            share: self.share.clone(),
            bytes: 0,
        }
    }

    /// Bytes reserved now, in all: the `kezd_inflight_bytes` gauge.
    pub fn in_use(&self) -> u64 {
        self.inner.total.used.load(Ordering::Relaxed)
    }

    /// The cap: the `kezd_inflight_bytes_budget` gauge.
    pub fn limit(&self) -> u64 {
        self.inner.total.limit
    }

    /// Client addresses holding bytes now: the `kezd_inflight_clients` gauge.
    pub fn clients(&self) -> usize {
        self.inner
            .shares
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut shares = self
            .inner
            .shares
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A new share for the same client may have been listed since this one's last holder
        // let go: only a dead entry is removed.
        if shares
            .get(&self.client)
            .is_some_and(|entry| entry.strong_count() == 0)
        {
            shares.remove(&self.client);
        }
    }
}

/// Bytes held against the [`Budget`] until this is dropped.
#[derive(Debug)]
#[must_use = "the bytes are given back as soon as the reservation is dropped"]
pub struct Reservation {
    /// The budget the bytes come from and go back to.
    inner: Arc<Inner>,
    /// The client share they also count against, if any.
    share: Option<Arc<Share>>,
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
        let refused = |scope, counter: &Counter, in_use| OverBudget {
            scope,
            requested: additional,
            in_use,
            limit: counter.limit,
        };
        if let Some(share) = &self.share {
            share
                .counter
                .try_add(additional)
                .map_err(|in_use| refused(Scope::Client, &share.counter, in_use))?;
        }
        if let Err(in_use) = self.inner.total.try_add(additional) {
            if let Some(share) = &self.share {
                share.counter.sub(additional);
            }
            return Err(refused(Scope::Total, &self.inner.total, in_use));
        }
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
            let freed = self.bytes - bytes;
            self.inner.total.sub(freed);
            if let Some(share) = &self.share {
                share.counter.sub(freed);
            }
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
                scope: Scope::Total,
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

    #[test]
    fn one_client_holds_only_its_share_and_others_still_fit() {
        let budget = Budget::with_client_share(100, 40);
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let held = budget
            .for_client(a)
            .try_reserve(30)
            .expect("fits the share");
        let refused = budget
            .for_client(a)
            .try_reserve(11)
            .expect_err("30 + 11 > 40");
        assert_eq!(
            (refused.scope, refused.in_use, refused.limit),
            (Scope::Client, 30, 40)
        );
        assert_eq!(
            budget.in_use(),
            30,
            "a refused share takes nothing from the total"
        );
        let others: Vec<_> = (0..2)
            .map(|_| budget.for_client(b).try_reserve(35))
            .collect();
        assert!(
            others[0].is_ok() && others[1].is_err(),
            "b has a share of its own"
        );
        let c = budget.for_client([192, 0, 2, 3].into());
        let full = c.try_reserve(36).expect_err("30 + 35 + 36 > 100");
        assert_eq!(full.scope, Scope::Total);
        assert_eq!(budget.in_use(), 65, "the refused total gave the share back");
        drop((held, others));
        assert_eq!(budget.in_use(), 0);
        drop(c);
        assert_eq!(
            budget.clients(),
            0,
            "shares are forgotten with their last holder"
        );
    }

    #[test]
    fn without_a_smaller_share_a_client_may_use_everything() {
        let budget = Budget::with_client_share(100, 100);
        let held = budget
            .for_client([192, 0, 2, 1].into())
            .try_reserve(100)
            .expect("the whole budget");
        assert_eq!((held.bytes(), budget.clients()), (100, 0));
    }
}
