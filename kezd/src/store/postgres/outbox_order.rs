//! Outbox rows become visible in the order of their positions, per destination.
//!
//! Why: delivery reads a destination's pending rows with a cursor on `position` (SPEC §9.5
//! orders a sender's envelopes by acceptance), and `position` comes from a sequence, which
//! hands out numbers when rows are inserted, not when they commit. With two writers (two
//! instances, or a group beside a single accept) a row with a lower position could commit
//! after a higher one was already read: the cursor would have passed it, and it would go out
//! in a later pass, after the sender's later messages. Holding a lock per destination from
//! before the insert until the commit makes each destination's positions commit in order;
//! writers to different destinations do not wait for each other.
//!
//! Transaction-level advisory locks, taken in sorted order and after a transaction's other
//! locks (inbox counters, claimed ids), so two writers never wait for each other in a circle.

use sqlx::Transaction;
use sqlx::postgres::Postgres;

use crate::store::StoreError;

/// Locks `destinations` (sorted and deduplicated here) until the transaction ends.
pub(super) async fn lock_destinations<'a>(
    tx: &mut Transaction<'_, Postgres>,
    destinations: impl IntoIterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let mut destinations: Vec<&str> = destinations.into_iter().collect();
    destinations.sort_unstable();
    destinations.dedup();
    for destination in destinations {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('kez-outbox:' || $1, 0))")
            .bind(destination)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
