//! `kezd admin tokens` through the real binary (SPEC §4.1 check 10): tokens made with the
//! daemon stopped (on the store directly) and while it runs (over its admin socket), listed
//! with their uses, revoked, and what a registration with each of them is answered — on
//! SQLite and, when `KEZ_TEST_POSTGRES_URL` is set, PostgreSQL.

use std::path::Path;

use serde_json::Value;

use crate::backend::Postgres;
use crate::common::client;
use crate::common::kez::{SERVER, User, now_ms};
use crate::daemon::{Daemon, message};

/// What one `kezd admin` run left: its exit code and its output.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `kezd admin <args> <flags> --data-dir <data>`.
async fn admin(data: &Path, flags: &[&str], args: &[&str]) -> Ran {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_kezd"))
        .env_clear()
        .arg("admin")
        .args(args)
        .args(flags)
        .arg("--data-dir")
        .arg(data)
        .output()
        .await
        .expect("kezd admin runs");
    Ran {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `kezd admin <args> --json`, exit 0; the outcome.
async fn admin_json(data: &Path, flags: &[&str], args: &[&str]) -> Value {
    let ran = admin(data, flags, &[args, &["--json"]].concat()).await;
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    serde_json::from_str(ran.stdout.trim()).expect("one JSON line")
}

/// `POST /v1/register` for `user` at `daemon`, with `token` in the header if given; the
/// status and the body.
async fn register(daemon: &Daemon, user: &User, token: Option<&str>) -> (u16, Value) {
    let mut request = client()
        .post(format!("http://{}/v1/register", daemon.addr))
        .json(&user.registration(now_ms()));
    if let Some(token) = token {
        request = request.header("KEZ-Registration-Token", token);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The whole life of two tokens on the store `flags` configure.
async fn tokens_made_listed_spent_and_revoked(flags: &[&str]) {
    let data = tempfile::tempdir().expect("temp dir");
    let data = data.path();
    let flags = [
        flags,
        &[
            "--server-name",
            SERVER,
            "--set",
            "registration.policy=token",
            "--set",
            "rate.register_per_hour=1000000",
        ],
    ]
    .concat();

    // No daemon: straight to the store, the token shown once.
    let human = admin(
        data,
        &flags,
        &["tokens", "create", "--uses", "1", "--expires", "7d"],
    )
    .await;
    assert_eq!(human.code, 0, "{}", human.stderr);
    let first_token = human
        .stdout
        .lines()
        .next()
        .expect("the token first")
        .to_owned();
    assert_eq!(first_token.len(), 32, "{}", human.stdout);
    assert!(
        human.stdout.contains("1 registration, expires "),
        "{}",
        human.stdout
    );
    let listed = admin_json(data, &flags, &["tokens", "list"]).await;
    let first = listed["tokens"][0].clone();
    assert_eq!(first["uses_allowed"], 1, "{listed}");
    assert_eq!(first["uses"], 0, "{listed}");
    assert!(first["expires_at_ms"].as_i64().expect("expiry") > now_ms().try_into().expect("ms"));
    assert!(
        !listed.to_string().contains(&first_token),
        "the token is never listed"
    );

    let mut daemon = Daemon::start(&flags, data).await;
    let alice = User::new("alice", 1);
    assert_eq!(
        register(&daemon, &alice, None).await.1["error"],
        "registration_token_required"
    );
    assert_eq!(register(&daemon, &alice, Some(&first_token)).await.0, 201);
    let bob = User::new("bob", 2);
    let (status, body) = register(&daemon, &bob, Some(&first_token)).await;
    assert_eq!(
        (status, &body["error"]),
        (403, &"registration_token_invalid".into())
    );

    // Through the running daemon's socket.
    let second = admin_json(data, &flags, &["tokens", "create"]).await;
    assert_eq!(second["kind"], "token_created", "{second}");
    assert_eq!(second["uses_allowed"], Value::Null, "{second}");
    let second_id = second["id"].as_str().expect("id");
    let second_token = second["token"].as_str().expect("token");
    let revoked = admin_json(data, &flags, &["tokens", "revoke", second_id]).await;
    assert_eq!(revoked["changed"], true, "{revoked}");
    let audit = daemon
        .wait_for(|line| line["target"] == "kezd::audit" && message(line) == "admin action")
        .await;
    assert_eq!(audit["fields"]["action"], "tokens.create", "{audit}");
    let audit = daemon
        .wait_for(|line| line["target"] == "kezd::audit")
        .await;
    assert_eq!(audit["fields"]["action"], "tokens.revoke", "{audit}");
    assert_eq!(audit["fields"]["target"], second_id, "{audit}");
    let (status, body) = register(&daemon, &bob, Some(second_token)).await;
    assert_eq!(
        (status, &body["error"]),
        (403, &"registration_token_invalid".into())
    );

    let table = admin(data, &flags, &["tokens", "list"]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert!(rows[0].starts_with("ID "), "{}", table.stdout);
    assert!(
        rows[1].contains("1/1") && rows[1].ends_with("used_up"),
        "{}",
        table.stdout
    );
    assert!(
        rows[2].contains("0/-") && rows[2].ends_with("revoked"),
        "{}",
        table.stdout
    );
    let again = admin_json(data, &flags, &["tokens", "revoke", second_id]).await;
    assert_eq!(again["changed"], false, "{again}");
    let unknown = admin(data, &flags, &["tokens", "revoke", "0000000000"]).await;
    assert_eq!(unknown.code, 3, "{}", unknown.stderr);
    let zero = admin(data, &flags, &["tokens", "create", "--uses", "0"]).await;
    assert_eq!(zero.code, 2, "{}", zero.stderr);
}

#[tokio::test]
async fn admin_tokens_on_sqlite() {
    tokens_made_listed_spent_and_revoked(&[]).await;
}

#[tokio::test]
async fn admin_tokens_on_postgres() {
    let Some(database) = Postgres::from_env().await else {
        return;
    };
    let url = format!("database_url={}", database.url());
    let base = format!("public_base_url=http://{SERVER}");
    tokens_made_listed_spent_and_revoked(&["--set", &url, "--set", &base]).await;
}
