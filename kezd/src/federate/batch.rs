//! Choosing what each transaction carries (SPEC §9.5): a destination's pending messages are
//! read once, in acceptance order, and handed out to a few lanes, each sender always to the
//! same lane. A lane sends one transaction at a time, so each sender's messages leave in order
//! while the lanes' transactions are in flight together; a sender whose earliest message is
//! not due (or was just deferred) waits, with every later message of its own; what has
//! outlived the retry window expires.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::store::{Delivery, OutboxItem};

/// A transaction's worth of messages, and the messages that expired on the way.
#[derive(Debug, Default)]
pub struct Batch {
    /// To send, in order.
    pub items: Vec<OutboxItem>,
    /// Past the retry window: fail them with their last error.
    pub expired: Vec<(String, Delivery)>,
}

/// What a transaction may carry at most.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Messages.
    pub max: usize,
    /// Envelope text, in bytes (a single larger envelope still goes alone).
    pub max_bytes: usize,
    /// Messages accepted before `now_ms − window_ms` expire.
    pub window_ms: i64,
}

/// The messages of one destination read so far and not yet handed out.
#[derive(Debug)]
pub struct Queue {
    /// In acceptance order.
    rows: VecDeque<OutboxItem>,
    /// How many lanes share the destination.
    lanes: usize,
    /// Senders whose remaining messages wait for a later pass: a message of theirs is not
    /// due, was deferred, or was not recorded.
    held: HashSet<String>,
    /// The position of the last row read.
    cursor: i64,
}

impl Queue {
    /// An empty queue for `lanes` lanes (at least 1).
    pub fn new(lanes: usize) -> Self {
        Self {
            rows: VecDeque::new(),
            lanes: lanes.max(1),
            held: HashSet::new(),
            cursor: 0,
        }
    }

    /// Rows held in memory.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// The position after which the next read continues.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Appends rows read after [`Queue::cursor`], in acceptance order.
    pub fn extend(&mut self, rows: Vec<OutboxItem>) {
        if let Some(last) = rows.last() {
            self.cursor = self.cursor.max(last.position);
        }
        self.rows.extend(rows);
    }

    /// Holds `sender`'s remaining messages until the next pass.
    pub fn hold(&mut self, sender: &str) {
        self.held.insert(sender.to_owned());
    }

    /// Which lane carries `sender`'s messages.
    pub fn lane_of(&self, sender: &str) -> usize {
        let mut hasher = DefaultHasher::new();
        sender.hash(&mut hasher);
        (hasher.finish() % self.lanes as u64) as usize
    }

    /// Moves into `batch` the next messages of `lane`'s senders at `now_ms`, in acceptance
    /// order, until `limits` are reached; the rest stay queued.
    pub fn take(&mut self, lane: usize, now_ms: i64, limits: Limits, batch: &mut Batch) {
        let mut bytes: usize = batch.items.iter().map(|i| i.envelope_json.len()).sum();
        let mut kept = VecDeque::with_capacity(self.rows.len());
        let mut rows = std::mem::take(&mut self.rows).into_iter();
        for item in rows.by_ref() {
            if self.held.contains(&item.sender) {
                continue;
            }
            if self.lane_of(&item.sender) != lane {
                kept.push_back(item);
                continue;
            }
            if now_ms.saturating_sub(item.accepted_at_ms) > limits.window_ms {
                batch.expired.push((
                    item.id,
                    Delivery::Failed {
                        code: "unavailable".into(),
                    },
                ));
                continue;
            }
            if item.next_attempt_at_ms > now_ms {
                // Not due: this sender's later messages wait behind it.
                self.held.insert(item.sender);
                continue;
            }
            let full = batch.items.len() == limits.max
                || (bytes + item.envelope_json.len() > limits.max_bytes && !batch.items.is_empty());
            if full {
                kept.push_back(item);
                break;
            }
            bytes += item.envelope_json.len();
            batch.items.push(item);
        }
        kept.extend(rows);
        self.rows = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(position: i64, sender: &str, next: i64) -> OutboxItem {
        OutboxItem {
            position,
            id: position.to_string(),
            sender: sender.into(),
            envelope_json: "{}".into(),
            accepted_at_ms: 0,
            attempts: 0,
            next_attempt_at_ms: next,
        }
    }

    const ROOMY: Limits = Limits {
        max: 10,
        max_bytes: 1 << 20,
        window_ms: 1_000_000,
    };

    fn ids(batch: &Batch) -> Vec<i64> {
        batch.items.iter().map(|i| i.position).collect()
    }

    /// SPEC §9.5: a sender whose first message is not due is held back entirely.
    #[test]
    fn holds_senders_behind_their_earliest_message() {
        let mut queue = Queue::new(1);
        queue.extend(vec![
            item(1, "alice", 0),
            item(2, "bob", 500),
            item(3, "bob", 0),
            item(4, "alice", 0),
            item(5, "carol", 0),
        ]);
        let mut batch = Batch::default();
        queue.take(0, 100, ROOMY, &mut batch);
        assert_eq!(ids(&batch), [1, 4, 5]);
        assert_eq!(
            queue.len(),
            0,
            "bob's later message is not kept for this pass"
        );
        assert_eq!(queue.cursor(), 5);
    }

    /// Each sender's messages go to one lane only, in order; a lane's transaction that is
    /// full leaves the rest queued for the next, and other lanes' rows are untouched.
    #[test]
    fn lanes_partition_senders_and_keep_order() {
        let senders = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut queue = Queue::new(3);
        queue.extend(
            (0..48)
                .map(|i| item(i + 1, senders[i as usize % senders.len()], 0))
                .collect(),
        );
        let limits = Limits { max: 4, ..ROOMY };
        let mut taken: Vec<Vec<OutboxItem>> = vec![Vec::new(); 3];
        loop {
            let mut progressed = false;
            for (lane, taken) in taken.iter_mut().enumerate() {
                let mut batch = Batch::default();
                queue.take(lane, 0, limits, &mut batch);
                assert!(batch.items.len() <= 4);
                progressed |= !batch.items.is_empty();
                taken.extend(batch.items);
            }
            if !progressed {
                break;
            }
        }
        assert_eq!(queue.len(), 0);
        let mut lanes_used = HashSet::new();
        for (lane, items) in taken.iter().enumerate() {
            for sender in senders {
                let positions: Vec<i64> = items
                    .iter()
                    .filter(|i| i.sender == sender)
                    .map(|i| i.position)
                    .collect();
                if positions.is_empty() {
                    continue;
                }
                assert_eq!(queue.lane_of(sender), lane);
                assert_eq!(positions.len(), 6, "{sender}: every message, once");
                assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
                lanes_used.insert(lane);
            }
        }
        assert!(lanes_used.len() > 1, "senders spread over lanes");
    }

    #[test]
    fn expires_caps_and_holds_on_request() {
        let mut old = item(1, "alice", 0);
        old.accepted_at_ms = -10_000;
        let mut queue = Queue::new(1);
        queue.extend(vec![
            old,
            item(2, "bob", 0),
            item(3, "bob", 0),
            item(4, "bob", 0),
        ]);
        let limits = Limits {
            max: 2,
            window_ms: 5_000,
            ..ROOMY
        };
        let mut batch = Batch::default();
        queue.take(0, 100, limits, &mut batch);
        assert_eq!(batch.expired.len(), 1);
        assert_eq!(ids(&batch), [2, 3]);
        assert_eq!(queue.len(), 1);
        // A deferred sender's remaining messages are dropped from the pass.
        queue.hold("bob");
        let mut next = Batch::default();
        queue.take(0, 100, limits, &mut next);
        assert!(next.items.is_empty());
        assert_eq!(queue.len(), 0);
    }

    /// A transaction never passes its byte cap, except one envelope larger than it alone.
    #[test]
    fn bytes_cap_a_transaction() {
        let mut queue = Queue::new(1);
        let mut big = item(1, "alice", 0);
        big.envelope_json = "x".repeat(100);
        queue.extend(vec![big, item(2, "alice", 0)]);
        let limits = Limits {
            max_bytes: 50,
            ..ROOMY
        };
        let mut batch = Batch::default();
        queue.take(0, 0, limits, &mut batch);
        assert_eq!(ids(&batch), [1]);
        let mut next = Batch::default();
        queue.take(0, 0, limits, &mut next);
        assert_eq!(ids(&next), [2]);
    }
}
