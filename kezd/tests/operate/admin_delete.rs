//! `kezd admin users delete` through the real binary (SPEC §4.7): refused without `--yes`;
//! with it, through the running daemon's socket — the account's stream ends, lookups answer
//! 410 `account_deleted`, the action is in the audit log — and, with the daemon stopped, on
//! the store directly, which the next daemon serves. On SQLite, and on PostgreSQL when
//! `KEZ_TEST_POSTGRES_URL` is set.

use std::path::Path;

use serde_json::Value;

use crate::common::kez::{Api, User, expect_error, now_ms};
use crate::daemon::{Daemon, message};

/// The server name every daemon here runs as.
const NAME: &str = "localhost";

#[tokio::test]
async fn admin_deletes_an_account_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    admin_deletes(&[], &dir.path().join("data")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_deletes_an_account_on_postgres() {
    let Some(database) = crate::backend::Postgres::from_env().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("database_url={}", database.url());
    let store = [
        "--set",
        url.as_str(),
        "--set",
        "public_base_url=https://localhost",
    ];
    admin_deletes(&store, &dir.path().join("data")).await;
}

/// `kezd admin <args>` on `data` with `store`'s settings: its exit code and stdout.
fn admin(store: &[&str], data: &Path, args: &[&str]) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kezd"))
        .env_clear()
        .args(["admin", "--server-name", NAME])
        .args(store)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("kezd admin runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code().expect("exited"), stdout)
}

async fn start(store: &[&str], data: &Path) -> (Daemon, Api) {
    let mut args = vec!["--server-name", NAME];
    args.extend_from_slice(store);
    let daemon = Daemon::start(&args, data).await;
    let api = Api::new(format!("http://{}", daemon.addr));
    (daemon, api)
}

async fn register(api: &Api, user: &User) {
    let response = api
        .post_json("/v1/register", &user.registration_on(NAME, now_ms()))
        .await;
    assert_eq!(response.status(), 201);
}

fn on_this_server(handle: &str, seed: u32) -> User {
    User {
        server: kez_spec::ServerName::parse(NAME).expect("valid"),
        ..User::new(handle, seed)
    }
}

async fn admin_deletes(store: &[&str], data: &Path) {
    let (alice, carol) = (on_this_server("alice", 1), on_this_server("carol", 3));
    let (mut daemon, api) = start(store, data).await;
    register(&api, &alice).await;
    register(&api, &carol).await;
    let mut stream = api.stream(&alice, None, false).await;
    assert!(stream.expect_open(0).await.is_empty());

    let (code, _) = admin(store, data, &["users", "delete", "alice"]);
    assert_eq!(code, 2, "a deletion without --yes is refused");
    assert_eq!(api.get("/v1/u/alice").await.status(), 200);
    let (code, out) = admin(
        store,
        data,
        &["users", "delete", "alice", "--yes", "--reason", "spam"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("alice is deleted"), "{out}");
    // Through the daemon: its stream ends at once, lookups answer 410, the audit has it.
    while let Some(frame) = stream.next_frame().await {
        assert!(frame.is_keep_alive(), "{frame:?}");
    }
    expect_error(api.get("/v1/u/alice").await, 410, "account_deleted").await;
    let audit = daemon
        .wait_for(|line| {
            message(line) == "admin action" && line["fields"]["action"] == "users.delete"
        })
        .await;
    assert_eq!(audit["fields"]["target"], "alice", "{audit}");
    assert_eq!(audit["fields"]["outcome"], "ok", "{audit}");
    let (code, _) = admin(store, data, &["users", "delete", "alice", "--yes"]);
    assert_eq!(code, 3, "an account deleted already is not found");

    // With the daemon stopped, on the store directly; the next daemon serves the tombstone.
    daemon.terminate().await;
    let (code, out) = admin(
        store,
        data,
        &["--json", "users", "delete", "carol", "--yes"],
    );
    assert_eq!(code, 0, "{out}");
    let answer: Value = serde_json::from_str(&out).expect("one JSON line");
    assert_eq!(answer["changed"], true, "{answer}");
    let (_daemon, api) = start(store, data).await;
    expect_error(api.get("/v1/u/carol").await, 410, "account_deleted").await;
    let again = on_this_server("carol", 4);
    let response = api
        .post_json("/v1/register", &again.registration_on(NAME, now_ms()))
        .await;
    expect_error(response, 409, "handle_taken").await;
}
