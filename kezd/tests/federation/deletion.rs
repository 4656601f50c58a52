//! Account deletion seen from a peer (SPEC §4.7): a lookup through one's own server of a user
//! deleted at theirs answers 410 `account_deleted` (their WebFinger's 410, remembered like a
//! 404), and a message to a deleted user is rejected there with `account_deleted`, which the
//! sender's delivery status reports.

use kez_spec::deletion::Deletion;

use crate::net::{self, Person, now_ms};

/// Deletes `person`'s account at their home server.
async fn delete(person: &Person) {
    let deletion = Deletion {
        handle: person.address.handle().clone(),
        server: person.address.server().clone(),
        primary: person.primary(),
        ts_ms: now_ms(),
    }
    .sign(&person.key);
    let r = person
        .http
        .post(format!("{}/v1/account/delete", person.home))
        .json(&deletion)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

#[tokio::test]
async fn peers_learn_of_a_deletion_at_their_next_lookup() {
    let net = net::start(&["a.test", "b.test"], "").await;
    let alice = Person::register(&net, "alice", "a.test").await;
    let bob = Person::register(&net, "bob", "b.test").await;
    let carol = Person::register(&net, "carol", "b.test").await;
    let a = net.node("a.test").expect("a");

    // carol is deleted before a.test ever looked her up: the lookup meets b.test's 410, and
    // so does the next one, answered from a.test's cache.
    delete(&carol).await;
    for _ in 0..2 {
        let r = net
            .client()
            .get(a.url("/v1/u/carol@b.test"))
            .send()
            .await
            .expect("lookup");
        assert_eq!(r.status(), 410);
        let body: serde_json::Value = r.json().await.expect("error body");
        assert_eq!(body["error"], "account_deleted", "{body}");
    }

    // bob got alice's messages; once deleted, b.test rejects the next one for good.
    let first = alice.send_queued(&bob, "before").await;
    let delivered = alice.wait_status(&first, "delivered").await;
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    delete(&bob).await;
    let late = alice.send_queued(&bob, "after").await;
    let failed = alice.wait_status(&late, "failed").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"], "account_deleted", "{failed}");
    net.shutdown().await.expect("shutdown");
}
