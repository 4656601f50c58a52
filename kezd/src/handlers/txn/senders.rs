//! Looking up a transaction's senders at their origin (SPEC §9.4 check 5), all of them before
//! any envelope is judged: each distinct sender once, several at once, and the whole within
//! one bound.
//!
//! One after another, a transaction of 100 senders whose origin answers slowly would live 100
//! times the request timeout, holding its body all along. Here it lives at most `bound`: a
//! sender whose look-up has not finished by then is answered like one whose origin could not
//! be reached — its envelopes are deferred (`unavailable`), the rest of the transaction goes
//! on — and the origin sends them again later (SPEC §9.4, §9.6).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use kez_federation::{FederationClient, FederationError};
use kez_spec::{Address, Primary};

/// What the origin says about one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// A user there, with this primary.
    Publishes(Primary),
    /// Not a user there, or its record does not hold up: `unknown_sender`.
    Unknown,
    /// Not known in time: defer its envelopes for this many seconds.
    Unreachable {
        /// Seconds before asking again is worth it.
        retry_after: u64,
    },
}

/// What each of `senders` (distinct) is, by address text, at most `concurrency` look-ups at
/// once; a sender not looked up within `bound` is [`Sender::Unreachable`] for `bound`
/// (at least a second). Every sender of `senders` has an entry.
pub async fn look_up(
    client: &FederationClient,
    senders: Vec<Address>,
    concurrency: usize,
    bound: Duration,
) -> HashMap<String, Sender> {
    let names: Vec<String> = senders.iter().map(ToString::to_string).collect();
    let deadline = tokio::time::Instant::now() + bound;
    let mut lookups = futures_util::stream::iter(senders)
        .map(|address| async move {
            let result = client.lookup(&address).await;
            let sender = match result {
                Ok(user) => Sender::Publishes(user.primary),
                // Not a user there, or the origin's answer about them does not hold up (a
                // record whose registration fails to verify): either way not a sender of
                // that origin; nor is a user whose account there was deleted (SPEC §4.7).
                Err(
                    FederationError::NotFound { .. }
                    | FederationError::Gone { .. }
                    | FederationError::Invalid { .. },
                ) => Sender::Unknown,
                Err(error) => {
                    tracing::info!(%address, %error, "sender lookup failed; deferring");
                    // Until the failure is forgotten, a retry would meet it again.
                    let left = client.lookup_retry_after(&address);
                    Sender::Unreachable {
                        retry_after: crate::error::retry_after_secs(left),
                    }
                }
            };
            (address.to_string(), sender)
        })
        .buffer_unordered(concurrency.max(1));
    let mut answered = HashMap::with_capacity(names.len());
    while let Ok(Some((name, sender))) = tokio::time::timeout_at(deadline, lookups.next()).await {
        answered.insert(name, sender);
    }
    // Dropping the stream cancels the look-ups still running; the cache lets a later caller
    // take over a fetch it shared with them.
    drop(lookups);
    let late = Sender::Unreachable {
        retry_after: crate::error::retry_after_secs(bound),
    };
    for name in names {
        answered.entry(name).or_insert_with_key(|name| {
            tracing::info!(sender = %name, ?bound, "sender lookup unfinished; deferring");
            late.clone()
        });
    }
    answered
}
