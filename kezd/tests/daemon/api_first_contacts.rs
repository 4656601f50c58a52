//! SPEC §11 through the API: conversations decide which limits a send counts against, a
//! recipient's contacts keep their own budget however many strangers write to it, a refused
//! send spends no quota, and conversations are remembered by the store across a restart.

use crate::common;

use common::json;
use common::kez::{Api, User, now_ms, start};

/// Registers `users` on the server behind `api`.
async fn register(api: &Api, users: &[&User]) {
    for user in users {
        api.register_ok(user).await;
    }
}

/// Sends one message and expects 429 `rate_limited` naming `limit`, with a Retry-After.
async fn expect_limited(api: &Api, from: &User, to: &User, limit: &str) {
    let refused = api.send(&from.envelope(to, now_ms(), "refused")).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body = json(refused).await;
    assert_eq!(body["error"], "rate_limited");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains(&format!("the {limit} limit")), "{message}");
}

/// Colluding strangers spend the recipient's budget for strangers; its contact (someone it
/// has written to) still gets through, and so does the recipient's own reply to a stranger.
#[tokio::test]
async fn strangers_cannot_lock_an_inbox() {
    let server = start(|raw| raw.rate.recipient_strangers_per_minute = 3).await;
    let api = Api::of(&server);
    let (victim, friend) = (User::new("victim", 1), User::new("friend", 2));
    let strangers: Vec<User> = (0..4)
        .map(|i| User::new(&format!("s{i}"), 10 + i))
        .collect();
    register(&api, &[&victim, &friend]).await;
    register(&api, &strangers.iter().collect::<Vec<_>>()).await;
    api.send_ok(&victim.envelope(&friend, now_ms(), "hi")).await;
    for stranger in &strangers[..3] {
        api.send_ok(&stranger.envelope(&victim, now_ms(), "spam"))
            .await;
    }
    expect_limited(&api, &strangers[3], &victim, "recipient_strangers").await;
    expect_limited(&api, &strangers[0], &victim, "recipient_strangers").await;
    for n in 0..5 {
        api.send_ok(&friend.envelope(&victim, now_ms(), &format!("{n}")))
            .await;
    }
    // Once the victim writes to a stranger, that sender is a contact too.
    api.send_ok(&victim.envelope(&strangers[3], now_ms(), "hello"))
        .await;
    api.send_ok(&strangers[3].envelope(&victim, now_ms(), "thanks"))
        .await;
    assert_eq!(api.poll_all(&victim).await.len(), 9, "3 + 5 + 1 stored");
}

/// A send refused for first contacts spends neither the sender's quota nor the would-be
/// recipient's: the sender's next allowed send succeeds, and the recipient's budget is whole.
#[tokio::test]
async fn a_refused_send_spends_no_quota() {
    let server = start(|raw| {
        raw.rate.sender_per_minute = 3;
        raw.rate.first_contacts_per_hour = 1;
        raw.rate.recipient_strangers_per_minute = 1;
    })
    .await;
    let api = Api::of(&server);
    let (alice, bob, carol, dave) = (
        User::new("alice", 1),
        User::new("bob", 2),
        User::new("carol", 3),
        User::new("dave", 4),
    );
    register(&api, &[&alice, &bob, &carol, &dave]).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "first contact"))
        .await;
    for _ in 0..5 {
        expect_limited(&api, &alice, &carol, "first_contacts").await;
    }
    // Sender quota: 1 of 3 used; the five refusals spent none of it.
    api.send_ok(&bob.envelope(&alice, now_ms(), "reply")).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "two")).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "three")).await;
    expect_limited(&api, &alice, &bob, "sender").await;
    // Carol's budget for strangers (1) was not spent by the refused first contacts.
    api.send_ok(&dave.envelope(&carol, now_ms(), "hello carol"))
        .await;
    let stored = api.poll_all(&carol).await;
    assert_eq!(stored.len(), 1, "only dave's message reached carol");
}

/// Conversations are kept by the store: after a restart a known conversation is still no
/// first contact, and a recipient's contacts are still its contacts.
#[tokio::test]
async fn conversations_survive_a_restart() {
    let server = start(|raw| {
        raw.rate.first_contacts_per_hour = 1;
        raw.rate.recipient_strangers_per_minute = 1;
    })
    .await;
    let api = Api::of(&server);
    let (alice, bob, carol, mallory) = (
        User::new("alice", 1),
        User::new("bob", 2),
        User::new("carol", 3),
        User::new("mallory", 4),
    );
    register(&api, &[&alice, &bob, &carol, &mallory]).await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "before")).await;
    api.send_ok(&bob.envelope(&carol, now_ms(), "before")).await;

    let server = server.restart().await;
    let api = Api::of(&server);
    // The limits' counters start over; the conversations do not.
    api.send_ok(&alice.envelope(&carol, now_ms(), "a first contact"))
        .await;
    api.send_ok(&alice.envelope(&bob, now_ms(), "not a first contact"))
        .await;
    expect_limited(&api, &alice, &mallory, "first_contacts").await;
    // Alice is a stranger to bob (he never wrote to her): she spent his strangers' budget,
    // and carol, whom he wrote to before the restart, is still his contact.
    expect_limited(&api, &mallory, &bob, "recipient_strangers").await;
    api.send_ok(&carol.envelope(&bob, now_ms(), "a contact"))
        .await;
}
