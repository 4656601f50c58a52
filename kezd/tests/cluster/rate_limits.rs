//! Spam limits in a cluster: each instance counts its own quotas (kezd/src/limits.rs), so
//! the cluster as a whole accepts `cluster_instances` times each, and that is what every
//! instance's server document publishes. One sender spread over both instances gets exactly
//! the published quota accepted, and the next send is refused on either.

use crate::common::kez::{User, expect_error, now_ms};
use crate::harness::{Kezd, Options, Services, prefix};

/// Sends per sender per minute, per instance.
const PER_INSTANCE: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_publishes_what_the_cluster_accepts_from_one_sender() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let mut options = Options::new(&services, &prefix());
    options.rate.insert("sender_per_minute", PER_INSTANCE);
    options.rate.insert("cluster_instances", 2);
    let (a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));
    for kezd in [&a, &b] {
        let document = kezd.server_document().await;
        let rate = &document["limits"]["rate"];
        assert_eq!(rate["sender_per_minute"], 2 * PER_INSTANCE, "{rate}");
        assert_eq!(rate["first_contacts_per_hour"], 2 * 1_000_000, "{rate}");
    }

    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    a.api.register_ok(&alice).await;
    a.api.register_ok(&bob).await;
    // The quota is a burst of one minute's worth: the test sends well within the minute.
    for n in 0..2 * PER_INSTANCE {
        let via = if n % 2 == 0 { &a } else { &b };
        via.api
            .send_ok(&alice.envelope(&bob, now_ms(), &format!("m{n}")))
            .await;
    }
    for (n, via) in [&a, &b].into_iter().enumerate() {
        let refused = via
            .api
            .send(&alice.envelope(&bob, now_ms(), &format!("over{n}")))
            .await;
        expect_error(refused, 429, "rate_limited").await;
    }
}
