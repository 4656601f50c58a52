//! Periodic upkeep that no request triggers: forgetting rate-limiter keys that are back to full
//! (bounding the limiters' memory), applying the retention policy (SPEC §8.4), forgetting
//! what federation keeps for a week (SPEC §9.4, §9.7) and conversations a year old (SPEC §11).
//! One task, stopped by the shutdown signal.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::state::AppState;

/// How often limiter keys are pruned: the shortest limiter window, so a key lives at most
/// about two windows after its last use.
const LIMITER_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// How long a finished outbox row (its delivery status, SPEC §9.7) and a received
/// transaction's response (SPEC §9.4) are kept: both "at least 7 days", plus the 600 s by
/// which a message id must outlive its acceptance (SPEC §8.7; the store's `ID_MEMORY_MS`),
/// since the outbox row is what remembers a remote message's id.
const FEDERATION_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600 + 600);

/// Starts the upkeep task; it ends when the daemon's shutdown signal is triggered.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stop = state.shutdown().signalled();
        tokio::pin!(stop);
        let mut prune = interval(LIMITER_PRUNE_INTERVAL);
        let mut sweep = interval(state.config().retention.sweep_interval);
        loop {
            tokio::select! {
                () = &mut stop => break,
                _ = prune.tick() => state.limiters().retain_recent(),
                _ = sweep.tick() => sweep_retention(&state).await,
            }
        }
    })
}

/// An interval whose first tick is one period from now (not at once: nothing is due at start)
/// and that does not burst to catch up after a stall.
fn interval(period: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

async fn sweep_retention(state: &AppState) {
    let retention = &state.config().retention;
    let now_ms = i64::try_from(crate::clock::now_ms()).unwrap_or(i64::MAX);
    let max_age_ms = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX)
        / if crate::faults::on("retention_early") {
            2
        } else {
            1
        };
    let older_than_ms = now_ms.saturating_sub(max_age_ms);
    let store = state.store();
    let result = state
        .metrics()
        .time_store(
            "enforce_retention",
            store.enforce_retention(older_than_ms, retention.max_per_inbox.get()),
        )
        .await;
    match result {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "retention removed expired messages"),
        Err(error) => tracing::error!(error = ?error, "retention sweep failed: {error}"),
    }
    let memory_ms = i64::try_from(FEDERATION_MEMORY.as_millis()).unwrap_or(i64::MAX);
    let result = state
        .metrics()
        .time_store(
            "forget_federation",
            store.forget_federation(now_ms.saturating_sub(memory_ms)),
        )
        .await;
    match result {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "forgot finished deliveries and old transactions"),
        Err(error) => tracing::error!(error = ?error, "forgetting federation rows failed: {error}"),
    }
    let memory_ms = i64::try_from(crate::conversation::MEMORY.as_millis()).unwrap_or(i64::MAX);
    let result = state
        .metrics()
        .time_store(
            "forget_conversations",
            store.forget_conversations(now_ms.saturating_sub(memory_ms)),
        )
        .await;
    match result {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "forgot conversations silent for a year"),
        Err(error) => tracing::error!(error = ?error, "forgetting conversations failed: {error}"),
    }
}
