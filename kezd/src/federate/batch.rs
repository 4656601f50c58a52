//! Choosing what one transaction carries (SPEC §9.5): pending messages in acceptance order,
//! skipping every sender whose earliest pending message is not yet due (its later messages
//! wait behind it), and expiring what has outlived the retry window.

use std::collections::HashSet;

use crate::store::{Delivery, OutboxItem};

/// A transaction's worth of messages, and the messages that expired on the way.
#[derive(Debug, Default)]
pub struct Batch {
    /// To send, in order.
    pub items: Vec<OutboxItem>,
    /// Past the retry window: fail them with their last error.
    pub expired: Vec<(String, Delivery)>,
}

/// Picks up to `max` messages from `pending` (acceptance order) at `now_ms`, expiring those
/// accepted before `now_ms − window_ms`, within `max_bytes` of envelope text.
pub fn select(
    pending: Vec<OutboxItem>,
    now_ms: i64,
    window_ms: i64,
    max: usize,
    max_bytes: usize,
) -> Batch {
    let mut held: HashSet<String> = HashSet::new();
    let mut batch = Batch::default();
    let mut bytes = 0;
    for item in pending {
        if held.contains(&item.sender) {
            continue;
        }
        if now_ms.saturating_sub(item.accepted_at_ms) > window_ms {
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
            held.insert(item.sender);
            continue;
        }
        if batch.items.len() == max
            || (bytes + item.envelope_json.len() > max_bytes && !batch.items.is_empty())
        {
            break;
        }
        bytes += item.envelope_json.len();
        batch.items.push(item);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, sender: &str, next: i64) -> OutboxItem {
        OutboxItem {
            id: id.into(),
            sender: sender.into(),
            envelope_json: "{}".into(),
            accepted_at_ms: 0,
            attempts: 0,
            next_attempt_at_ms: next,
        }
    }

    /// SPEC §9.5: a sender whose first message is not due is held back entirely.
    #[test]
    fn holds_senders_behind_their_earliest_message() {
        let pending = vec![
            item("1", "alice", 0),
            item("2", "bob", 500),
            item("3", "bob", 0),
            item("4", "alice", 0),
            item("5", "carol", 0),
        ];
        let batch = select(pending, 100, 1_000_000, 10, 1 << 20);
        let ids: Vec<&str> = batch.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["1", "4", "5"]);
    }

    #[test]
    fn expires_and_caps() {
        let mut old = item("old", "alice", 0);
        old.accepted_at_ms = -10_000;
        let pending = vec![
            old,
            item("a", "bob", 0),
            item("b", "bob", 0),
            item("c", "bob", 0),
        ];
        let batch = select(pending, 100, 5_000, 2, 1 << 20);
        assert_eq!(batch.expired.len(), 1);
        assert_eq!(batch.items.len(), 2);
    }
}
