//! Outbox delivery (SPEC §9.5–§9.6): a dispatcher finds destinations with due messages and runs
//! one delivery task per destination; each sends transactions until nothing is due, records
//! every message's outcome durably, and on a transient failure backs the whole destination off
//! (persisted, so a restart does not hammer a peer that is down) and stops. The next attempt is
//! then a probe: one message, then full transactions again once the peer answers. Several
//! transactions are in flight to a destination at once, with no sender in two of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use federation::{DeliveryError, TxnStatus};
use kez_spec::ServerName;
use rand_core::{OsRng, RngCore};

use super::{Federate, backoff, batch};
use crate::clock;
use crate::config::Config;
use crate::state::AppState;
use crate::store::{Delivery, OutboxItem, Store, StoreError};

/// Envelopes per transaction (SPEC §9.4's default `max_txn_envelopes`).
const MAX_TXN_ENVELOPES: usize = 100;
/// Envelope text per transaction, below the default 8 MiB `max_txn_bytes`.
const MAX_TXN_BYTES: usize = 4 * 1024 * 1024;
/// Transactions in flight to one destination at once. Each carries a disjoint set of senders,
/// so every sender's messages still arrive in order (SPEC §9.5) while a burst is not drained
/// one round trip at a time.
const IN_FLIGHT: usize = 4;
/// How often the outbox is looked at when nothing wakes the dispatcher.
const POLL: Duration = Duration::from_secs(1);

/// Starts delivery for a daemon with federation; it ends with the daemon's shutdown signal.
pub fn spawn(state: AppState, federate: Arc<Federate>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state, federate))
}

async fn run(state: AppState, federate: Arc<Federate>) {
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let shutdown = state.shutdown().signalled();
    tokio::pin!(shutdown);
    let store = state.store().clone();
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
            let fresh = running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(destination.clone());
            if !fresh {
                continue;
            }
            let (state, federate, running) = (state.clone(), federate.clone(), running.clone());
            tokio::spawn(async move {
                let config = state.config();
                let store = state.store().as_ref();
                if let Err(e) = deliver(config, store, &federate, &destination).await {
                    tracing::warn!(%destination, error = %e, "delivery stopped on a store error");
                }
                running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&destination);
            });
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(clock::now_ms()).unwrap_or(i64::MAX)
}

/// Sends `destination`'s due messages until none are left or the peer fails.
async fn deliver(
    config: &Config,
    store: &dyn Store,
    federate: &Federate,
    destination: &str,
) -> Result<(), StoreError> {
    let Ok(server) = ServerName::parse(destination) else {
        return fail_all(store, destination, "invalid_server_name").await;
    };
    if !config.federation.permits(&server) {
        return fail_all(store, destination, "origin_blocked").await;
    }
    let failures = store.destination_failures(destination).await?;
    // A destination that has been failing gets one message as a probe, not a full batch.
    let mut max = if failures > 0 { 1 } else { MAX_TXN_ENVELOPES };
    let window_ms = i64::try_from(config.federation.retry_window.as_millis()).unwrap_or(i64::MAX);
    loop {
        let pending = store
            .outbox_pending(destination, (IN_FLIGHT * MAX_TXN_ENVELOPES) as u32)
            .await?;
        let now = now_ms();
        let in_flight = if max == 1 { 1 } else { IN_FLIGHT };
        let batch = batch::select(
            pending,
            now,
            window_ms,
            in_flight * max,
            in_flight * MAX_TXN_BYTES,
        );
        if !batch.expired.is_empty() {
            store
                .outbox_record(destination, batch.expired, None)
                .await?;
        }
        if batch.items.is_empty() {
            return Ok(());
        }
        let transactions = batch::split_by_sender(batch.items, in_flight, max);
        let sent = transactions.iter().map(|items| {
            send_one(
                config,
                store,
                federate,
                &server,
                destination,
                items,
                failures,
            )
        });
        let flows = futures_util::future::join_all(sent).await;
        let mut next_max = MAX_TXN_ENVELOPES;
        for flow in flows {
            match flow? {
                Flow::Continue => {}
                Flow::Stop => return Ok(()),
                Flow::Shrink => next_max = (max / 2).max(1),
            }
        }
        max = next_max;
    }
}

/// What a destination's delivery does after one transaction.
enum Flow {
    /// Go on with the next messages.
    Continue,
    /// The destination failed transiently and is backing off: stop for now.
    Stop,
    /// The destination found the transaction too large: send smaller ones.
    Shrink,
}

/// Sends one transaction and records its messages' outcomes.
async fn send_one(
    config: &Config,
    store: &dyn Store,
    federate: &Federate,
    server: &ServerName,
    destination: &str,
    items: &[OutboxItem],
    failures: u32,
) -> Result<Flow, StoreError> {
    let body = transaction_body(&config.server_name, items);
    let fail_all = |code: &str| {
        items
            .iter()
            .map(|i| {
                (
                    i.id.clone(),
                    Delivery::Failed {
                        code: code.to_owned(),
                    },
                )
            })
            .collect()
    };
    match federate
        .client
        .send_transaction(server, &txn_id(), body)
        .await
    {
        Ok(answer) if answer.results.len() == items.len() => {
            // A deferral's `retry_after` counts from the answer, not from when the
            // transaction was sent: a slow receiver must not shorten the wait it asked for.
            let answered = now_ms();
            let outcomes = items
                .iter()
                .zip(answer.results)
                .map(|(item, result)| (item.id.clone(), outcome(&result, answered)))
                .collect();
            store.outbox_record(destination, outcomes, None).await?;
            Ok(Flow::Continue)
        }
        Ok(answer) => {
            let reason = format!(
                "{} results for {} envelopes",
                answer.results.len(),
                items.len()
            );
            back_off(config, store, destination, items, failures, &reason, None).await?;
            Ok(Flow::Stop)
        }
        Err(DeliveryError::Transient {
            reason,
            retry_after,
        }) => {
            back_off(
                config,
                store,
                destination,
                items,
                failures,
                &reason,
                retry_after,
            )
            .await?;
            Ok(Flow::Stop)
        }
        Err(DeliveryError::Permanent { code }) => {
            store
                .outbox_record(destination, fail_all(&code), None)
                .await?;
            Ok(Flow::Continue)
        }
        Err(DeliveryError::TooLarge) if items.len() > 1 => Ok(Flow::Shrink),
        Err(DeliveryError::TooLarge) => {
            store
                .outbox_record(destination, fail_all("payload_too_large"), None)
                .await?;
            Ok(Flow::Continue)
        }
    }
}

/// What one per-message result means for the outbox (SPEC §9.4).
fn outcome(result: &federation::TxnResult, now: i64) -> Delivery {
    let code = || result.code.clone().unwrap_or_else(|| "unavailable".into());
    match result.status {
        TxnStatus::Accepted | TxnStatus::Duplicate => Delivery::Delivered,
        TxnStatus::Rejected => Delivery::Failed { code: code() },
        TxnStatus::Deferred => {
            let wait = i64::try_from(result.retry_after.unwrap_or(30).max(1)).unwrap_or(i64::MAX);
            Delivery::Retry {
                at_ms: now.saturating_add(wait.saturating_mul(1000)),
                error: code(),
            }
        }
    }
}

/// After a transient failure: the batch is retried later and the destination waits for the
/// backoff (or the peer's `Retry-After`, whichever is later).
async fn back_off(
    config: &Config,
    store: &dyn Store,
    destination: &str,
    items: &[OutboxItem],
    failures: u32,
    reason: &str,
    retry_after: Option<Duration>,
) -> Result<(), StoreError> {
    let failures = failures.saturating_add(1);
    let f = &config.federation;
    let retry_after = retry_after.filter(|_| !crate::faults::on("ignore_retry_after"));
    let wait = backoff::delay(failures, f.backoff_initial, f.backoff_max)
        .max(retry_after.unwrap_or_default());
    let at_ms = now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
    tracing::info!(%destination, failures, ?wait, reason, "destination backs off");
    let outcomes = items
        .iter()
        .map(|i| {
            let error = "unavailable".to_owned();
            (i.id.clone(), Delivery::Retry { at_ms, error })
        })
        .collect();
    store
        .outbox_record(destination, outcomes, Some((failures, at_ms)))
        .await
}

/// Fails every pending message of a destination this server will not deliver to.
async fn fail_all(store: &dyn Store, destination: &str, code: &str) -> Result<(), StoreError> {
    loop {
        let pending = store.outbox_pending(destination, 500).await?;
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

/// `{"origin": …, "envelopes": [ … ]}` with the stored canonical envelopes embedded as they
/// are, not parsed and re-serialised.
fn transaction_body(origin: &ServerName, items: &[OutboxItem]) -> Bytes {
    let mut body = format!(r#"{{"origin":"{origin}","envelopes":["#);
    let reversed: Vec<&OutboxItem> = items.iter().rev().collect();
    let ordered: Vec<&OutboxItem> = items.iter().collect();
    let items = if crate::faults::on("reverse_txn_order") {
        reversed
    } else {
        ordered
    };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&item.envelope_json);
    }
    body.push_str("]}");
    Bytes::from(body)
}

/// A fresh transaction id: unique per attempt, so a destination's stored answer to an earlier
/// attempt (which may have deferred some messages) is never replayed for a new one. Retries
/// of the same messages are still idempotent by message id.
fn txn_id() -> String {
    let mut raw = [0u8; 16];
    OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}
