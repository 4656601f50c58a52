//! Choosing what each transaction carries (SPEC §9.5): a destination's pending messages are
//! read once, in acceptance order, and handed out to a few lanes. A backlog is shared out by
//! sender, each sender to the same lane (by a hash of the sender), so that the lanes'
//! transactions, in flight together, carry different senders; a few messages go together in
//! one transaction whatever their lanes, unless a sender's lane is sending; while a lane's
//! transaction is stuck, its other senders' messages go with whichever lane is free. Either
//! way a sender's messages are in at most one transaction in flight at a time, so they leave
//! in order. A sender whose earliest message is not due (or was just deferred) waits, with
//! every later message of its own; what has outlived the retry window expires.

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

impl Batch {
    /// The senders whose messages it carries, each once.
    pub fn senders(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.items
            .iter()
            .filter(|i| seen.insert(i.sender.as_str()))
            .map(|i| i.sender.clone())
            .collect()
    }
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
    /// What each lane is doing.
    lanes: Vec<Lane>,
    /// Senders with messages in a transaction in flight: their next ones wait for its answer.
    sending: HashSet<String>,
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
            lanes: vec![Lane::Idle; lanes.max(1)],
            sending: HashSet::new(),
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

    /// Which lane carries `sender`'s messages of a backlog while that lane is not stuck.
    pub fn lane_of(&self, sender: &str) -> usize {
        let mut hasher = DefaultHasher::new();
        sender.hash(&mut hasher);
        (hasher.finish() % self.lanes.len() as u64) as usize
    }

    /// `lane`'s transaction in flight is stuck: until [`Queue::answered`], its other senders'
    /// messages may go with any lane.
    pub fn stuck(&mut self, lane: usize) {
        self.lanes[lane] = Lane::Stuck;
    }

    /// `lane`'s transaction, which carried `senders`, was answered: their next messages may go,
    /// and the lane carries its own senders again.
    pub fn answered(&mut self, lane: usize, senders: &[String]) {
        self.lanes[lane] = Lane::Idle;
        for sender in senders {
            self.sending.remove(sender);
        }
    }

    /// Holds `senders` until a later pass and drops their queued messages: a transaction of
    /// theirs is stuck, and while their messages fill the queue nobody else's are read. How
    /// many were dropped.
    pub fn shed(&mut self, senders: &[String]) -> usize {
        self.held.extend(senders.iter().cloned());
        let before = self.rows.len();
        let held = &self.held;
        self.rows.retain(|item| !held.contains(&item.sender));
        before - self.rows.len()
    }

    /// Moves into `batch` the next messages, in acceptance order, of `lane`'s senders, of stuck
    /// lanes' senders and, when only a few are queued, of idle lanes' senders, each with none
    /// in flight, until `limits` are reached; the rest stay queued. Their senders are then in
    /// flight until [`Queue::answered`].
    pub fn take(&mut self, lane: usize, now_ms: i64, limits: Limits, batch: &mut Batch) {
        let mut bytes: usize = batch.items.iter().map(|i| i.envelope_json.len()).sum();
        // A few messages go together whatever their lanes: one transaction instead of several
        // small ones, each a request, a signature and two commits. A backlog is shared out by
        // lane, so that the lanes carry it side by side.
        let few = self.rows.len() * self.lanes.len() <= limits.max;
        let mut kept = VecDeque::with_capacity(self.rows.len());
        let mut rows = std::mem::take(&mut self.rows).into_iter();
        for item in rows.by_ref() {
            if self.held.contains(&item.sender) {
                continue;
            }
            let owner = self.lane_of(&item.sender);
            let ours = owner == lane
                || match self.lanes[owner] {
                    Lane::Idle => few,
                    Lane::Sending => false,
                    Lane::Stuck => true,
                };
            if self.sending.contains(&item.sender) || !ours {
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
        if !batch.items.is_empty() {
            self.lanes[lane] = Lane::Sending;
        }
        self.sending.extend(batch.senders());
    }
}

/// What a lane is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Nothing in flight: a few of its senders' messages may go with another lane.
    Idle,
    /// A transaction in flight: its senders wait for it.
    Sending,
    /// Its transaction in flight is stuck: any lane may carry its other senders.
    Stuck,
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

    /// `n` senders whose messages `lane` carries.
    fn on(queue: &Queue, lane: usize, n: usize) -> Vec<String> {
        (0..100)
            .map(|n| format!("s{n}"))
            .filter(|s| queue.lane_of(s) == lane)
            .take(n)
            .collect()
    }

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

    /// A backlog is shared out by lane, each sender's messages with its own lane; a lane's
    /// transaction that is full leaves the rest queued for its next; every message goes once,
    /// each sender's in order.
    #[test]
    fn lanes_share_a_backlog_by_sender_and_keep_order() {
        let senders = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut queue = Queue::new(3);
        queue.extend(
            (0..48)
                .map(|i| item(i + 1, senders[i as usize % senders.len()], 0))
                .collect(),
        );
        let limits = Limits { max: 4, ..ROOMY };
        let mut sent: Vec<OutboxItem> = Vec::new();
        let mut lanes_used = HashSet::new();
        loop {
            // The three lanes' transactions are in flight together, then answered.
            let mut flights = Vec::new();
            for lane in 0..3 {
                let backlog = queue.len() * 3 > limits.max;
                let mut batch = Batch::default();
                queue.take(lane, 0, limits, &mut batch);
                assert!(batch.items.len() <= 4);
                if backlog {
                    for item in &batch.items {
                        assert_eq!(queue.lane_of(&item.sender), lane, "{}", item.position);
                        lanes_used.insert(lane);
                    }
                }
                flights.push(batch);
            }
            if flights.iter().all(|b| b.items.is_empty()) {
                break;
            }
            for (lane, batch) in flights.into_iter().enumerate() {
                queue.answered(lane, &batch.senders());
                sent.extend(batch.items);
            }
        }
        assert_eq!(queue.len(), 0);
        assert!(lanes_used.len() > 1, "senders spread over lanes");
        for sender in senders {
            let positions: Vec<i64> = sent
                .iter()
                .filter(|i| i.sender == sender)
                .map(|i| i.position)
                .collect();
            assert_eq!(positions.len(), 6, "{sender}: every message, once");
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        }
    }

    /// A few messages go in one transaction whatever their senders' lanes, except the senders
    /// of a lane that is sending, which wait for it.
    #[test]
    fn a_few_messages_go_together() {
        let mut queue = Queue::new(2);
        let (a, b) = (&on(&queue, 0, 1)[0], &on(&queue, 1, 1)[0]);
        queue.extend(vec![item(1, a, 0), item(2, b, 0)]);
        let mut both = Batch::default();
        queue.take(1, 0, ROOMY, &mut both);
        assert_eq!(
            ids(&both),
            [1, 2],
            "one transaction for both lanes' senders"
        );
        queue.extend(vec![item(3, b, 0), item(4, a, 0)]);
        let mut none = Batch::default();
        queue.take(0, 0, ROOMY, &mut none);
        assert!(
            none.items.is_empty(),
            "a is in flight, and b's lane is sending"
        );
        queue.answered(1, &both.senders());
        let mut next = Batch::default();
        queue.take(0, 0, ROOMY, &mut next);
        assert_eq!(ids(&next), [3, 4]);
    }

    /// While a lane is stuck, its senders not in the stuck transaction go with another lane,
    /// in order; its senders in it wait for the answer; once answered, the lane carries its
    /// own senders again, except one still in flight elsewhere.
    #[test]
    fn a_stuck_lanes_other_senders_go_with_a_free_lane() {
        let mut queue = Queue::new(2);
        let (zero, one) = (on(&queue, 0, 2), on(&queue, 1, 1));
        let (a, b, c) = (&zero[0], &zero[1], &one[0]);
        queue.extend(vec![
            item(1, a, 0),
            item(2, b, 0),
            item(3, a, 0),
            item(4, b, 0),
            item(5, c, 0),
            item(6, b, 0),
        ]);
        let one_each = Limits { max: 1, ..ROOMY };
        let mut stuck = Batch::default();
        queue.take(0, 0, one_each, &mut stuck);
        assert_eq!(ids(&stuck), [1]);
        let mut free = Batch::default();
        queue.take(1, 0, ROOMY, &mut free);
        assert_eq!(
            ids(&free),
            [5],
            "only its own senders while lane 0 is sending"
        );
        queue.answered(1, &free.senders());
        queue.stuck(0);
        let mut free = Batch::default();
        queue.take(1, 0, Limits { max: 2, ..ROOMY }, &mut free);
        assert_eq!(ids(&free), [2, 4], "b goes on; a waits for her answer");
        queue.answered(0, &stuck.senders());
        let mut back = Batch::default();
        queue.take(0, 0, ROOMY, &mut back);
        assert_eq!(ids(&back), [3], "b is still in flight on lane 1");
        queue.answered(1, &free.senders());
        let mut last = Batch::default();
        queue.take(0, 0, ROOMY, &mut last);
        assert_eq!(ids(&last), [6]);
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
        queue.answered(0, &batch.senders());
        queue.hold("bob");
        let mut next = Batch::default();
        queue.take(0, 100, limits, &mut next);
        assert!(next.items.is_empty());
        assert_eq!(queue.len(), 0);
    }

    /// Shed senders leave the queue for the pass, messages read later included; the other
    /// senders' messages stay, in order.
    #[test]
    fn shed_senders_wait_for_the_next_pass() {
        let mut queue = Queue::new(1);
        let senders = ["a", "b", "c", "d"];
        let rows = |from: i64| -> Vec<OutboxItem> {
            (from..from + 8)
                .map(|i| item(i, senders[i as usize % senders.len()], 0))
                .collect()
        };
        queue.extend(rows(1));
        let mut stuck = Batch::default();
        queue.take(0, 0, Limits { max: 1, ..ROOMY }, &mut stuck);
        assert_eq!(stuck.senders(), ["b"]);
        queue.stuck(0);
        assert_eq!(queue.shed(&stuck.senders()), 1, "b's queued message");
        queue.extend(rows(9));
        let mut next = Batch::default();
        queue.take(0, 0, ROOMY, &mut next);
        assert_eq!(ids(&next), [2, 3, 4, 6, 7, 8, 10, 11, 12, 14]);
        queue.answered(0, &stuck.senders());
        queue.answered(0, &next.senders());
        queue.extend(rows(17));
        let mut last = Batch::default();
        queue.take(0, 0, ROOMY, &mut last);
        assert_eq!(
            ids(&last),
            [15, 16, 18, 19, 20, 22, 23, 24],
            "b held after its answer"
        );
        assert_eq!(queue.cursor(), 24);
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
        queue.answered(0, &batch.senders());
        let mut next = Batch::default();
        queue.take(0, 0, limits, &mut next);
        assert_eq!(ids(&next), [2]);
    }
}
