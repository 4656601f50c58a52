//! Durability: what was acknowledged is there after a close and reopen, or after a drop
//! without close; the crash-only mode opens and stores.

use kezd::store::StoreError;

use super::{accept_new, local, register_all, seqs, user};
use crate::backend::Backend;

pub async fn accepted_messages_survive_close_and_reopen(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    accept_new(&*store, local("m1", "alice", 1)).await;
    accept_new(&*store, local("m2", "alice", 2)).await;
    store.close().await;
    let closed = store.accept(local("m3", "alice", 3)).await;
    assert!(matches!(closed, Err(StoreError::Closed)), "{closed:?}");
    let closed = store.user_by_handle("alice").await;
    assert!(matches!(closed, Err(StoreError::Closed)), "{closed:?}");
    drop(store);

    let store = backend.open().await;
    assert_eq!(
        store.user_by_handle("alice").await.expect("lookup"),
        Some(user("alice", 1))
    );
    let page = store
        .inbox("alice", 0, 10, usize::MAX)
        .await
        .expect("inbox");
    let ids: Vec<_> = page.iter().map(|m| (m.seq, m.id.as_str())).collect();
    assert_eq!(ids, [(1, "m1"), (2, "m2")]);
    assert_eq!(accept_new(&*store, local("m3", "alice", 3)).await, 3);
    let dup = store.accept(local("m1", "alice", 1)).await.expect("accept");
    assert!(dup.duplicate);
}

pub async fn acknowledged_writes_survive_a_drop_without_close(backend: &dyn Backend) {
    {
        let store = backend.open().await;
        register_all(&*store, &["alice"]).await;
        accept_new(&*store, local("m1", "alice", 1)).await;
    }
    let store = backend.open().await;
    assert_eq!(seqs(&*store, "alice").await, [1]);
    assert_eq!(accept_new(&*store, local("m2", "alice", 2)).await, 2);
}

pub async fn crash_only_durability_opens_and_stores(backend: &dyn Backend) {
    let store = backend.open_crash_only().await;
    register_all(&*store, &["alice"]).await;
    assert_eq!(accept_new(&*store, local("m1", "alice", 1)).await, 1);
    store.close().await;
    store.close().await; // Idempotent.
}
