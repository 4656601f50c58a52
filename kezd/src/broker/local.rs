//! The in-process broker: per recipient with live subscribers, the queues of those
//! subscribers, created on first subscribe and removed with the last one.
//!
//! Why a queue per subscriber rather than one `tokio::sync::broadcast` channel per recipient:
//! a broadcast channel allocates all its slots up front (256 of them: 14.6 KiB measured per
//! recipient) for as long as anyone listens, and almost every live stream is its recipient's
//! only one, and idle. A queue here is empty until a notification arrives and
//! gives its memory back once drained, so an idle subscriber costs its few words of state; a
//! notification is one `Arc` clone per subscriber, as in a broadcast channel.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;

use super::{Broker, Event, Published, Subscription};

/// How many notifications a subscriber may fall behind before it is told it lagged (and
/// catches up from the store). Large enough that a burst rarely costs a store read.
const QUEUE_CAPACITY: usize = 256;

/// A drained queue keeps at most this many slots allocated: a stream that gets a message now
/// and then does not allocate for each, and one that caught up after a burst gives the rest
/// back.
const KEPT_SLOTS: usize = 4;

type Channels = Arc<Mutex<HashMap<String, Vec<Arc<Queue>>>>>;

/// Per-recipient subscriber queues inside this process.
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

/// Locks a mutex whose data stays consistent even if a holder panicked: every critical
/// section here is a single insert, push, pop or remove.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One subscriber's notifications not yet taken.
#[derive(Debug, Default)]
struct Queue(Mutex<Pending>);

#[derive(Debug, Default)]
struct Pending {
    /// In publish order; never longer than [`QUEUE_CAPACITY`].
    events: VecDeque<Published>,
    /// Notifications were dropped since the subscriber last looked.
    lagged: bool,
    /// The subscriber's task, while it waits for a notification.
    waker: Option<Waker>,
}

impl Queue {
    /// Queues `message`; the waker to wake, if the subscriber waits. A full queue is dropped
    /// whole and the subscriber told it lagged: it reads the store, which holds every message
    /// published so far (published only after commit), this one included.
    fn push(&self, message: Published) -> Option<Waker> {
        let mut pending = lock(&self.0);
        if pending.events.len() >= QUEUE_CAPACITY {
            pending.events = VecDeque::new();
            pending.lagged = true;
        } else {
            pending.events.push_back(message);
        }
        pending.waker.take()
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Event> {
        let mut pending = lock(&self.0);
        if pending.lagged {
            pending.lagged = false;
            return Poll::Ready(Event::Lagged);
        }
        if let Some(message) = pending.events.pop_front() {
            if pending.events.is_empty() && pending.events.capacity() > KEPT_SLOTS {
                pending.events = VecDeque::new();
            }
            return Poll::Ready(Event::Message(message));
        }
        match &mut pending.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, handle: &str, message: Published) {
        let wakers: Vec<Waker> = match lock(&self.channels).get(handle) {
            Some(queues) => queues
                .iter()
                .filter_map(|queue| queue.push(message.clone()))
                .collect(),
            None => return,
        };
        // Woken outside the locks: the subscribers' tasks may run at once on other threads.
        for waker in wakers {
            waker.wake();
        }
    }

    async fn subscribe(&self, handle: &str) -> Box<dyn Subscription> {
        let queue = Arc::new(Queue::default());
        lock(&self.channels)
            .entry(handle.to_owned())
            .or_default()
            .push(Arc::clone(&queue));
        Box::new(LocalSubscription {
            queue,
            handle: handle.to_owned(),
            channels: self.channels.clone(),
        })
    }
}

struct LocalSubscription {
    queue: Arc<Queue>,
    handle: String,
    channels: Channels,
}

#[async_trait]
impl Subscription for LocalSubscription {
    async fn next(&mut self) -> Option<Event> {
        // The broker lives as long as any subscription: the local fanout never closes.
        Some(poll_fn(|cx| self.queue.poll_next(cx)).await)
    }
}

impl Drop for LocalSubscription {
    fn drop(&mut self) {
        let mut channels = lock(&self.channels);
        let Some(queues) = channels.get_mut(&self.handle) else {
            return;
        };
        queues.retain(|queue| !Arc::ptr_eq(queue, &self.queue));
        if queues.is_empty() {
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
        drop(a1);
        broker.publish("alice", msg(3)).await;
        assert_eq!(a2.next().await, Some(Event::Message(msg(3))));
        drop(a2);
        assert_eq!(broker.active_recipients(), 1);
        drop(b);
        assert_eq!(broker.active_recipients(), 0);
    }

    #[tokio::test]
    async fn a_waiting_subscriber_is_woken() {
        let broker = LocalBroker::new();
        let mut alice = broker.subscribe("alice").await;
        let waiting = tokio::spawn(async move { alice.next().await });
        // The subscriber may or may not be waiting yet: either way the message reaches it.
        tokio::task::yield_now().await;
        broker.publish("alice", msg(1)).await;
        assert_eq!(
            waiting.await.expect("the subscriber task"),
            Some(Event::Message(msg(1)))
        );
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged_then_follows_again() {
        let broker = LocalBroker::new();
        let mut slow = broker.subscribe("alice").await;
        let mut fast = broker.subscribe("alice").await;
        // One more than the queue holds: the whole queue is dropped.
        let last = QUEUE_CAPACITY as u64 + 1;
        for seq in 1..=last {
            broker.publish("alice", msg(seq)).await;
            assert_eq!(fast.next().await, Some(Event::Message(msg(seq))));
        }
        assert_eq!(slow.next().await, Some(Event::Lagged));
        // What overflowed is gone (the store has it); the queue is in use again.
        broker.publish("alice", msg(last + 1)).await;
        assert_eq!(slow.next().await, Some(Event::Message(msg(last + 1))));
    }

    #[test]
    fn a_drained_queue_gives_its_slots_back() {
        let queue = Queue::default();
        for seq in 1..=100 {
            assert!(queue.push(msg(seq)).is_none());
        }
        let mut cx = Context::from_waker(Waker::noop());
        for seq in 1..=100 {
            assert_eq!(
                queue.poll_next(&mut cx),
                Poll::Ready(Event::Message(msg(seq)))
            );
        }
        assert_eq!(lock(&queue.0).events.capacity(), 0);
        assert_eq!(queue.poll_next(&mut cx), Poll::Pending);
    }
}
