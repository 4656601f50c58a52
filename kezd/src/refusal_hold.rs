//! Holding a client-limit refusal until the moment it names: a client over `client_per_minute`
//! gets its 429 when its `Retry-After` has passed (at most [`MAX_HOLD`]), not at once.
//!
//! Why: a refusal answered at once is an invitation to ask again at once. A client that keeps
//! one request in flight per connection and ignores `Retry-After` (the shape of every simple
//! flood) otherwise makes kezd answer as many refusals as one core can write — about 90,000 a
//! second here — and the honest requests queue behind them for the CPU. Held, the same client
//! gets one answer per connection per `Retry-After`, which is the rate its limit allows anyway;
//! a well-behaved client loses nothing, since it was told not to come back sooner.
//!
//! A held refusal costs a timer and the request's head (its body is never read), and the
//! number held at once is bounded by the address's connections (`max_connections_per_address`)
//! and their streams, like any request.

use std::time::Duration;

/// The longest a refusal is held: a bound on what a shutdown's drain waits for, and on how long
/// a client that does honour `Retry-After` can be kept from its answer.
pub const MAX_HOLD: Duration = Duration::from_secs(1);

/// How long to hold a refusal whose `Retry-After` is `retry_after`.
pub fn hold_for(retry_after: Duration) -> Duration {
    retry_after.min(MAX_HOLD)
}

/// Waits out the hold of a refusal whose `Retry-After` is `retry_after`.
pub async fn hold(retry_after: Duration) {
    tokio::time::sleep(hold_for(retry_after)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_held_until_its_retry_after_and_never_past_the_bound() {
        assert_eq!(
            hold_for(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
        assert_eq!(hold_for(Duration::ZERO), Duration::ZERO);
        assert_eq!(hold_for(Duration::from_secs(60)), MAX_HOLD);
    }
}
