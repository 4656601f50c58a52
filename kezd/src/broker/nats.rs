//! The cluster broker: committed messages are announced on NATS subject
//! `<prefix>.inbox.<handle>` (default prefix `kez.chat`, so the prototype's
//! `kez.chat.inbox.<handle>`) and reach the streams open on every kezd of the cluster.
//!
//! # Shape
//!
//! - **Publishing** hands the message to this instance's own streams directly (the in-process
//!   [`LocalBroker`]) and publishes it to NATS for the other instances. The connection is made
//!   with `no_echo`, so an instance never receives its own messages twice, and its own streams
//!   stay live even while NATS is down.
//! - **Receiving** is ONE wildcard subscription, `<prefix>.inbox.>`, per instance; a task
//!   reads it and hands each message to the local channel of its handle (the subject after
//!   `<prefix>.inbox.`, dots included: handles may contain `.`), dropping those for handles
//!   with no stream here. The subscription is confirmed by a round trip to the server (a
//!   request to `<prefix>.ping`, answered "no responders") before the broker is used and after
//!   every reconnect. Opening a stream is then a purely local operation, effective at once —
//!   no round trip before the stream reads the store, and no race in which a message published
//!   between "subscribe returned" and "the server registered the interest" is missed.
//!
//! - **Cluster notices** (kezd/src/changes.rs: a user or the policy changed) travel on
//!   `<prefix>.changes`, a second subscription confirmed by the same round trip; see
//!   [`super::notices`].
//!
//! # Why one wildcard subscription, not one per handle (measured)
//!
//! `cargo run --release -p kezd --example nats_fanout MODE 10000 200000`: its own nats-server
//! 2.9 on loopback, 2 cores, 10,000 subscribed handles each with a task reading its events,
//! 200,000 messages of 200 bytes spread over them, published from a second connection as
//! another kezd would; one process per mode, three to four runs each (2026-11-25):
//!
//! | | per-handle subscriptions | one wildcard + local channels |
//! | --- | --- | --- |
//! | delivered, msg/s | 392k–672k | 419k–717k |
//! | nats-server memory for the 10,000 | +8.1–10.5 MiB (≈ 0.85–1 KiB each) | +0.01–0.25 MiB |
//! | client memory per handle | 5.3 KiB (the subscription's queue) | 14.6 KiB (a 256-slot broadcast channel) |
//! | opening a stream | SUB plus a server round trip to be race-free: 94 µs each, serialised, on loopback | local, no round trip |
//! | after a reconnect | 10,000 SUBs re-sent | 1 SUB |
//! | messages for handles with no stream here | never received | filtered at 560k–700k msg/s |
//!
//! Both deliver two orders of magnitude more than an instance can accept (its store commits a
//! few thousand messages per second). The client-memory line is not the comparison it looks
//! like: kezd needs the local channel per handle in both designs — several streams of one
//! recipient share it, and it keeps this instance's own streams live through a NATS outage —
//! so per-handle subscriptions would cost their 5.3 KiB and about 1 KiB of server memory *on
//! top*. (The local channel measured here was a 256-slot broadcast channel; it is now a queue
//! per subscriber that holds nothing while idle, see [`LocalBroker`], which widens the gap.) What the wildcard costs instead is receiving every instance's traffic: at the measured
//! filtering rate, a cluster accepting 30,000 messages/s in total costs each instance about 5 %
//! of a core. A cluster that outgrows that can shard subjects (one prefix per group of
//! instances) without changing streams.
//!
//! # Outages degrade to catch-up from the store
//!
//! The store is the source of truth and NATS only a fast path (see [`super`]):
//! - NATS down at start does not stop the start: the instance serves (sends, polls, its own
//!   streams live through the in-process fanout), `kezd_broker_connected` is 0, and the
//!   client keeps connecting in the background. Until it connects, a stream gets the other
//!   instances' messages from the store at its keep-alive, which compares its cursor with the
//!   inbox's latest seq; once connected, every stream catches up as after a reconnect.
//! - A publish that fails, or waits longer than [`PUBLISH_WAIT`] because the client's queue is
//!   full during an outage, is logged and dropped; it never fails or blocks a send.
//! - When the connection comes back (after the wildcard subscription is re-registered with
//!   the server, confirmed by a round trip), and when the client reports that it dropped messages
//!   for a slow consumer, every subscription of this instance gets [`Event::Lagged`], and
//!   streams re-read the store from their cursor: what was committed meanwhile is sent then,
//!   in order, with no gap.
//! - Publishes made while disconnected are queued by the client and sent after reconnecting;
//!   one lost in a broken socket is covered by the other instances' `Lagged` when they see
//!   the same outage. What remains — an instance whose own link to NATS broke while the
//!   others stayed connected, losing a queued publish — delays that message on the other
//!   instances until the next message to the same recipient reveals the gap, or at most until
//!   the stream's next keep-alive, which compares its cursor with the store's latest seq
//!   (`handlers::stream`).

use std::time::Duration;

use async_nats::{ConnectOptions, Event as NatsEvent};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use super::notices::{self, Notice};
use super::{Broker, Event, LocalBroker, Published, Subscription, Traffic};

/// The longest a publish waits for room in the client's queue. Only reached during an outage
/// with thousands of publishes queued; the message is durable either way.
pub const PUBLISH_WAIT: Duration = Duration::from_millis(50);

/// The longest announcing a change waits for NATS to take it.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(2);

/// How often the client pings the server: a silently dead link is noticed within two of these.
const PING_INTERVAL: Duration = Duration::from_secs(10);

/// The longest a start waits for the first connection attempt's outcome. A refused
/// connection answers at once; this only bounds a server that accepts and then says nothing.
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(5);

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The client refused the URL (an unreachable server is survived, not reported).
    #[error("cannot connect to NATS at {url}")]
    Connect {
        /// The configured URL.
        url: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The wildcard subscription could not be made.
    #[error("cannot subscribe to {subject}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Why.
        #[source]
        source: async_nats::SubscribeError,
    },
    /// The server did not answer the round trip that confirms the subscription.
    #[error("NATS did not confirm the subscription")]
    Confirm(#[source] async_nats::RequestError),
}

/// Fanout through NATS; see the module doc.
#[derive(Debug)]
pub struct NatsBroker {
    client: async_nats::Client,
    /// `<prefix>.inbox.`, the subject of a handle without the handle.
    subject_base: String,
    /// This instance's streams.
    local: LocalBroker,
    /// Bumped on every reconnect or dropped delivery; each subscription holds a receiver and
    /// reports `Lagged` when it moves.
    epoch: watch::Receiver<u64>,
    /// Whether the connection is up now (`kezd_broker_connected`).
    connected: watch::Receiver<bool>,
    /// `<prefix>.changes`, where cluster notices are announced.
    notices_subject: String,
    /// The other instances' notices, relayed from the subscription.
    notices: broadcast::Sender<Notice>,
    /// The receiving and connection-watching tasks, stopped when the broker is dropped.
    tasks: Vec<JoinHandle<()>>,
}

impl NatsBroker {
    /// Connects to `url` (one or more comma-separated server URLs) and subscribes to
    /// `<prefix>.inbox.>`. Must be called inside a Tokio runtime.
    ///
    /// A NATS that cannot be reached now is no error: the broker serves this instance's own
    /// streams at once, reports [`Broker::connected`] false, logs one warning, and keeps
    /// connecting in the background; when it connects, every stream catches up from the store
    /// as after any reconnect. Only a URL the client cannot use at all is an error.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, NatsError> {
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let options = ConnectOptions::new()
            .name("kezd")
            .no_echo()
            .ping_interval(PING_INTERVAL)
            // Returns at once and connects in a task of its own, retrying for ever: a NATS
            // outage during a (rolling) restart must not keep an instance from serving.
            .retry_on_initial_connect()
            // Forwarded to our own task: the callback must not wait (on a flush, say) or it
            // would hold up the client's event delivery.
            .event_callback(move |event| {
                let _ = events_tx.send(event);
                async {}
            });
        let servers: Vec<&str> = url.split(',').map(str::trim).collect();
        let client = options
            .connect(servers)
            .await
            .map_err(|source| NatsError::Connect {
                url: url.to_owned(),
                source,
            })?;
        let subject_base = format!("{prefix}.inbox.");
        let wildcard = format!("{subject_base}>");
        // Queued until the connection is up, and re-sent by the client after every reconnect.
        let subscriber =
            client
                .subscribe(wildcard.clone())
                .await
                .map_err(|source| NatsError::Subscribe {
                    subject: wildcard,
                    source,
                })?;
        let notices_subject = format!("{prefix}.changes");
        let notice_subscriber =
            client
                .subscribe(notices_subject.clone())
                .await
                .map_err(|source| NatsError::Subscribe {
                    subject: notices_subject.clone(),
                    source,
                })?;
        let ping = format!("{prefix}.ping");
        let connected = first_attempt(&mut events_rx).await;
        if connected {
            // Interest registered with the server before the first stream can open.
            round_trip(&client, &ping).await?;
            tracing::info!(%url, %prefix, "nats broker connected");
        } else {
            tracing::warn!(
                %url,
                "NATS unreachable at start; serving without it and connecting in the background \
                 (streams get other instances' messages from the store meanwhile)"
            );
        }
        let local = LocalBroker::new();
        let (epoch_tx, epoch) = watch::channel(0);
        let (connected_tx, connected_rx) = watch::channel(connected);
        let receive = tokio::spawn(receive(subscriber, subject_base.clone(), local.clone()));
        let (notices, _) = broadcast::channel(notices::CAPACITY);
        let relay = tokio::spawn(notices::relay(
            notice_subscriber,
            epoch.clone(),
            notices.clone(),
        ));
        let watch = tokio::spawn(watch_connection(
            events_rx,
            client.clone(),
            ping,
            Signals {
                epoch: epoch_tx,
                connected: connected_tx,
            },
        ));
        Ok(Self {
            client,
            subject_base,
            local,
            epoch,
            connected: connected_rx,
            notices_subject,
            notices,
            tasks: vec![receive, watch, relay],
        })
    }
}

/// Whether the client's first attempt to connect succeeded: its first event is `Connected`,
/// or an error when every server refused. Bounded by [`FIRST_ATTEMPT_WAIT`] in case a server
/// accepts the TCP connection and then says nothing.
async fn first_attempt(events: &mut mpsc::UnboundedReceiver<NatsEvent>) -> bool {
    let first = async {
        while let Some(event) = events.recv().await {
            match event {
                NatsEvent::Connected => return true,
                NatsEvent::ClientError(_) | NatsEvent::Disconnected | NatsEvent::Closed => {
                    return false;
                }
                _ => {}
            }
        }
        false
    };
    tokio::time::timeout(FIRST_ATTEMPT_WAIT, first)
        .await
        .unwrap_or(false)
}

impl Drop for NatsBroker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The NATS payload of a message: its seq in decimal, a newline, then the SSE data JSON, so a
/// receiver gets the seq without parsing JSON.
fn encode(message: &Published) -> Bytes {
    Bytes::from(format!("{}\n{}", message.seq, message.data))
}

fn decode(payload: &[u8]) -> Option<Published> {
    let text = std::str::from_utf8(payload).ok()?;
    let (seq, data) = text.split_once('\n')?;
    Some(Published {
        seq: seq.parse().ok()?,
        data: data.into(),
    })
}

/// Whether `handle` makes a literal subject: handles are validated long before they get
/// here, so this only guards against publishing to a wildcard by mistake.
fn literal_token_path(handle: &str) -> bool {
    !handle.is_empty()
        && handle.split('.').all(|t| !t.is_empty())
        && !handle
            .bytes()
            .any(|b| b == b'*' || b == b'>' || b.is_ascii_whitespace() || b.is_ascii_control())
}

/// Reads the wildcard subscription and hands each message to its handle's local streams.
async fn receive(mut subscriber: async_nats::Subscriber, subject_base: String, local: LocalBroker) {
    while let Some(message) = subscriber.next().await {
        let Some(handle) = message.subject.as_str().strip_prefix(subject_base.as_str()) else {
            continue;
        };
        match decode(&message.payload) {
            Some(published) => local.publish(handle, published).await,
            None => tracing::warn!(subject = %message.subject, "undecodable broker message"),
        }
    }
    tracing::debug!("nats subscription ended");
}

/// Waits until the server has processed everything this connection sent before: a request
/// to `subject`, which nobody subscribes to, answered by the server's "no responders" status.
/// (`Client::flush` only writes the socket; it does not wait for the server.) The server
/// handles one connection's commands in order, so after this a SUB sent earlier is in force.
async fn round_trip(client: &async_nats::Client, subject: &str) -> Result<(), NatsError> {
    match client.request(subject.to_owned(), Bytes::new()).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(NatsError::Confirm(e)),
    }
}

/// What the connection watcher tells the rest of the broker.
struct Signals {
    /// Bumped when every subscription must catch up from the store.
    epoch: watch::Sender<u64>,
    /// Whether the connection is up.
    connected: watch::Sender<bool>,
}

/// Turns connection events into `Lagged` for every subscription — after a (re)connect (once
/// the server has the wildcard subscription again) and after the client dropped messages —
/// and into the connected flag, logging one line when the link goes down and one when it is
/// back (the client's own retries in between are not logged above debug).
async fn watch_connection(
    mut events: mpsc::UnboundedReceiver<NatsEvent>,
    client: async_nats::Client,
    ping: String,
    signals: Signals,
) {
    while let Some(event) = events.recv().await {
        match event {
            NatsEvent::Connected => {
                // Up since the start (its round trip is done): nothing was missed yet.
                if *signals.connected.borrow() {
                    continue;
                }
                // The client re-sends SUB before anything queued after this, so once the round
                // trip returns the server routes new messages here again: a store read after
                // this point misses nothing that later notifications would not announce.
                if let Err(error) = round_trip(&client, &ping).await {
                    tracing::warn!(%error, "confirming the subscription after connecting failed");
                }
                tracing::info!("connected to NATS; live streams catch up from the store");
                signals.connected.send_replace(true);
                signals.epoch.send_modify(|n| *n += 1);
            }
            NatsEvent::Disconnected => {
                signals.connected.send_replace(false);
                tracing::warn!("disconnected from NATS; other instances' messages wait");
            }
            NatsEvent::SlowConsumer(_) => {
                tracing::warn!("NATS messages dropped for a slow consumer; streams catch up");
                signals.epoch.send_modify(|n| *n += 1);
            }
            // A failed attempt to (re)connect, every few seconds during an outage.
            NatsEvent::ClientError(error) => tracing::debug!(%error, "nats client error"),
            other => tracing::info!(event = %other, "nats event"),
        }
    }
}

#[async_trait]
impl Broker for NatsBroker {
    async fn publish(&self, handle: &str, message: Published) {
        let payload = encode(&message);
        self.local.publish(handle, message).await;
        if !literal_token_path(handle) {
            tracing::warn!(%handle, "not published to NATS: not a literal subject token");
            return;
        }
        let subject = format!("{}{handle}", self.subject_base);
        match tokio::time::timeout(PUBLISH_WAIT, self.client.publish(subject, payload)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%handle, %error, "NATS publish failed; streams elsewhere catch up");
            }
            Err(_) => {
                tracing::warn!(%handle, "NATS publish timed out; streams elsewhere catch up");
            }
        }
    }

    fn connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Published and flushed, so a `kezd admin` process that exits right after has sent it;
    /// both bounded, as an outage must not hold an admin command up for long.
    async fn announce(&self, change: Bytes) {
        let subject = self.notices_subject.clone();
        let sent = tokio::time::timeout(ANNOUNCE_WAIT, async {
            self.client
                .publish(subject, change)
                .await
                .map_err(|e| e.to_string())?;
            self.client.flush().await.map_err(|e| e.to_string())
        })
        .await;
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "a change notice was not sent to NATS"),
            Err(_) => tracing::warn!("a change notice was not sent to NATS in time"),
        }
    }

    fn notices(&self) -> Option<broadcast::Receiver<Notice>> {
        Some(self.notices.subscribe())
    }

    fn traffic(&self) -> Option<Traffic> {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = self.client.statistics();
        Some(Traffic {
            messages_sent: stats.out_messages.load(Relaxed),
            messages_received: stats.in_messages.load(Relaxed),
            bytes_sent: stats.out_bytes.load(Relaxed),
            bytes_received: stats.in_bytes.load(Relaxed),
        })
    }

    async fn subscribe(&self, handle: &str) -> Box<dyn Subscription> {
        let mut epoch = self.epoch.clone();
        // Only changes after this moment count: the stream reads the store after subscribing.
        epoch.mark_unchanged();
        Box::new(NatsSubscription {
            inner: self.local.subscribe(handle).await,
            epoch,
        })
    }
}

/// A local subscription that also reports `Lagged` when the NATS connection came back.
struct NatsSubscription {
    inner: Box<dyn Subscription>,
    epoch: watch::Receiver<u64>,
}

#[async_trait]
impl Subscription for NatsSubscription {
    async fn next(&mut self) -> Option<Event> {
        tokio::select! {
            // A reconnect first: the stream re-reads the store anyway, which covers any
            // message still queued behind it.
            biased;
            changed = self.epoch.changed() => match changed {
                Ok(()) => Some(Event::Lagged),
                Err(_) => None, // The broker is gone.
            },
            event = self.inner.next() => event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let message = Published {
            seq: 42,
            data: r#"{"seq":42,"envelope":{"a":"b\nc"}}"#.into(),
        };
        assert_eq!(decode(&encode(&message)), Some(message));
        assert_eq!(decode(b"x\n{}"), None);
        assert_eq!(decode(b"12"), None);
    }

    #[test]
    fn only_literal_subjects_are_published() {
        assert!(literal_token_path("alice") && literal_token_path("a.b_c-d"));
        for bad in ["", "a..b", ".a", "a.", "*", "a.>", "a b"] {
            assert!(!literal_token_path(bad), "{bad:?}");
        }
    }
}
