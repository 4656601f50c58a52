//! What only the PostgreSQL store must prove, because only it has many writers: seqs that
//! never become visible out of order while many connections of several instances accept into
//! one inbox, one database shared by two instances, and outbox claims between instances.
//! Each test runs when `KEZ_TEST_POSTGRES_URL` is set (see `main.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kezd::store::{Accepted, PostgresOptions, PostgresStore, Store};

use crate::backend::Postgres;
use crate::cases::{accept_new, local, register_all, remote};

/// Two instances on one database, as two kezd behind a load balancer.
async fn two_instances(db: &Postgres, lease: Duration) -> (Arc<PostgresStore>, Arc<PostgresStore>) {
    let options = |connections| {
        let mut options = PostgresOptions::new(db.url());
        options.max_connections = connections;
        options.outbox_lease = lease;
        options
    };
    (
        db.open_with(options(16)).await,
        db.open_with(options(16)).await,
    )
}

/// 32 accepters spread over two instances' pools (32 connections in all) race to one inbox
/// while three readers page it with moving cursors and small pages. Every page must continue
/// exactly at the cursor: a reader that saw seq n+1 before seq n was visible would skip n,
/// which later appears. Nothing is deleted, so any jump is such a skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seqs_never_become_visible_out_of_order_over_a_pool() {
    const ACCEPTERS: usize = 32;
    const PER_ACCEPTER: usize = 150;
    const TOTAL: u64 = (ACCEPTERS * PER_ACCEPTER) as u64;
    let Some(db) = Postgres::from_env().await else {
        return;
    };
    let (a, b) = two_instances(&db, Duration::from_secs(60)).await;
    register_all(&*a, &["alice", "bob"]).await;
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..3u32)
        .map(|r| {
            let store: Arc<dyn Store> = if r % 2 == 0 { a.clone() } else { b.clone() };
            let done = done.clone();
            tokio::spawn(async move {
                let (mut since, mut pages) = (0u64, 0u64);
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let page = store
                        .inbox("alice", since, 3 + r, usize::MAX)
                        .await
                        .expect("inbox");
                    for message in &page {
                        assert_eq!(
                            message.seq,
                            since + 1,
                            "reader {r} skipped seq {}: seq {} was visible first",
                            since + 1,
                            message.seq
                        );
                        since = message.seq;
                    }
                    pages += 1;
                    if page.is_empty() {
                        if finished {
                            return (since, pages);
                        }
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();

    let accepters: Vec<_> = (0..ACCEPTERS)
        .map(|task| {
            let store: Arc<dyn Store> = if task % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let mut seqs = Vec::with_capacity(PER_ACCEPTER);
                for n in 0..PER_ACCEPTER {
                    seqs.push(
                        accept_new(&*store, local(&format!("t{task}-{n}"), "alice", 1)).await,
                    );
                    if n % 10 == 0 {
                        // Another inbox's accepts must not disturb alice's order.
                        accept_new(&*store, local(&format!("t{task}-{n}-bob"), "bob", 1)).await;
                    }
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for accepter in accepters {
        all.extend(accepter.await.expect("accepter"));
    }
    done.store(true, Ordering::Release);
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=TOTAL).collect::<Vec<_>>(),
        "seqs are exactly 1..=N"
    );
    for reader in readers {
        let (last, pages) = reader.await.expect("reader");
        assert_eq!(last, TOTAL, "every reader reached the end");
        assert!(
            pages > 10,
            "the reader paged while accepts ran ({pages} pages)"
        );
    }
    assert_eq!(a.latest_seq("alice").await.expect("latest"), TOTAL);
    assert_eq!(
        b.latest_seq("bob").await.expect("latest"),
        15 * ACCEPTERS as u64
    );
}

/// The same messages accepted at once through both instances' group writers (a client
/// retrying against another instance, two origins' deliveries): each id is stored once, the
/// losers are answered as duplicates naming the winner's seq, and the inbox has no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_groups_of_two_instances_store_each_id_once() {
    const MESSAGES: usize = 300;
    let Some(db) = Postgres::from_env().await else {
        return;
    };
    let (a, b) = two_instances(&db, Duration::from_secs(60)).await;
    register_all(&*a, &["alice"]).await;
    let tasks: Vec<_> = (0..MESSAGES)
        .flat_map(|n| [(n, a.clone()), (n, b.clone())])
        .map(|(n, store)| {
            tokio::spawn(async move {
                let message = if n % 3 == 0 {
                    remote(&format!("r{n}"), "b.example", "bob")
                } else {
                    local(&format!("m{n}"), "alice", 1)
                };
                let id = message.id.clone();
                (id, store.accept(message).await.expect("accept"))
            })
        })
        .collect();
    let mut answers: std::collections::HashMap<String, Vec<Accepted>> = Default::default();
    for task in tasks {
        let (id, accepted) = task.await.expect("task");
        answers.entry(id).or_default().push(accepted);
    }
    let mut seqs = Vec::new();
    for (id, pair) in &answers {
        assert_eq!(pair.len(), 2, "{id}");
        let fresh: Vec<_> = pair.iter().filter(|a| !a.duplicate).collect();
        assert_eq!(fresh.len(), 1, "{id} stored once: {pair:?}");
        assert_eq!(
            pair[0].seq, pair[1].seq,
            "{id}: the duplicate names the first seq"
        );
        seqs.extend(fresh[0].seq);
    }
    seqs.sort_unstable();
    let locals = (0..MESSAGES).filter(|n| n % 3 != 0).count() as u64;
    assert_eq!(seqs, (1..=locals).collect::<Vec<_>>());
    let stored: HashSet<_> = a
        .inbox("alice", 0, 10_000, usize::MAX)
        .await
        .expect("inbox")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(stored.len() as u64, locals);
    let queued = b
        .outbox_pending("b.example", 0, 10_000)
        .await
        .expect("outbox");
    assert_eq!(queued.len(), MESSAGES.div_ceil(3));
}

/// What one instance writes, the other reads and deduplicates against.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_users_inboxes_and_message_ids() {
    let Some(db) = Postgres::from_env().await else {
        return;
    };
    let (a, b) = two_instances(&db, Duration::from_secs(60)).await;
    register_all(&*a, &["alice"]).await;
    assert!(b.user_by_handle("alice").await.expect("lookup").is_some());
    assert_eq!(accept_new(&*b, local("m1", "alice", 1)).await, 1);
    assert_eq!(accept_new(&*a, local("m2", "alice", 1)).await, 2);
    assert_eq!(
        a.accept(local("m1", "alice", 1)).await.expect("accept"),
        Accepted {
            seq: Some(1),
            duplicate: true
        }
    );
    let ids: Vec<_> = a
        .inbox("alice", 0, 10, usize::MAX)
        .await
        .expect("inbox")
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["m1", "m2"]);
    assert_eq!(b.ack("alice", 1).await.expect("ack"), 1);
    assert_eq!(accept_new(&*a, local("m3", "alice", 1)).await, 3);
}

/// Due destinations are listed to one instance at a time; the other takes them over once the
/// lease lapses (its holder stopped delivering, or died).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_destinations_are_claimed_by_one_instance_at_a_time() {
    const LEASE: Duration = Duration::from_millis(1_500);
    let Some(db) = Postgres::from_env().await else {
        return;
    };
    let (a, b) = two_instances(&db, LEASE).await;
    for (id, server) in [
        ("r1", "b.example"),
        ("r2", "c.example"),
        ("r3", "b.example"),
    ] {
        a.accept(remote(id, server, "bob")).await.expect("accept");
    }
    let listed = |store: Arc<PostgresStore>| async move {
        let mut due = store.outbox_destinations(1_000).await.expect("due");
        due.sort();
        due
    };
    // Both claim at once: each destination goes to exactly one of them.
    let (from_a, from_b) = tokio::join!(listed(a.clone()), listed(b.clone()));
    let claimed: HashSet<_> = from_a.iter().chain(&from_b).collect();
    assert_eq!(from_a.len() + from_b.len(), 2, "{from_a:?} {from_b:?}");
    assert_eq!(claimed.len(), 2);
    // Whoever holds a destination keeps getting it; the other does not.
    let (holder, other) = if from_a.len() == 2 {
        (a, b)
    } else if from_b.len() == 2 {
        (b, a)
    } else {
        // Split between them: still exclusive, and each keeps its own.
        assert_eq!(listed(a.clone()).await, from_a);
        assert_eq!(listed(b.clone()).await, from_b);
        return;
    };
    assert_eq!(listed(holder.clone()).await, ["b.example", "c.example"]);
    assert!(listed(other.clone()).await.is_empty());
    // The holder stops delivering: after the lease the other instance takes over.
    tokio::time::sleep(LEASE + Duration::from_millis(300)).await;
    assert_eq!(listed(other.clone()).await, ["b.example", "c.example"]);
    assert!(listed(holder.clone()).await.is_empty());
    // Recording outcomes renews the lease of the instance delivering.
    tokio::time::sleep(LEASE / 2).await;
    other
        .outbox_record("b.example", vec![], None)
        .await
        .expect("record");
    tokio::time::sleep(LEASE / 2 + Duration::from_millis(300)).await;
    assert_eq!(
        listed(holder.clone()).await,
        ["c.example"],
        "only c.example lapsed"
    );
}
