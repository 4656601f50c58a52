//! Cluster notices: what the other instances of a cluster announce about changes they made
//! (kezd/src/changes.rs says what a change is; the broker only carries its bytes). Over NATS
//! they travel on subject `<prefix>.changes`; an in-process broker has no other instance, so
//! it has none.
//!
//! Like messages, a notice can be lost while the link to NATS is down. A receiver is then
//! told [`Notice::Missed`] — after every reconnect and when it fell behind — and re-reads
//! everything it caches, so a lost notice delays a change, never loses it.

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};

/// Notices a receiver may fall behind by before it is told it missed some.
pub(super) const CAPACITY: usize = 64;

/// What a receiver of cluster notices gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Another instance announced this change.
    Announced(Bytes),
    /// Notices may have been lost: re-read whatever is cached.
    Missed,
}

/// Hands what arrives on the notices subscription to `notices`, and [`Notice::Missed`] each
/// time `epoch` moves (a reconnect, dropped deliveries), until the subscription ends.
pub(super) async fn relay(
    mut subscriber: async_nats::Subscriber,
    mut epoch: watch::Receiver<u64>,
    notices: broadcast::Sender<Notice>,
) {
    loop {
        // An error only means nobody listens now; nothing to keep for later.
        tokio::select! {
            changed = epoch.changed() => match changed {
                Ok(()) => drop(notices.send(Notice::Missed)),
                Err(_) => return,
            },
            message = subscriber.next() => match message {
                Some(message) => drop(notices.send(Notice::Announced(message.payload))),
                None => return,
            },
        }
    }
}
