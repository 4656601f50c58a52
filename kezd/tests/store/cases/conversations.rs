//! Conversations (SPEC §11, `kezd::conversation`) as every backend keeps them: per direction,
//! never moving back in time, kept across a reopen, forgotten only when old.

use kezd::conversation::Conversation;
use kezd::store::Store;

use crate::backend::Backend;

async fn look_up(store: &dyn Store, sender: &str, recipient: &str) -> Conversation {
    store
        .conversation(sender, recipient)
        .await
        .expect("look-up")
}

async fn record(store: &dyn Store, pairs: &[(&str, &str)], at_ms: i64) {
    let pairs = pairs
        .iter()
        .map(|&(s, r)| (s.to_owned(), r.to_owned()))
        .collect();
    store
        .record_conversations(pairs, at_ms)
        .await
        .expect("record");
}

const fn seen(sent_ms: Option<i64>, replied_ms: Option<i64>) -> Conversation {
    Conversation {
        sent_ms,
        replied_ms,
    }
}

pub async fn conversations_are_kept_per_direction_and_forgotten_when_old(backend: &dyn Backend) {
    let store = backend.open().await;
    assert_eq!(look_up(&*store, "a@x", "b@y").await, seen(None, None));
    // The same pair twice in one call is one record.
    record(&*store, &[("a@x", "b@y"), ("a@x", "b@y")], 1_000).await;
    assert_eq!(
        look_up(&*store, "a@x", "b@y").await,
        seen(Some(1_000), None)
    );
    assert_eq!(
        look_up(&*store, "b@y", "a@x").await,
        seen(None, Some(1_000)),
        "seen from the other side, a reply"
    );
    record(&*store, &[("a@x", "b@y")], 500).await;
    assert_eq!(
        look_up(&*store, "a@x", "b@y").await,
        seen(Some(1_000), None),
        "a record never moves back"
    );
    record(&*store, &[("b@y", "a@x"), ("a@x", "b@y")], 2_000).await;
    assert_eq!(
        look_up(&*store, "a@x", "b@y").await,
        seen(Some(2_000), Some(2_000))
    );
    record(&*store, &[("c@x", "c@x")], 5).await;
    assert_eq!(
        look_up(&*store, "c@x", "c@x").await,
        seen(Some(5), Some(5)),
        "writing to oneself is both directions"
    );
    store.close().await;
    drop(store);

    let store = backend.open().await;
    assert_eq!(
        look_up(&*store, "a@x", "b@y").await,
        seen(Some(2_000), Some(2_000)),
        "kept across a reopen"
    );
    assert_eq!(
        store.forget_conversations(2_000).await.expect("forget"),
        1,
        "only the conversation recorded before 2,000 goes"
    );
    assert_eq!(look_up(&*store, "c@x", "c@x").await, seen(None, None));
    assert_eq!(
        look_up(&*store, "a@x", "b@y").await,
        seen(Some(2_000), Some(2_000))
    );
}

/// Many look-ups at once (which a store may read together) each get their own pair's answer,
/// from both sides.
pub async fn concurrent_look_ups_each_get_their_own_conversation(backend: &dyn Backend) {
    let store = backend.open().await;
    let sender = |i: i64| format!("s{i}@x");
    // s_i wrote to r at i when i is even; r answered s_i at 1,000 + i when i is a multiple of 3.
    let sent = |i: i64| (i % 2 == 0).then_some(i);
    let replied = |i: i64| (i % 3 == 0).then_some(1_000 + i);
    for i in 0..40 {
        if let Some(at) = sent(i) {
            record(&*store, &[(&sender(i), "r@y")], at).await;
        }
        if let Some(at) = replied(i) {
            record(&*store, &[("r@y", &sender(i))], at).await;
        }
    }
    let pairs: Vec<(String, String, Conversation)> = (0..40)
        .flat_map(|i| {
            [
                (sender(i), "r@y".to_owned(), seen(sent(i), replied(i))),
                ("r@y".to_owned(), sender(i), seen(replied(i), sent(i))),
            ]
        })
        .collect();
    let found =
        futures_util::future::join_all(pairs.iter().map(|(s, r, _)| look_up(&*store, s, r))).await;
    for ((s, r, want), got) in pairs.iter().zip(found) {
        assert_eq!(got, *want, "{s} to {r}");
    }
}
