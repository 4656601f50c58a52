//! Outbox delivery (SPEC §9.5–§9.6): a dispatcher finds destinations with due messages and runs
//! one delivery task per destination; each sends transactions until nothing is due, records
//! every message's outcome durably, and on a transient failure backs the whole destination off
//! (persisted, so a restart does not hammer a peer that is down) and stops. The next attempt is
//! then a probe: one message, then full transactions again once the peer answers.
//!
//! Several transactions are in flight to a destination at once: its pending messages are
//! read once, in acceptance order, and carried by a few lanes, a backlog shared out by sender
//! and a few messages together (batch.rs). A lane sends its next transaction as soon as its last one's outcomes are
//! recorded, so each sender's messages still arrive in order (SPEC §9.5) and no lane waits
//! for another's answer. A transaction the peer is slow to answer holds back only its own
//! senders: after a second, its lane's other senders go with the free lanes, and should its
//! own senders' later messages fill the queue, they are dropped from memory and wait for the
//! next pass, so that everyone else's can still be read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use kez_federation::{DeliveryError, TxnStatus};
use kez_spec::ServerName;
use kez_spec::api::txn_body::OutgoingTxn;
use rand_core::{OsRng, RngCore};
use serde_json::value::RawValue;
use tokio::sync::watch;
use tokio::time::Instant;

use super::batch::{Batch, Limits, Queue};
use super::{Federate, backoff};
use crate::clock;
use crate::config::Federation as FederationSettings;
use crate::metrics::Metrics;
use crate::store::{Delivery, OutboxItem, Store, StoreError};

/// Envelopes per transaction (SPEC §9.4's default `max_txn_envelopes`).
const MAX_TXN_ENVELOPES: usize = kez_spec::api::txn::MAX_ENVELOPES;
/// Envelope text per transaction, half the default `max_txn_bytes`: room for the JSON around
/// the envelopes.
const MAX_TXN_BYTES: usize = kez_spec::api::txn::MAX_BYTES / 2;
/// Lanes per destination: transactions in flight to it at once. Two, not more: under load
/// each lane carries what gathered for its senders while its last transaction was answered,
/// so fewer lanes send fuller transactions, and every transaction costs both servers a
/// signed request, a verified one, replay and duplicate look-ups and a commit on each side.
/// With four, 3a's transactions carried 36 envelopes on average and the two servers spent
/// 0.336–0.421 ms of CPU per message; with two, 82 and 0.316–0.387 ms, at 4–9 % more
/// forwarded per second (docs/BENCHMARKS.md; one lane queues everything behind one answer).
/// Two still leave a free lane when one transaction is stuck.
const IN_FLIGHT: usize = 2;
/// Outbox rows read at a time: a full transaction for every lane.
const READ: usize = IN_FLIGHT * MAX_TXN_ENVELOPES;
/// Rows held in memory per destination before reading waits for the lanes to send some.
const QUEUED_MAX: usize = 2 * READ;
/// How long new messages wait for a transaction in flight to be answered before an idle lane
/// reads them anyway. An answer usually comes sooner, and then they are read together with
/// whatever else arrived, in fuller transactions; a peer slow to answer one transaction holds
/// the other lanes' new messages back no longer than this.
const LINGER: Duration = Duration::from_millis(10);
/// How long a transaction may be in flight before it counts as stuck: its lane's other senders
/// go with the free lanes, and its own senders' queued messages give way, when they fill the
/// queue, to everyone else's. Answers usually take milliseconds.
const STUCK: Duration = Duration::from_secs(1);
/// How often the outbox is looked at when nothing wakes the dispatcher.
const POLL: Duration = Duration::from_secs(1);

/// What delivery works with: the parts of the daemon it uses, and nothing more.
pub struct Outbox {
    /// This server's name: the origin of every transaction.
    pub server_name: ServerName,
    /// Which destinations may be sent to, the retry window and the backoff's bounds.
    pub settings: FederationSettings,
    /// Where the outbox is kept.
    pub store: Arc<dyn Store>,
    /// The keys and the client for peers, and the wake-up for new messages.
    pub federate: Arc<Federate>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// Starts delivery for a daemon with federation; it ends when `shutdown` completes.
pub fn spawn(
    outbox: Outbox,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(Arc::new(outbox), shutdown))
}

async fn run(outbox: Arc<Outbox>, shutdown: impl Future<Output = ()>) {
    // Destinations being delivered, each with the channel that tells its delivery that new
    // messages may have been queued meanwhile.
    let running: Arc<Mutex<HashMap<String, watch::Sender<()>>>> = Arc::default();
    tokio::pin!(shutdown);
    let Outbox {
        store, federate, ..
    } = outbox.as_ref();
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = federate.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
        let now = now_ms();
        let destinations = match store.outbox_destinations(now).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "outbox scan failed");
                continue;
            }
        };
        for destination in destinations {
            let news = {
                let mut running = running.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(news) = running.get(&destination) {
                    news.send_modify(|()| {});
                    continue;
                }
                let (told, news) = watch::channel(());
                running.insert(destination.clone(), told);
                news
            };
            let (outbox, running) = (outbox.clone(), running.clone());
            tokio::spawn(async move {
                let on = On {
                    server_name: &outbox.server_name,
                    settings: &outbox.settings,
                    store: outbox.store.as_ref(),
                    federate: &outbox.federate,
                    metrics: &outbox.metrics,
                };
                let mut news = news;
                if let Err(e) = deliver(on, &destination, &mut news).await {
                    tracing::warn!(%destination, error = %e, "delivery stopped on a store error");
                }
                running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&destination);
                // Messages queued as this delivery ended are looked for again at once rather
                // than at the next poll.
                if news.has_changed().unwrap_or(false) {
                    outbox.federate.wake.notify_one();
                }
            });
        }
    }
}

/// `origin` sent a signed request, so it is up: if this instance is backing off from it on
/// its own schedule alone, the backoff ends now, with the messages it put off, and delivery is
/// woken for them (SPEC §9.6). A failure is logged: the backoff then simply runs its course.
pub async fn origin_is_up(federate: &Federate, store: &dyn Store, origin: &str) {
    let now = now_ms();
    let Some(retry_at) = federate.up(origin, now) else {
        return;
    };
    match store.outbox_wake(origin, retry_at, now).await {
        Ok(true) => federate.wake.notify_one(),
        Ok(false) => {}
        Err(error) => tracing::warn!(%origin, %error, "waking a destination failed"),
    }
}

fn now_ms() -> i64 {
    i64::try_from(clock::now_ms()).unwrap_or(i64::MAX)
}

/// What a delivery works with.
#[derive(Clone, Copy)]
struct On<'a> {
    server_name: &'a ServerName,
    settings: &'a FederationSettings,
    store: &'a dyn Store,
    federate: &'a Federate,
    metrics: &'a Metrics,
}

/// Sends `destination`'s due messages until none are left or the peer fails.
async fn deliver(
    on: On<'_>,
    destination: &str,
    news: &mut watch::Receiver<()>,
) -> Result<(), StoreError> {
    let On {
        settings,
        store,
        federate,
        ..
    } = on;
    let Ok(server) = ServerName::parse(destination) else {
        return fail_all(store, destination, "invalid_server_name").await;
    };
    if !federate.policy.permits(&server) {
        return fail_all(store, destination, "origin_blocked").await;
    }
    let target = Target {
        on,
        server: &server,
        destination,
        failures: store.destination_failures(destination).await?,
        window_ms: i64::try_from(settings.retry_window.as_millis()).unwrap_or(i64::MAX),
    };
    // A destination that has been failing gets one message as a probe, not full transactions.
    if target.failures > 0 && target.pass(1, 1, true, news).await? == End::Stop {
        return Ok(());
    }
    let mut max = MAX_TXN_ENVELOPES;
    loop {
        match target.pass(max, IN_FLIGHT, false, news).await? {
            End::Drained | End::Stop => return Ok(()),
            End::Shrink => max = (max / 2).max(1),
            End::Again => {}
        }
    }
}

/// One destination's delivery.
struct Target<'a> {
    on: On<'a>,
    server: &'a ServerName,
    destination: &'a str,
    /// Failures in a row when this delivery began.
    failures: u32,
    /// The retry window (SPEC §9.6), in milliseconds.
    window_ms: i64,
}

/// Why a pass over a destination's outbox ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Nothing more can be sent now (or the one transaction of a probe was sent).
    Drained,
    /// The destination failed transiently and is backing off.
    Stop,
    /// The destination found a transaction too large: send smaller ones.
    Shrink,
    /// A stuck transaction's senders were held back (`STUCK`) and it is now answered: a new
    /// pass sends their messages.
    Again,
}

/// What a lane waits on when it has nothing to send: the pass's progress (a lane answered, or
/// rows were read), of which it is told through the sender, and news of new messages.
type Waits<'a> = (
    &'a watch::Sender<u64>,
    watch::Receiver<u64>,
    watch::Receiver<()>,
);

/// What a pass's lanes share.
struct Shared {
    queue: Queue,
    /// The last read came back short: read again only on news of new messages.
    drained: bool,
    /// News of new messages came since the last read.
    news: bool,
    /// Each lane's transaction in flight.
    flights: Vec<Option<Flight>>,
    /// Set once the pass is to end; lanes finish their transaction in flight and stop.
    end: Option<End>,
}

/// A transaction in flight.
struct Flight {
    sent_at: Instant,
    /// The senders whose messages it carries.
    senders: Vec<String>,
    /// In flight for `STUCK`: its lane's other senders go with the free lanes.
    stuck: bool,
    /// Its senders' queued messages were dropped to make way: they wait for a new pass.
    shed: bool,
}

impl Shared {
    /// Records what became of `lane`'s transaction: senders to hold back, how the pass ends,
    /// and the lane's senders free again.
    fn record(&mut self, lane: usize, sent: Result<Flow, StoreError>) -> Result<(), StoreError> {
        let flight = self.flights[lane].take();
        match sent {
            Ok(Flow::Continue { deferred }) => {
                for sender in deferred {
                    self.queue.hold(&sender);
                }
            }
            Ok(Flow::Stop) => self.end = Some(End::Stop),
            Ok(Flow::Shrink { senders }) => {
                for sender in senders {
                    self.queue.hold(&sender);
                }
                self.end.get_or_insert(End::Shrink);
            }
            Err(e) => {
                self.end = Some(End::Stop);
                return Err(e);
            }
        }
        if let Some(flight) = flight {
            self.queue.answered(lane, &flight.senders);
            // The senders it gave up wait for a new pass.
            if flight.shed {
                self.end.get_or_insert(End::Again);
            }
        }
        Ok(())
    }

    /// Lanes with a transaction in flight.
    fn sending(&self) -> usize {
        self.flights.iter().flatten().count()
    }

    /// Marks every transaction in flight for `STUCK` as stuck, so that its lane's other
    /// senders go with the free lanes, and when the queue is full, holds back its senders,
    /// dropping their queued messages; whether anything changed.
    fn make_way(&mut self, now: Instant) -> bool {
        let full = self.queue.len() >= QUEUED_MAX;
        let mut changed = false;
        for (lane, flight) in self.flights.iter_mut().enumerate() {
            let Some(flight) = flight.as_mut().filter(|f| f.sent_at + STUCK <= now) else {
                continue;
            };
            if !flight.stuck {
                flight.stuck = true;
                self.queue.stuck(lane);
                changed = true;
            }
            if full && self.queue.shed(&flight.senders) > 0 {
                flight.shed = true;
                changed = true;
            }
        }
        changed
    }

    /// When the next transaction in flight becomes stuck, if one is yet to.
    fn next_stuck(&self) -> Option<Instant> {
        let flights = self.flights.iter().flatten();
        flights
            .filter(|f| !f.stuck)
            .map(|f| f.sent_at + STUCK)
            .min()
    }
}

impl Target<'_> {
    /// Sends transactions of up to `max` messages on `lanes` lanes until nothing more can be
    /// sent, the peer fails, or (`single`) one transaction was sent. `news` changes when new
    /// messages may have been queued for the destination.
    async fn pass(
        &self,
        max: usize,
        lanes: usize,
        single: bool,
        news: &mut watch::Receiver<()>,
    ) -> Result<End, StoreError> {
        // Whatever was queued before this pass is read by it.
        news.borrow_and_update();
        let shared = tokio::sync::Mutex::new(Shared {
            queue: Queue::new(lanes),
            drained: false,
            news: false,
            flights: (0..lanes).map(|_| None).collect(),
            end: None,
        });
        // Bumped whenever a lane's transaction is answered or rows are read, to wake idle lanes.
        let (progress, watching) = watch::channel(0u64);
        let limits = Limits {
            max,
            max_bytes: MAX_TXN_BYTES,
            window_ms: self.window_ms,
        };
        let runs = (0..lanes).map(|lane| {
            let waits = (&progress, watching.clone(), news.clone());
            self.lane(&shared, waits, lane, limits, single)
        });
        let results = futures_util::future::join_all(runs).await;
        results.into_iter().collect::<Result<(), _>>()?;
        Ok(shared.into_inner().end.unwrap_or(End::Drained))
    }

    /// One lane: takes the next messages of its senders (and of stuck lanes' senders), sends
    /// them, records the outcomes, again.
    /// A lane with nothing to send waits for another's answer or for news of new messages,
    /// and the pass ends when no lane is sending and nothing is left to read.
    async fn lane(
        &self,
        shared: &tokio::sync::Mutex<Shared>,
        (progress, mut watching, mut news): Waits<'_>,
        lane: usize,
        limits: Limits,
        single: bool,
    ) -> Result<(), StoreError> {
        loop {
            let mut state = shared.lock().await;
            if state.end.is_some() {
                return Ok(());
            }
            let mut batch = Batch::default();
            state.queue.take(lane, now_ms(), limits, &mut batch);
            let mut read = false;
            while batch.items.len() < limits.max && !state.drained && state.queue.len() < QUEUED_MAX
            {
                let cursor = state.queue.cursor();
                let rows = match self
                    .on
                    .store
                    .outbox_pending(self.destination, cursor, READ as u32)
                    .await
                {
                    Ok(rows) => rows,
                    Err(e) => {
                        state.end = Some(End::Stop);
                        progress.send_modify(|n| *n += 1);
                        return Err(e);
                    }
                };
                read |= !rows.is_empty();
                state.drained = rows.len() < READ;
                state.news = false;
                state.queue.extend(rows);
                state.queue.take(lane, now_ms(), limits, &mut batch);
            }
            if read {
                progress.send_modify(|n| *n += 1);
            }
            if batch.items.is_empty() && batch.expired.is_empty() {
                if state.sending() == 0 && state.drained && state.queue.len() == 0 {
                    state.end.get_or_insert(End::Drained);
                    progress.send_modify(|n| *n += 1);
                    return Ok(());
                }
                // Queued messages that wait only for a stuck transaction's lane, or that fill
                // the queue behind it, go another way now, or once the next becomes stuck.
                if state.make_way(Instant::now()) {
                    continue;
                }
                let stuck_at = state.next_stuck().filter(|_| state.queue.len() > 0);
                watching.borrow_and_update();
                let lingering = state.news && state.sending() > 0;
                drop(state);
                // Either channel fails only once its sender is gone: the pass outlives
                // `progress`, and a closed `news` (the dispatcher stopped) leaves `progress`.
                tokio::select! {
                    _ = watching.changed() => {}
                    Ok(()) = news.changed() => {
                        let mut state = shared.lock().await;
                        state.news = true;
                        // With nothing in flight there is no answer to wait for.
                        state.drained &= state.sending() > 0;
                    }
                    () = tokio::time::sleep(LINGER), if lingering => {
                        let mut state = shared.lock().await;
                        state.drained &= !state.news;
                    }
                    () = tokio::time::sleep_until(stuck_at.unwrap_or_else(Instant::now)),
                        if stuck_at.is_some() => {}
                }
                continue;
            }
            state.flights[lane] = Some(Flight {
                sent_at: Instant::now(),
                senders: batch.senders(),
                stuck: false,
                shed: false,
            });
            drop(state);
            let sent = self.send(batch).await;
            let mut state = shared.lock().await;
            // News that came while this transaction was in flight is read now.
            state.drained &= !state.news;
            progress.send_modify(|n| *n += 1);
            state.record(lane, sent)?;
            if single {
                state.end.get_or_insert(End::Drained);
            }
        }
    }

    /// Fails what expired and sends the rest as one transaction.
    async fn send(&self, batch: Batch) -> Result<Flow, StoreError> {
        if !batch.expired.is_empty() {
            self.on
                .store
                .outbox_record(self.destination, batch.expired, None)
                .await?;
        }
        if batch.items.is_empty() {
            return Ok(Flow::Continue {
                deferred: Vec::new(),
            });
        }
        self.send_transaction(&batch.items).await
    }

    /// Sends one transaction and records its messages' outcomes.
    async fn send_transaction(&self, items: &[OutboxItem]) -> Result<Flow, StoreError> {
        let (store, destination) = (self.on.store, self.destination);
        let body = transaction_body(self.on.server_name, items);
        let fail_all = |code: &str| failed(items, code);
        let none_deferred = || Flow::Continue {
            deferred: Vec::new(),
        };
        let body = match body {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%destination, %error, "a stored envelope is not JSON");
                store
                    .outbox_record(destination, fail_all("internal"), None)
                    .await?;
                return Ok(none_deferred());
            }
        };
        match self
            .on
            .federate
            .client
            .send_transaction(self.server, &txn_id(), body)
            .await
        {
            Ok(answer) if answer.results.len() == items.len() => {
                self.record_results(items, answer.results).await
            }
            Ok(answer) => {
                let reason = format!(
                    "{} results for {} envelopes",
                    answer.results.len(),
                    items.len()
                );
                self.on.metrics.federation_txn("transient");
                self.back_off(items, &reason, None).await?;
                Ok(Flow::Stop)
            }
            Err(DeliveryError::Transient {
                reason,
                retry_after,
            }) => {
                self.on.metrics.federation_txn("transient");
                self.back_off(items, &reason, retry_after).await?;
                Ok(Flow::Stop)
            }
            Err(DeliveryError::Permanent { code }) => {
                self.on.metrics.federation_txn("refused");
                store
                    .outbox_record(destination, fail_all(&code), None)
                    .await?;
                Ok(none_deferred())
            }
            Err(DeliveryError::TooLarge) if items.len() > 1 => {
                self.on.metrics.federation_txn("too_large");
                Ok(Flow::Shrink {
                    senders: items.iter().map(|i| i.sender.clone()).collect(),
                })
            }
            Err(DeliveryError::TooLarge) => {
                self.on.metrics.federation_txn("too_large");
                store
                    .outbox_record(destination, fail_all("payload_too_large"), None)
                    .await?;
                Ok(none_deferred())
            }
        }
    }

    /// Records the destination's result for each message of a transaction it answered.
    async fn record_results(
        &self,
        items: &[OutboxItem],
        results: Vec<kez_federation::TxnResult>,
    ) -> Result<Flow, StoreError> {
        // A deferral's `retry_after` counts from the answer, not from when the transaction was
        // sent: a slow receiver must not shorten the wait it asked for.
        let answered = now_ms();
        let mut deferred = Vec::new();
        let mut counts = [("delivered", 0), ("deferred", 0), ("failed", 0)];
        let outcomes = items
            .iter()
            .zip(results)
            .map(|(item, result)| {
                let outcome = outcome(&result, answered);
                let slot = match outcome {
                    Delivery::Delivered => 0,
                    Delivery::Retry { .. } => {
                        deferred.push(item.sender.clone());
                        1
                    }
                    Delivery::Failed { .. } => 2,
                };
                counts[slot].1 += 1;
                (item.id.clone(), outcome)
            })
            .collect();
        // Counted before the outcomes are recorded, so that whoever sees them recorded sees
        // them counted.
        self.on.metrics.federation_txn("answered");
        for (result, n) in counts {
            self.on.metrics.federation_envelopes(result, n);
        }
        self.on
            .store
            .outbox_record(self.destination, outcomes, None)
            .await?;
        self.on.federate.answered(self.destination);
        Ok(Flow::Continue { deferred })
    }

    /// After a transient failure: the transaction's messages are retried later and the
    /// destination waits for the backoff (or the peer's `Retry-After`, whichever is later).
    async fn back_off(
        &self,
        items: &[OutboxItem],
        reason: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), StoreError> {
        let destination = self.destination;
        let failures = self.failures.saturating_add(1);
        let f = self.on.settings;
        let retry_after = retry_after.filter(|_| !crate::faults::on("ignore_retry_after"));
        let wait = backoff::delay(failures, f.backoff_initial, f.backoff_max)
            .max(retry_after.unwrap_or_default());
        let now = now_ms();
        let later = |wait: Duration| {
            now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
        };
        let at_ms = later(wait);
        let asked_until = retry_after.map_or(0, later);
        let outcomes = items
            .iter()
            .map(|i| {
                let error = "unavailable".to_owned();
                (i.id.clone(), Delivery::Retry { at_ms, error })
            })
            .collect();
        self.on
            .store
            .outbox_record(destination, outcomes, Some((failures, at_ms)))
            .await?;
        self.on
            .federate
            .backing_off(destination, at_ms, asked_until);
        // Once recorded: what the line says, `kezd admin outbox show` shows.
        tracing::info!(%destination, failures, ?wait, reason, "destination backs off");
        Ok(())
    }
}

/// What a lane does after one transaction.
enum Flow {
    /// Go on with the next messages; these senders had a message deferred, so their later
    /// ones wait for a later pass.
    Continue { deferred: Vec<String> },
    /// The destination failed transiently and is backing off: stop for now.
    Stop,
    /// The destination found the transaction too large: send smaller ones. These senders'
    /// messages were not sent, so their later ones wait for the next pass.
    Shrink { senders: Vec<String> },
}

/// What one per-message result means for the outbox (SPEC §9.4).
fn outcome(result: &kez_federation::TxnResult, now: i64) -> Delivery {
    let code = || result.code.clone().unwrap_or_else(|| "unavailable".into());
    match result.status {
        TxnStatus::Accepted | TxnStatus::Duplicate => Delivery::Delivered,
        TxnStatus::Deferred if crate::faults::on("deferred_counts_as_delivered") => {
            Delivery::Delivered
        }
        TxnStatus::Rejected => Delivery::Failed { code: code() },
        TxnStatus::Deferred => {
            let wait = i64::try_from(result.retry_after.unwrap_or(30).max(1)).unwrap_or(i64::MAX);
            let wait = if crate::faults::on("ignore_deferred_retry_after") {
                0
            } else {
                wait
            };
            Delivery::Retry {
                at_ms: now.saturating_add(wait.saturating_mul(1000)),
                error: code(),
            }
        }
    }
}

/// Fails every pending message of a destination this server will not deliver to.
async fn fail_all(store: &dyn Store, destination: &str, code: &str) -> Result<(), StoreError> {
    loop {
        let pending = store.outbox_pending(destination, 0, 500).await?;
        if pending.is_empty() {
            return Ok(());
        }
        let outcomes = pending
            .into_iter()
            .map(|i| (i.id, Delivery::Failed { code: code.into() }))
            .collect();
        store.outbox_record(destination, outcomes, None).await?;
    }
}

/// kez-spec's [`OutgoingTxn`] with the stored canonical envelopes embedded as they are, not
/// parsed and re-serialised.
fn transaction_body(origin: &ServerName, items: &[OutboxItem]) -> Result<Bytes, serde_json::Error> {
    let mut envelopes = items
        .iter()
        .map(|item| serde_json::from_str::<&RawValue>(&item.envelope_json))
        .collect::<Result<Vec<_>, _>>()?;
    if crate::faults::on("reverse_txn_order") {
        envelopes.reverse();
    }
    let txn = OutgoingTxn {
        origin: origin.as_str(),
        envelopes: &envelopes,
    };
    serde_json::to_vec(&txn).map(Bytes::from)
}

/// A fresh transaction id: unique per attempt, so a destination's stored answer to an earlier
/// attempt (which may have deferred some messages) is never replayed for a new one. Retries
/// of the same messages are still idempotent by message id.
fn txn_id() -> String {
    if crate::faults::on("outbox_reuses_txn_id") {
        return "kezd-txn".to_owned();
    }
    let mut raw = [0u8; 16];
    OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Every message of a transaction failed with `code`.
fn failed(items: &[OutboxItem], code: &str) -> Vec<(String, Delivery)> {
    items
        .iter()
        .map(|item| {
            (
                item.id.clone(),
                Delivery::Failed {
                    code: code.to_owned(),
                },
            )
        })
        .collect()
}
