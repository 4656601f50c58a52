//! Account deletion across instances (SPEC §4.7): a deletion made through one instance ends
//! the account's stream open on the other and makes it refuse messages to the account, through
//! the cluster's change notice.

use crate::common::kez::{expect_error, now_ms};
use crate::harness::{Kezd, Options, Services, prefix};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deletion_through_one_instance_reaches_the_other() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let options = Options::new(&services, &prefix());
    let (a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));
    let alice = crate::common::kez::User::new("alice", 1);
    let bob = crate::common::kez::User::new("bob", 2);
    a.api.register_ok(&alice).await;
    b.api.register_ok(&bob).await;
    // b learns alice (her stream's credential) and keeps her in its cache.
    let mut on_b = b.api.stream(&alice, None, false).await;
    assert!(on_b.expect_open(0).await.is_empty());
    b.api
        .send_ok(&bob.envelope(&alice, now_ms(), "before"))
        .await;
    assert_eq!(on_b.expect_message().await["seq"], 1);

    let server = alice.server.as_str().to_owned();
    let answer = a
        .api
        .post_json("/v1/account/delete", &alice.deletion_on(&server, now_ms()))
        .await;
    assert_eq!(answer.status(), 200);
    while let Some(frame) = on_b.next_frame().await {
        assert!(frame.is_keep_alive(), "{frame:?}");
    }
    let late = bob.envelope(&alice, now_ms(), "after");
    expect_error(b.api.send(&late).await, 410, "account_deleted").await;
    expect_error(b.api.get("/v1/u/alice").await, 410, "account_deleted").await;
}
