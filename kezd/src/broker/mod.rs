//! Live fanout of newly stored messages to the streams open for a recipient (SPEC §8.5), behind
//! one trait so the in-process broker (one machine) and a NATS broker (a cluster, subject
//! `kez.chat.inbox.<handle>`) are interchangeable and streams cannot tell them apart.
//!
//! The broker is a fast path, never the source of truth: messages are published only after
//! they are committed, and a subscriber that sees a gap in sequence numbers, or is told it
//! lagged, reads what it missed from the store. So a lost or reordered notification delays a
//! message by one store read; it never loses it.

mod local;
mod nats;
mod notices;

pub use local::LocalBroker;
pub use nats::{NatsBroker, NatsError, PUBLISH_WAIT};
pub use notices::Notice;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use kez_spec::api::inbox::{ITEM_OVERHEAD, InboxItem};
use tokio::sync::broadcast;

use crate::store::StoredMessage;

/// A committed message as streams need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The recipient's inbox sequence number.
    pub seq: u64,
    /// The SSE `data:` JSON of this message, rendered once for every subscriber.
    pub data: Arc<str>,
}

impl Published {
    /// Renders a stored message for publishing.
    pub fn new(message: &StoredMessage) -> Result<Self, serde_json::Error> {
        let mut data = Vec::with_capacity(ITEM_OVERHEAD + message.envelope_json.len());
        push_inbox_item(&mut data, message)?;
        // serde_json writes UTF-8 only.
        let data = String::from_utf8(data).map_err(serde::ser::Error::custom)?;
        Ok(Published {
            seq: message.seq,
            data: data.into(),
        })
    }
}

/// Appends one message as a poll page item and as an SSE `data:` line (SPEC §8.2, §8.5): the
/// same JSON in both places (kez-spec's [`InboxItem`]), with the stored canonical envelope
/// embedded as is, not re-serialised.
pub fn push_inbox_item(
    out: &mut Vec<u8>,
    message: &StoredMessage,
) -> Result<(), serde_json::Error> {
    // The store holds only envelopes this server verified and canonicalised (SPEC §6.5).
    InboxItem::write_verified(
        out,
        message.seq,
        &message.id,
        received_at(message),
        &message.envelope_json,
    )
}

/// When the message was stored, as the item carries it.
pub fn received_at(message: &StoredMessage) -> u64 {
    u64::try_from(message.received_at_ms).unwrap_or(0)
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message committed for this recipient.
    Message(Published),
    /// Notifications were dropped because this subscriber fell behind: read the store.
    Lagged,
}

/// A live subscription to one recipient's messages. Dropping it unsubscribes.
#[async_trait]
pub trait Subscription: Send {
    /// The next event; `None` when the broker has shut down.
    async fn next(&mut self) -> Option<Event>;
}

/// Per-recipient publish/subscribe.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Announces a committed message to `handle`'s subscribers. Never blocks on slow
    /// subscribers and never fails the send: the message is already durable.
    async fn publish(&self, handle: &str, message: Published);
    /// Subscribes to `handle`'s messages from now on.
    async fn subscribe(&self, handle: &str) -> Box<dyn Subscription>;
    /// Whether other instances' messages reach this instance's streams now
    /// (`kezd_broker_connected`). While not, streams still get every message: this
    /// instance's own at once, the others' from the store at the next keep-alive.
    fn connected(&self) -> bool {
        // In-process fanout has no link to lose.
        true
    }
    /// Tells the other instances of a cluster about a change (kezd/src/changes.rs), best
    /// effort: a notice lost in an outage is made up for by [`Notice::Missed`]. The in-process
    /// broker has no other instance to tell.
    async fn announce(&self, _change: Bytes) {}
    /// What the other instances announce from now on; `None` when there are none (the
    /// in-process broker).
    fn notices(&self) -> Option<broadcast::Receiver<Notice>> {
        None
    }
    /// What this instance sent to and received from the other instances so far; `None` for
    /// the in-process broker, which sends nothing anywhere.
    fn traffic(&self) -> Option<Traffic> {
        None
    }
}

/// A cluster broker's traffic since the start, counted by its client (`/metrics`): what each
/// message costs in broker messages and bytes, so an operator can size the broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Messages published (announcements of messages and changes, and the subscription's
    /// confirmations).
    pub messages_sent: u64,
    /// Messages received from the other instances.
    pub messages_received: u64,
    /// Payload bytes published (without the protocol's framing).
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
}
