//! What administration keeps (`kezd admin`): suspensions of registered users only, each
//! write telling whether it changed anything; server blocks; users in pages; the audit log;
//! the outbox per destination.

use kezd::store::{AdminWrite, AuditEntry, Delivery, Suspension};

use super::{queue_remote, register_all};
use crate::backend::Backend;

fn suspend(handle: &str, at_ms: i64) -> AdminWrite {
    AdminWrite::Suspend {
        handle: handle.to_owned(),
        at_ms,
        reason: Some("spam".to_owned()),
    }
}

pub async fn suspensions_blocks_pages_and_audit(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice", "bob", "carol"]).await;

    assert_eq!(
        store.admin_write(suspend("bob", 5)).await.expect("suspend"),
        1
    );
    assert_eq!(
        store.admin_write(suspend("bob", 6)).await.expect("again"),
        0,
        "already suspended: nothing changes, the first time stays"
    );
    assert!(
        store.admin_write(suspend("nobody", 5)).await.is_err(),
        "only registered users can be suspended"
    );
    assert_eq!(store.suspended_handles().await.expect("read"), ["bob"]);
    let bob = store.user_entry("bob").await.expect("read").expect("bob");
    assert_eq!(
        bob.suspension,
        Some(Suspension {
            at_ms: 5,
            reason: Some("spam".to_owned())
        })
    );
    assert_eq!(store.user_entry("dave").await.expect("read"), None);

    let page = store.users_page("", 2).await.expect("page");
    let handles: Vec<&str> = page.iter().map(|u| u.handle.as_str()).collect();
    assert_eq!(handles, ["alice", "bob"]);
    assert_eq!(page[0].suspension, None);
    let rest = store.users_page("bob", 2).await.expect("page");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].handle, "carol");

    let unsuspend = || AdminWrite::Unsuspend {
        handle: "bob".to_owned(),
    };
    assert_eq!(store.admin_write(unsuspend()).await.expect("lift"), 1);
    assert_eq!(store.admin_write(unsuspend()).await.expect("again"), 0);
    assert!(store.suspended_handles().await.expect("read").is_empty());

    let block = |server: &str| AdminWrite::Block {
        server: server.to_owned(),
        at_ms: 7,
        reason: None,
    };
    assert_eq!(
        store.admin_write(block("b.example")).await.expect("block"),
        1
    );
    assert_eq!(
        store.admin_write(block("b.example")).await.expect("again"),
        0
    );
    store.admin_write(block("a.example")).await.expect("block");
    let blocked: Vec<String> = store
        .server_blocks()
        .await
        .expect("read")
        .into_iter()
        .map(|b| b.server)
        .collect();
    assert_eq!(blocked, ["a.example", "b.example"]);
    let unblock = AdminWrite::Unblock {
        server: "a.example".to_owned(),
    };
    assert_eq!(store.admin_write(unblock).await.expect("unblock"), 1);
    assert_eq!(store.server_blocks().await.expect("read").len(), 1);

    let entry = AuditEntry {
        at_ms: 8,
        actor: "uid:0".to_owned(),
        action: "users.suspend".to_owned(),
        target: Some("bob".to_owned()),
        outcome: "ok".to_owned(),
    };
    for _ in 0..2 {
        let written = store.admin_write(AdminWrite::Audit(entry.clone())).await;
        assert_eq!(
            written.expect("audit"),
            1,
            "every action is a row of its own"
        );
    }
}

pub async fn destination_reports_show_pending_failures_and_backoff(backend: &dyn Backend) {
    let store = backend.open().await;
    register_all(&*store, &["alice"]).await;
    assert!(store.destination_reports().await.expect("read").is_empty());
    queue_remote(&*store, "b.example", &["r1", "r2"]).await;
    queue_remote(&*store, "c.example", &["r3"]).await;
    let retry = Delivery::Retry {
        at_ms: 9_000,
        error: "unavailable".to_owned(),
    };
    store
        .outbox_record(
            "c.example",
            vec![("r3".to_owned(), retry)],
            Some((2, 9_000)),
        )
        .await
        .expect("record");

    let reports = store.destination_reports().await.expect("read");
    assert_eq!(reports.len(), 2, "{reports:?}");
    let (b, c) = (&reports[0], &reports[1]);
    assert_eq!(
        (b.destination.as_str(), b.pending, b.failures),
        ("b.example", 2, 0)
    );
    assert_eq!(b.retry_at_ms, None);
    assert_eq!(b.oldest_ms, Some(1_000));
    assert_eq!(
        (c.destination.as_str(), c.pending, c.failures),
        ("c.example", 1, 2)
    );
    assert_eq!(
        (c.retry_at_ms, c.next_attempt_ms),
        (Some(9_000), Some(9_000))
    );

    // Delivered: c.example has nothing pending and no backoff, so it is not listed.
    store
        .outbox_record(
            "c.example",
            vec![("r3".to_owned(), Delivery::Delivered)],
            None,
        )
        .await
        .expect("record");
    let reports = store.destination_reports().await.expect("read");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].destination, "b.example");
}
