//! Choosing what one transaction carries (SPEC §9.5): pending messages in acceptance order,
//! skipping every sender whose earliest pending message is not yet due (its later messages
//! wait behind it), and expiring what has outlived the retry window.

use std::collections::{HashMap, HashSet};

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

/// Splits a batch (acceptance order) into at most `count` transactions of at most `max`
/// messages, each sender's messages all in one transaction and in order (SPEC §9.5). A
/// sender's messages beyond what fits wait for the next round, with everything after them.
pub fn split_by_sender(items: Vec<OutboxItem>, count: usize, max: usize) -> Vec<Vec<OutboxItem>> {
    let mut transactions: Vec<Vec<OutboxItem>> = Vec::new();
    let mut home: HashMap<String, usize> = HashMap::new();
    let mut full: HashSet<String> = HashSet::new();
    for item in items {
        if full.contains(&item.sender) {
            continue;
        }
        let slot = match home.get(&item.sender) {
            Some(&slot) => slot,
            None => {
                // A new sender opens a transaction while fewer than `count` exist, else joins
                // the emptiest one with room.
                let slot = if transactions.len() < count {
                    transactions.push(Vec::new());
                    transactions.len() - 1
                } else {
                    let roomiest = transactions
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| t.len() < max)
                        .min_by_key(|(_, t)| t.len())
                        .map(|(i, _)| i);
                    match roomiest {
                        Some(i) => i,
                        None => {
                            full.insert(item.sender);
                            continue;
                        }
                    }
                };
                home.insert(item.sender.clone(), slot);
                slot
            }
        };
        if transactions[slot].len() == max {
            // This sender's next message must not overtake: hold the rest of its messages.
            full.insert(item.sender);
            continue;
        }
        transactions[slot].push(item);
    }
    transactions
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

    /// SPEC §9.5: every sender in exactly one transaction, its messages in order, none over
    /// the cap, and a sender cut off by the cap loses nothing but waits.
    #[test]
    fn splits_by_sender_keeping_order() {
        let senders = ["a", "b", "c", "d", "e", "a", "b", "a", "a", "a"];
        let items: Vec<OutboxItem> = senders
            .iter()
            .enumerate()
            .map(|(i, s)| item(&i.to_string(), s, 0))
            .collect();
        let txns = split_by_sender(items, 2, 3);
        assert_eq!(txns.len(), 2);
        let mut seen = HashSet::new();
        for txn in &txns {
            assert!(txn.len() <= 3);
            let ids: Vec<usize> = txn.iter().map(|i| i.id.parse().expect("id")).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
            for i in txn {
                seen.insert(i.sender.clone());
            }
        }
        for txn in &txns {
            for other in &txns {
                if !std::ptr::eq(txn, other) {
                    assert!(
                        txn.iter()
                            .all(|i| other.iter().all(|j| j.sender != i.sender))
                    );
                }
            }
        }
        // "a" is held after its first messages once its transaction is full; nothing later
        // of "a" is sent ahead of a held one.
        let a_ids: Vec<usize> = txns
            .iter()
            .flatten()
            .filter(|i| i.sender == "a")
            .map(|i| i.id.parse().expect("id"))
            .collect();
        let expected: Vec<usize> = [0, 5, 7, 8, 9].into_iter().take(a_ids.len()).collect();
        assert_eq!(a_ids, expected);
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
