//! Notifications that arrive ahead of their turn, held a moment for the ones before them.
//!
//! Why: the store answers a group of senders to one inbox in seq order, but each sender's
//! task publishes after it wakes, in whatever order the runtime runs them: with dozens of
//! concurrent senders, seq n+1 is often announced microseconds before n. Taken for a lost
//! notification, every such inversion sent the stream to read the store for messages that
//! were already on their way (a read per inversion, on the busiest inboxes). Held here, the
//! early ones go out as soon as the gap fills. A gap that outlasts [`WAIT`] — a notification
//! really lost: its sender's connection closed between commit and publish, a NATS publish
//! failed — or one that would hold more than [`MAX_HELD`] messages is still read from the
//! store, which has everything committed.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Sleep;

use crate::broker::Published;

/// How long a gap is waited for before the store is read. Far above the microseconds an
/// inversion lasts, far below the keep-alive period that bounds a lost last notification.
pub(super) const WAIT: Duration = Duration::from_millis(25);

/// The most messages held; a stream this far behind reads the store instead.
pub(super) const MAX_HELD: usize = 256;

/// The held messages of one stream, by seq.
#[derive(Default)]
pub(super) struct Reorder {
    held: BTreeMap<u64, Published>,
    /// Set while anything is held: when the gap has waited long enough.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl Reorder {
    /// Holds `message`, which came before its predecessors; false when the stream already
    /// holds [`MAX_HELD`] (the message is dropped: the store read that follows covers it).
    pub(super) fn hold(&mut self, message: Published) -> bool {
        if self.held.len() >= MAX_HELD {
            return false;
        }
        self.held.insert(message.seq, message);
        if self.deadline.is_none() {
            self.deadline = Some(Box::pin(tokio::time::sleep(WAIT)));
        }
        true
    }

    /// The held message right after `last`, if it is here; drops what `last` already covers.
    pub(super) fn next_after(&mut self, last: u64) -> Option<Published> {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() > last {
                break;
            }
            entry.remove();
        }
        let next = self
            .held
            .first_entry()
            .filter(|entry| *entry.key() == last + 1)
            .map(std::collections::btree_map::OccupiedEntry::remove);
        if self.held.is_empty() {
            self.deadline = None;
        }
        next
    }

    /// Forgets everything held (the stream is about to read the store past it).
    pub(super) fn clear(&mut self) {
        self.held.clear();
        self.deadline = None;
    }

    /// Resolves once a gap has waited [`WAIT`]; never while nothing is held.
    pub(super) async fn expired(&mut self) {
        match self.deadline.as_mut() {
            Some(deadline) => deadline.await,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
// Holding arms a timer, so every test runs inside a runtime, as a stream does.
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    fn message(seq: u64) -> Published {
        Published {
            seq,
            data: Arc::from(format!("m{seq}")),
        }
    }

    #[tokio::test]
    async fn held_messages_come_out_in_seq_order_once_the_gap_fills() {
        let mut reorder = Reorder::default();
        assert!(reorder.hold(message(4)));
        assert!(reorder.hold(message(3)));
        // 2 has not arrived: nothing follows 1 yet.
        assert!(reorder.next_after(1).is_none());
        let order: Vec<u64> = [2, 3]
            .into_iter()
            .map(|last| reorder.next_after(last).map(|m| m.seq))
            .collect::<Option<_>>()
            .unwrap_or_default();
        assert_eq!(order, [3, 4]);
        assert!(reorder.next_after(4).is_none());
        assert!(
            reorder.deadline.is_none(),
            "nothing held, nothing to wait for"
        );
    }

    #[tokio::test]
    async fn what_last_covers_is_dropped_not_sent_again() {
        let mut reorder = Reorder::default();
        assert!(reorder.hold(message(3)));
        assert!(reorder.hold(message(6)));
        // A store read moved the stream to 5: 3 is stale, 6 is next.
        assert_eq!(reorder.next_after(5).map(|m| m.seq), Some(6));
        assert!(reorder.held.is_empty());
    }

    #[tokio::test]
    async fn a_full_reorder_refuses_and_clear_forgets() {
        let mut reorder = Reorder::default();
        for seq in 0..MAX_HELD as u64 {
            assert!(reorder.hold(message(10 + seq)));
        }
        assert!(!reorder.hold(message(5)));
        reorder.clear();
        assert!(reorder.held.is_empty() && reorder.deadline.is_none());
        assert!(reorder.hold(message(5)));
    }

    #[tokio::test]
    async fn a_gap_expires_after_the_wait_and_not_before() {
        let mut reorder = Reorder::default();
        let idle = tokio::time::timeout(WAIT * 2, reorder.expired()).await;
        assert!(idle.is_err(), "nothing held must never expire");
        let started = Instant::now();
        assert!(reorder.hold(message(9)));
        reorder.expired().await;
        assert!(started.elapsed() >= WAIT);
    }
}
