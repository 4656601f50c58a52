//! The rogue as a slow origin: its user look-ups (WebFinger, the first request of every
//! look-up a receiver makes, SPEC §9.4 check 5) held open on purpose, for everyone or for
//! chosen handles, and counted — how many are in flight now, the most ever in flight at
//! once, how many began — so tests can see how a receiver spreads and bounds its look-ups
//! by counting, not timing.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// Whose look-ups the rogue holds open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Held {
    /// Nobody's: every look-up is answered at once.
    #[default]
    Nobody,
    /// Everyone's.
    Everyone,
    /// Only these handles'.
    Only(BTreeSet<String>),
}

impl Held {
    /// Only the look-ups of `handles`.
    pub fn only<'a>(handles: impl IntoIterator<Item = &'a str>) -> Held {
        Held::Only(handles.into_iter().map(str::to_owned).collect())
    }

    fn holds(&self, handle: &str) -> bool {
        match self {
            Held::Nobody => false,
            Held::Everyone => true,
            Held::Only(handles) => handles.contains(handle),
        }
    }
}

/// What the look-ups do now and did so far.
#[derive(Debug)]
pub(super) struct Lookups {
    /// Whose look-ups wait; every waiting look-up watches it.
    held: watch::Sender<Held>,
    /// Look-ups in flight now (held or being answered).
    in_flight: AtomicUsize,
    /// The most in flight at once.
    peak: AtomicUsize,
    /// Look-ups begun.
    begun: AtomicUsize,
}

impl Default for Lookups {
    fn default() -> Self {
        Lookups {
            held: watch::Sender::new(Held::Nobody),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            begun: AtomicUsize::new(0),
        }
    }
}

/// One look-up in flight; counted out when dropped, also when the receiver gives up on it
/// (hyper drops the answer's future with the connection).
pub(super) struct InFlight<'a>(&'a Lookups);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lookups {
    /// Counts a look-up of `handle` in, then waits while it is held.
    pub(super) async fn enter(&self, handle: &str) -> InFlight<'_> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight(self);
        let mut held = self.held.subscribe();
        // The sender lives as long as the rogue: an error means it is going away anyway.
        let _ = held.wait_for(|held| !held.holds(handle)).await;
        guard
    }

    /// Holds the look-ups `held` names from now on; releases the others.
    pub(super) fn hold(&self, held: Held) {
        self.held.send_replace(held);
    }

    /// The counts now.
    pub(super) fn counts(&self) -> LookupCounts {
        LookupCounts {
            in_flight: self.in_flight.load(Ordering::SeqCst),
            peak: self.peak.load(Ordering::SeqCst),
            begun: self.begun.load(Ordering::SeqCst),
        }
    }

    /// Starts counting the peak and the look-ups begun afresh.
    pub(super) fn reset(&self) {
        self.peak
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
        self.begun.store(0, Ordering::SeqCst);
    }
}

/// The rogue's user look-ups, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupCounts {
    /// In flight now: held, or being answered.
    pub in_flight: usize,
    /// The most in flight at once since the rogue started or [`reset`](super::RoguePeer::reset_lookup_counts).
    pub peak: usize,
    /// Begun since then.
    pub begun: usize,
}
