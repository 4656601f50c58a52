//! `kezd admin` in a cluster: a change made through one instance's admin socket, or on the
//! store directly by a `kezd admin` that finds no daemon, is announced over NATS, and the
//! other instance drops what it cached (kezd/src/changes.rs).

use std::future::Future;
use std::path::Path;

use crate::common::kez::{Api, LIVENESS, User, now_ms, now_secs};
use crate::harness::{Kezd, Options, Services, prefix};

/// Runs `kezd admin --config <config> <args> --json`; the outcome, after checking exit 0.
async fn admin(config: &Path, args: &[&str]) -> serde_json::Value {
    let ran = tokio::process::Command::new(env!("CARGO_BIN_EXE_kezd"))
        .env_clear()
        .arg("admin")
        .args(args)
        .arg("--json")
        .arg("--config")
        .arg(config)
        .output()
        .await
        .expect("kezd admin runs");
    assert!(ran.status.success(), "kezd admin {args:?}: {ran:?}");
    serde_json::from_slice(&ran.stdout).expect("one JSON line")
}

/// The status of alice's poll through `api`.
async fn poll_status(api: &Api, alice: &User) -> u16 {
    api.poll_raw(
        alice.handle.as_str(),
        "?since=0",
        Some(&alice.poll_credential(0, now_secs())),
    )
    .await
    .status()
    .as_u16()
}

/// Waits until `check` holds. Another instance applies a notice when it arrives, and nothing
/// outside it can await that, so this is a bounded poll.
async fn eventually<F: Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + LIVENESS;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_changes_on_one_instance_or_none_hold_on_every_instance() {
    let Some(services) = Services::from_env().await else {
        return;
    };
    let mut options = Options::new(&services, &prefix());
    options.extra_toml = "[federation]\nresolver = \"127.0.0.1:1\"\n".to_owned();
    let (a, b) = tokio::join!(Kezd::start(&options), Kezd::start(&options));
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    a.api.register_ok(&alice).await;
    a.api.register_ok(&bob).await;
    // B knows alice (her user is cached there) and streams for her.
    assert_eq!(poll_status(&b.api, &alice).await, 200);
    let mut stream = b.api.stream(&alice, None, false).await;
    assert!(stream.expect_open(0).await.is_empty());

    // Suspended through A's socket: B ends her stream and refuses her.
    let done = admin(&a.config_file(), &["users", "suspend", "alice"]).await;
    assert_eq!(done["changed"], true, "{done}");
    let end = tokio::time::timeout(LIVENESS, stream.next_frame())
        .await
        .expect("B ends the stream");
    assert_eq!(end, None);
    assert_eq!(poll_status(&b.api, &alice).await, 403);
    assert_eq!(poll_status(&a.api, &alice).await, 403);
    // Messages to her are accepted on either instance.
    b.api.send_ok(&bob.envelope(&alice, now_ms(), "kept")).await;

    // Lifted with no daemon answering (a data directory without a socket): the store is
    // changed directly and both instances are told over NATS.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let config = a.config_file();
    let data_dir = elsewhere.path().display().to_string();
    let done = admin(
        &config,
        &["users", "unsuspend", "alice", "--data-dir", &data_dir],
    )
    .await;
    assert_eq!(done["changed"], true, "{done}");
    for kezd in [&a, &b] {
        eventually("alice may poll again", || async {
            poll_status(&kezd.api, &alice).await == 200
        })
        .await;
    }
    assert_eq!(b.api.poll_all(&alice).await.len(), 1);

    // A block made through B's socket is refused by A.
    admin(&b.config_file(), &["servers", "block", "adm.example"]).await;
    let list = admin(&a.config_file(), &["servers", "list"]).await;
    assert_eq!(list["servers"][0]["server"], "adm.example", "{list}");
    eventually("A refuses the blocked server", || async {
        let user = a.api.get("/v1/u/someone@adm.example").await;
        user.status() == 404
    })
    .await;
}
