//! Registration (`kezd::store`): unique handles and primaries told apart, an identical
//! registration again is the existing one, and contested registrations at once each get the
//! right answer.

use std::sync::Arc;

use kezd::store::{RegisterOutcome, StoreError, UserRecord};

use super::user;
use crate::backend::Backend;

pub async fn register_then_look_up_by_handle_and_primary(backend: &dyn Backend) {
    let store = backend.open().await;
    let alice = user("alice", 1);
    let outcome = store.register(alice.clone()).await.expect("register");
    assert_eq!(outcome, RegisterOutcome::Created(alice.clone()));

    let by_handle = store.user_by_handle("alice").await.expect("lookup");
    assert_eq!(by_handle.as_ref(), Some(&alice));
    let by_primary = store.user_by_primary(&alice.primary).await.expect("lookup");
    assert_eq!(by_primary.as_ref(), Some(&alice));

    assert_eq!(store.user_by_handle("bob").await.expect("lookup"), None);
    let unknown = user("bob", 2).primary;
    assert_eq!(store.user_by_primary(&unknown).await.expect("lookup"), None);
}

pub async fn taken_handle_and_taken_primary_are_told_apart(backend: &dyn Backend) {
    let store = backend.open().await;
    store.register(user("alice", 1)).await.expect("register");

    let same_handle = store.register(user("alice", 2)).await;
    assert!(
        matches!(&same_handle, Err(StoreError::HandleTaken { handle }) if handle == "alice"),
        "{same_handle:?}"
    );
    let same_primary = store.register(user("bob", 1)).await;
    let taken = user("alice", 1).primary;
    assert!(
        matches!(&same_primary, Err(StoreError::PrimaryTaken { primary }) if *primary == taken),
        "{same_primary:?}"
    );
    // Neither failed attempt left anything behind.
    assert_eq!(store.user_by_handle("bob").await.expect("lookup"), None);
    let second = user("alice", 2).primary;
    assert_eq!(store.user_by_primary(&second).await.expect("lookup"), None);
}

pub async fn identical_registration_again_is_existing(backend: &dyn Backend) {
    let store = backend.open().await;
    let alice = user("alice", 1);
    store.register(alice.clone()).await.expect("register");
    let mut retry = alice.clone();
    retry.registered_at_ms += 5_000; // A retry arrives later; the first record stands.
    let again = store.register(retry).await.expect("register again");
    assert_eq!(again, RegisterOutcome::Existing(alice));

    // Same handle and primary but a different signed text is a different registration.
    let mut changed = user("alice", 1);
    changed.registration_json.push(' ');
    let changed = store.register(changed).await;
    assert!(
        matches!(changed, Err(StoreError::HandleTaken { .. })),
        "{changed:?}"
    );
}

pub async fn contested_registrations_at_once_get_the_right_answers(backend: &dyn Backend) {
    let store = backend.open().await;
    // 64 distinct users, plus 8 rivals for existing handles and 8 for existing primaries, all
    // at once (sharing SQLite's group commits; racing on PostgreSQL's unique indexes). Exactly
    // one of each contested pair may win, and one failure never fails another request.
    let mut requests: Vec<UserRecord> = (0..64u8).map(|k| user(&format!("u{k}"), k)).collect();
    for k in 0..8u8 {
        requests.push(user(&format!("u{k}"), 100 + k)); // handle taken (or takes it)
        requests.push(user(&format!("rival{k}"), 8 + k)); // primary of u{8+k}
    }
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|record| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { (record.clone(), store.register(record).await) })
        })
        .collect();
    let mut created = Vec::new();
    let (mut handle_taken, mut primary_taken) = (0, 0);
    for task in tasks {
        match task.await.expect("join") {
            (record, Ok(RegisterOutcome::Created(stored))) => {
                assert_eq!(stored, record);
                created.push(record);
            }
            (_, Err(StoreError::HandleTaken { .. })) => handle_taken += 1,
            (_, Err(StoreError::PrimaryTaken { .. })) => primary_taken += 1,
            (record, other) => panic!("{}: unexpected {other:?}", record.handle),
        }
    }
    assert_eq!((created.len(), handle_taken, primary_taken), (64, 8, 8));
    for record in &created {
        let by_handle = store.user_by_handle(&record.handle).await.expect("lookup");
        assert_eq!(by_handle.as_ref(), Some(record));
        let by_primary = store
            .user_by_primary(&record.primary)
            .await
            .expect("lookup");
        assert_eq!(by_primary.as_ref(), Some(record));
    }
}
