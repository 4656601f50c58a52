//! The in-process broker: one `tokio::sync::broadcast` channel per recipient with live
//! subscribers, created on first subscribe and removed with the last one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{Broker, Event, Published, Subscription};

/// How many notifications a subscriber may fall behind before it is told it lagged (and
/// catches up from the store). Large enough that a burst rarely costs a store read.
const CHANNEL_CAPACITY: usize = 256;

type Channels = Arc<Mutex<HashMap<String, broadcast::Sender<Published>>>>;

/// Per-recipient channels inside this process.
#[derive(Debug, Default, Clone)]
pub struct LocalBroker {
    /// Only recipients with at least one subscriber have an entry, so memory follows the
    /// number of open streams, not the number of users.
    channels: Channels,
}

impl LocalBroker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many recipients currently have subscribers (for tests and metrics).
    pub fn active_recipients(&self) -> usize {
        lock(&self.channels).len()
    }
}

fn lock(
    channels: &Mutex<HashMap<String, broadcast::Sender<Published>>>,
) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Published>>> {
    // The map stays consistent even if a holder panicked: every critical section is a single
    // insert, get or remove.
    channels.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, handle: &str, message: Published) {
        if let Some(tx) = lock(&self.channels).get(handle) {
            // An error only means every receiver just left: nobody to notify.
            let _ = tx.send(message);
        }
    }

    async fn subscribe(&self, handle: &str) -> Box<dyn Subscription> {
        let rx = lock(&self.channels)
            .entry(handle.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe();
        Box::new(LocalSubscription {
            rx,
            handle: handle.to_owned(),
            channels: self.channels.clone(),
        })
    }
}

struct LocalSubscription {
    rx: broadcast::Receiver<Published>,
    handle: String,
    channels: Channels,
}

#[async_trait]
impl Subscription for LocalSubscription {
    async fn next(&mut self) -> Option<Event> {
        match self.rx.recv().await {
            Ok(message) => Some(Event::Message(message)),
            Err(RecvError::Lagged(_)) => Some(Event::Lagged),
            Err(RecvError::Closed) => None,
        }
    }
}

impl Drop for LocalSubscription {
    fn drop(&mut self) {
        let mut channels = lock(&self.channels);
        // This receiver still counts until it is dropped after this body, hence `<= 1`.
        if channels
            .get(&self.handle)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            channels.remove(&self.handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64) -> Published {
        Published {
            seq,
            data: format!("{{\"seq\":{seq}}}").into(),
        }
    }

    #[tokio::test]
    async fn fanout_isolation_and_cleanup() {
        let broker = LocalBroker::new();
        let mut a1 = broker.subscribe("alice").await;
        let mut a2 = broker.subscribe("alice").await;
        let mut b = broker.subscribe("bob").await;
        broker.publish("alice", msg(1)).await;
        broker.publish("carol", msg(9)).await; // nobody listens: a no-op
        assert_eq!(a1.next().await, Some(Event::Message(msg(1))));
        assert_eq!(a2.next().await, Some(Event::Message(msg(1))));
        broker.publish("bob", msg(2)).await;
        assert_eq!(b.next().await, Some(Event::Message(msg(2))));
        drop((a1, a2));
        assert_eq!(broker.active_recipients(), 1);
        drop(b);
        assert_eq!(broker.active_recipients(), 0);
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged() {
        let broker = LocalBroker::new();
        let mut slow = broker.subscribe("alice").await;
        for seq in 1..=(CHANNEL_CAPACITY as u64 + 10) {
            broker.publish("alice", msg(seq)).await;
        }
        assert_eq!(slow.next().await, Some(Event::Lagged));
    }
}
