//! Account deletion (`kezd::store`, SPEC §4.7): the user, inbox and counter go, the sender's
//! pending outbound messages fail with `sender_deleted` and keep their ids, a retry is
//! answered as one, and the tombstone holds the handle until its release time and the
//! primary for good.

use kezd::store::{
    AccountDeletion, DeleteOutcome, Delivery, SENDER_DELETED, Store, StoreError, Tombstone,
    UserRecord,
};

use super::{accept_new, key, local, queue_remote, register_all, user};
use crate::backend::Backend;

/// Deleted at `DELETED`, released a day later (the store takes the times it is given).
const DELETED: i64 = 1_700_000_100_000;
const RELEASED: i64 = DELETED + 86_400_000;

/// A deletion of `handle@kez.test` signed by the primary of `user(handle, key)`.
fn deletion(handle: &str, key: u8) -> AccountDeletion {
    AccountDeletion {
        handle: handle.to_owned(),
        primary: user(handle, key).primary,
        address: format!("{handle}@kez.test"),
        deleted_at_ms: DELETED,
        released_at_ms: RELEASED,
        deletion_json: format!(r#"{{"type":"deletion","handle":"{handle}"}}"#),
    }
}

fn tombstone(handle: &str, key: u8) -> Tombstone {
    Tombstone {
        handle: handle.to_owned(),
        primary: user(handle, key).primary,
        deleted_at_ms: DELETED,
        released_at_ms: RELEASED,
    }
}

/// A registration of `handle` with key `key`, made at `at_ms`.
fn registration_at(handle: &str, key: u8, at_ms: i64) -> UserRecord {
    UserRecord {
        registered_at_ms: at_ms,
        ..user(handle, key)
    }
}

pub async fn deletion_removes_the_user_inbox_and_pending_outbox(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    accept_new(&*store, local("l1", "alice", 5)).await;
    // Queued by alice@kez.test: one delivered before the deletion, two still pending.
    queue_remote(&*store, "b.example", &["r1", "r2", "r3"]).await;
    store
        .outbox_record("b.example", vec![("r1".into(), Delivery::Delivered)], None)
        .await
        .expect("record");

    let outcome = store.delete_account(deletion("alice", 1)).await;
    assert_eq!(
        outcome.expect("delete"),
        DeleteOutcome::Deleted(tombstone("alice", 1))
    );

    assert_eq!(store.user_by_handle("alice").await.expect("lookup"), None);
    let primary = user("alice", 1).primary;
    assert_eq!(store.user_by_primary(&primary).await.expect("lookup"), None);
    assert!(
        store
            .inbox("alice", 0, 100, usize::MAX)
            .await
            .expect("inbox")
            .is_empty()
    );
    assert_eq!(store.latest_seq("alice").await.expect("latest"), 0);
    // What was delivered stays delivered; what waited is failed, its id still known.
    let status = |id: &'static str| {
        let store = &store;
        async move {
            store
                .message_status(id)
                .await
                .expect("status")
                .expect("known")
        }
    };
    assert_eq!(status("r1").await.status, "delivered");
    for id in ["r2", "r3"] {
        let failed = status(id).await;
        assert_eq!(failed.status, "failed", "{id}");
        assert_eq!(failed.error.as_deref(), Some(SENDER_DELETED), "{id}");
    }
    assert!(
        store
            .outbox_pending("b.example", 0, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    assert_eq!(
        store
            .known_ids(&[key("l1", 5), key("r2", 1_000)])
            .await
            .expect("ids")
            .len(),
        2
    );
    // Messages to the deleted user are refused; bob is untouched.
    let refused = store.accept(local("l2", "alice", 6)).await;
    assert!(
        matches!(refused, Err(StoreError::UnknownRecipient { .. })),
        "{refused:?}"
    );
    assert_eq!(accept_new(&*store, local("l3", "bob", 7)).await, 1);
}

pub async fn deletion_retry_mismatch_and_unknown(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob"]).await;
    let wrong = store.delete_account(deletion("alice", 2)).await;
    assert!(
        matches!(&wrong, Err(StoreError::PrimaryMismatch { handle }) if handle == "alice"),
        "{wrong:?}"
    );
    let nobody = store.delete_account(deletion("carol", 3)).await;
    assert!(
        matches!(nobody, Err(StoreError::NotRegistered { .. })),
        "{nobody:?}"
    );
    assert!(
        store
            .user_by_handle("alice")
            .await
            .expect("lookup")
            .is_some()
    );

    store
        .delete_account(deletion("alice", 1))
        .await
        .expect("delete");
    // A retry, later, is answered with the first deletion's times.
    let mut retry = deletion("alice", 1);
    retry.deleted_at_ms += 60_000;
    retry.released_at_ms += 60_000;
    let again = store.delete_account(retry).await.expect("retry");
    assert_eq!(again, DeleteOutcome::Existing(tombstone("alice", 1)));
    // The same key cannot delete another handle with it.
    let other = store.delete_account(deletion("bob", 1)).await;
    assert!(
        matches!(other, Err(StoreError::PrimaryMismatch { .. })),
        "{other:?}"
    );
}

pub async fn tombstone_holds_the_handle_until_release_and_the_primary_for_good(
    backend: &dyn Backend,
) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    store
        .delete_account(deletion("alice", 1))
        .await
        .expect("delete");

    let held = |at| store.deleted_handle("alice", at);
    assert_eq!(
        held(RELEASED - 1).await.expect("held"),
        Some(tombstone("alice", 1))
    );
    assert_eq!(held(RELEASED).await.expect("held"), None);
    let primary = user("alice", 1).primary;
    assert_eq!(
        store.deleted_primary(&primary).await.expect("primary"),
        Some(tombstone("alice", 1))
    );
    assert_eq!(
        store
            .deleted_primary(&user("bob", 2).primary)
            .await
            .expect("primary"),
        None
    );

    // The handle, to another key: refused until the release, then free.
    let early = store
        .register(registration_at("alice", 2, RELEASED - 1))
        .await;
    assert!(
        matches!(early, Err(StoreError::HandleTaken { .. })),
        "{early:?}"
    );
    // The primary, under any handle, at any time.
    let returning = store
        .register(registration_at("alice2", 1, RELEASED + 1))
        .await;
    assert!(
        matches!(returning, Err(StoreError::PrimaryTaken { .. })),
        "{returning:?}"
    );
    let again = store
        .register(registration_at("alice", 1, RELEASED + 1))
        .await;
    assert!(
        matches!(again, Err(StoreError::PrimaryTaken { .. })),
        "{again:?}"
    );
    store
        .register(registration_at("alice", 2, RELEASED))
        .await
        .expect("released handle registers");
    // The new owner's inbox starts afresh.
    assert_eq!(accept_new(&*store, local("n1", "alice", 8)).await, 1);
}

/// A deletion survives closing and reopening: it was durable when answered.
pub async fn deletion_is_durable(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    store
        .delete_account(deletion("alice", 1))
        .await
        .expect("delete");
    store.close().await;
    let store: std::sync::Arc<dyn Store> = backend.open().await;
    assert_eq!(store.user_by_handle("alice").await.expect("lookup"), None);
    assert!(
        store
            .deleted_handle("alice", DELETED)
            .await
            .expect("held")
            .is_some()
    );
}
