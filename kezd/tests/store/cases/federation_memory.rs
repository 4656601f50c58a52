//! What federation remembers: a transaction's response (the first one wins) and
//! finished deliveries, both forgotten when old while pending deliveries stay.

use kezd::store::Delivery;

use super::queue_remote;
use crate::backend::Backend;

pub async fn transaction_responses_first_one_wins(backend: &dyn Backend) {
    let store = backend.open().await;
    assert_eq!(
        store.txn_response("a.example", "t1").await.expect("read"),
        None
    );
    store
        .save_txn_response("a.example", "t1", "first".into(), 1)
        .await
        .expect("save");
    store
        .save_txn_response("a.example", "t1", "second".into(), 2)
        .await
        .expect("save again");
    store
        .save_txn_response("b.example", "t1", "other origin".into(), 3)
        .await
        .expect("save");
    let read = |origin: &'static str| {
        let store = &store;
        async move { store.txn_response(origin, "t1").await.expect("read") }
    };
    assert_eq!(read("a.example").await.as_deref(), Some("first"));
    assert_eq!(read("b.example").await.as_deref(), Some("other origin"));
    assert_eq!(
        store.txn_response("a.example", "t2").await.expect("read"),
        None
    );
}

pub async fn finished_deliveries_and_old_transactions_are_forgotten(backend: &dyn Backend) {
    let store = backend.open().await;
    queue_remote(&*store, "b.example", &["r1", "r2", "r3"]).await;
    let finished = vec![
        ("r1".into(), Delivery::Delivered),
        (
            "r2".into(),
            Delivery::Failed {
                code: "unknown_recipient".into(),
            },
        ),
    ];
    store
        .outbox_record("b.example", finished, None)
        .await
        .expect("record");
    let now = i64::try_from(kezd::clock::now_ms()).expect("a clock after 1970");
    let response = |txn: &str| format!(r#"{{"results":[],"txn":"{txn}"}}"#);
    store
        .save_txn_response("a.example", "old", response("old"), 1_000)
        .await
        .expect("save");
    store
        .save_txn_response("a.example", "new", response("new"), now)
        .await
        .expect("save");

    // A minute ago, only the old transaction had been received: it alone goes.
    assert_eq!(
        store.forget_federation(now - 60_000).await.expect("forget"),
        1
    );
    assert_eq!(
        store.txn_response("a.example", "old").await.expect("read"),
        None
    );
    assert_eq!(
        store.txn_response("a.example", "new").await.expect("read"),
        Some(response("new"))
    );
    let status = |id| {
        let store = &store;
        async move { store.message_status(id).await.expect("status") }
    };
    assert_eq!(status("r1").await.map(|s| s.status), Some("delivered"));
    assert_eq!(status("r2").await.map(|s| s.status), Some("failed"));

    // A minute from now, both finished rows and the newer transaction are in the past; the
    // pending row stays, however old.
    assert_eq!(
        store.forget_federation(now + 60_000).await.expect("forget"),
        3
    );
    assert_eq!(status("r1").await, None);
    assert_eq!(status("r2").await, None);
    assert_eq!(status("r3").await.map(|s| s.status), Some("queued"));
    assert_eq!(
        store.txn_response("a.example", "new").await.expect("read"),
        None
    );
    let pending = store
        .outbox_pending("b.example", 0, 10)
        .await
        .expect("pending");
    assert_eq!(
        pending.into_iter().map(|i| i.id).collect::<Vec<_>>(),
        ["r3"]
    );
    assert_eq!(
        store.forget_federation(now + 60_000).await.expect("forget"),
        0
    );
    store.close().await;
}
