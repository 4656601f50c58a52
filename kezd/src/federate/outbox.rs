//! Outbox delivery (SPEC §9.5–§9.6): a dispatcher finds destinations with due messages and runs
//! one delivery task per destination; each sends transactions until nothing is due, records
//! every message's outcome durably, and on a transient failure backs the whole destination off
//! (persisted, so a restart does not hammer a peer that is down) and stops. The next attempt is
//! then a probe: one message, then full transactions again once the peer answers.

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
            .outbox_pending(destination, 4 * MAX_TXN_ENVELOPES as u32)
            .await?;
        let now = now_ms();
        let batch = batch::select(pending, now, window_ms, max, MAX_TXN_BYTES);
        if !batch.expired.is_empty() {
            store
                .outbox_record(destination, batch.expired, None)
                .await?;
        }
        if batch.items.is_empty() {
            return Ok(());
        }
        let body = transaction_body(&config.server_name, &batch.items);
        let txn_id = txn_id();
        match federate
            .client
            .send_transaction(&server, &txn_id, body)
            .await
        {
            Ok(answer) if answer.results.len() == batch.items.len() => {
                // A deferral's `retry_after` counts from the answer, not from when the
                // transaction was sent: a slow receiver must not shorten the wait it asked for.
                let answered = now_ms();
                let outcomes = batch
                    .items
                    .iter()
                    .zip(answer.results)
                    .map(|(item, result)| (item.id.clone(), outcome(&result, answered)))
                    .collect();
                store.outbox_record(destination, outcomes, None).await?;
                max = MAX_TXN_ENVELOPES;
            }
            Ok(answer) => {
                let reason = format!(
                    "{} results for {} envelopes",
                    answer.results.len(),
                    batch.items.len()
                );
                return back_off(
                    config,
                    store,
                    destination,
                    &batch.items,
                    failures,
                    &reason,
                    None,
                )
                .await;
            }
            Err(DeliveryError::Transient {
                reason,
                retry_after,
            }) => {
                return back_off(
                    config,
                    store,
                    destination,
                    &batch.items,
                    failures,
                    &reason,
                    retry_after,
                )
                .await;
            }
            Err(DeliveryError::Permanent { code }) => {
                let outcomes = batch
                    .items
                    .iter()
                    .map(|i| (i.id.clone(), Delivery::Failed { code: code.clone() }))
                    .collect();
                store.outbox_record(destination, outcomes, None).await?;
            }
            Err(DeliveryError::TooLarge) if max > 1 => max /= 2,
            Err(DeliveryError::TooLarge) => {
                let outcomes = batch
                    .items
                    .iter()
                    .map(|i| {
                        let code = "payload_too_large".to_owned();
                        (i.id.clone(), Delivery::Failed { code })
                    })
                    .collect();
                store.outbox_record(destination, outcomes, None).await?;
            }
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
