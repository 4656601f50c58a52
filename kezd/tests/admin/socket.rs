//! The admin socket: private from the moment it exists, a crashed daemon's socket replaced,
//! removed when the daemon stops; one JSON line per request and answer; exit codes.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::run::Target;

#[tokio::test]
async fn the_socket_is_private_replaces_a_stale_one_and_is_removed_on_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::new(&dir.path().join("data"), &[]);
    std::fs::create_dir_all(&target.data_dir).expect("data dir");
    // A crashed kezd's socket: a socket file nothing answers on.
    drop(std::os::unix::net::UnixListener::bind(target.socket()).expect("bind"));
    assert!(UnixStream::connect(target.socket()).await.is_err());

    let (daemon, _) = target.serve().await;
    let meta = std::fs::metadata(target.socket()).expect("the socket exists");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        std::fs::read_dir(&target.data_dir)
            .expect("read data dir")
            .all(|e| !e
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .starts_with(".admin")),
        "the private directory the socket was bound in is gone"
    );
    let page = target.json(&["users", "list"]).await;
    assert_eq!(
        page,
        serde_json::json!({"kind": "users", "users": [], "next": null})
    );

    daemon.terminate().await;
    assert!(!target.socket().exists(), "removed when the daemon stops");
}

#[tokio::test]
async fn requests_are_json_lines_and_failures_have_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::new(&dir.path().join("data"), &[]);
    let (mut daemon, _) = target.serve().await;

    let stream = UnixStream::connect(target.socket()).await.expect("connect");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut ask = async |line: &str| {
        write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write");
        let answer = lines.next_line().await.expect("read").expect("an answer");
        serde_json::from_str::<serde_json::Value>(&answer).expect("JSON")
    };
    // Several requests on one connection, each answered in turn.
    let answer = ask(r#"{"action":"users.show","handle":"nobody"}"#).await;
    assert_eq!(answer["error"]["kind"], "not_found", "{answer}");
    let answer = ask(r#"{"action":"servers.list"}"#).await;
    assert_eq!(answer["ok"]["kind"], "servers", "{answer}");
    let answer = ask(r#"{"action":"users.fly"}"#).await;
    assert_eq!(answer["error"]["kind"], "invalid", "{answer}");
    let answer = ask("not json").await;
    assert_eq!(answer["error"]["kind"], "invalid", "{answer}");

    // The exit codes of deploy/README.md: 3 not found, 2 usage, 1 failed.
    let ran = target.admin(&["users", "show", "nobody"]).await;
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr.contains("no user is registered as nobody"),
        "{ran:?}"
    );
    let ran = target.admin(&["users", "show", "Not A Handle"]).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    let ran = target.admin(&["users", "list", "--limit", "0"]).await;
    assert_eq!(ran.code, 2, "{ran:?}");
    let ran = target.admin(&["users", "frobnicate"]).await;
    assert_eq!(ran.code, 2, "clap's usage error: {ran:?}");
    let ran = target.admin(&["users", "show", "nobody", "--json"]).await;
    let failure: serde_json::Value = serde_json::from_str(ran.stdout.trim()).expect("JSON");
    assert_eq!(failure["kind"], "not_found");

    // Every action was audited by the daemon, with the caller's uid.
    let line = daemon
        .wait_for(|line| {
            line["target"] == "kezd::audit" && line["fields"]["action"] == "users.list"
        })
        .await;
    assert!(
        line["fields"]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("uid:")),
        "{line}"
    );
    daemon.terminate().await;
}
