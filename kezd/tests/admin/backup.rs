//! `kezd admin backup <file>`: a consistent copy of a running (or stopped) SQLite store in a
//! new file readable by its owner only, which opens as a database holding the users; a
//! PostgreSQL store is refused with the command that backs it up.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::backend;
use crate::common::kez::User;
use crate::run::Target;

/// The handles in the backup at `file`, opened read-only as SQLite.
async fn handles_in(file: &Path) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", file.display()))
        .await
        .expect("the backup opens as a database");
    sqlx::query_scalar("SELECT handle FROM users ORDER BY handle")
        .fetch_all(&pool)
        .await
        .expect("users")
}

#[tokio::test]
async fn a_backup_of_a_running_sqlite_store_opens_and_holds_the_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::new(&dir.path().join("data"), &[]);
    let (daemon, api) = target.serve().await;
    api.register_ok(&User::new("alice", 1)).await;
    api.register_ok(&User::new("bob", 2)).await;

    let file = dir.path().join("online.db");
    let written = target.json(&["backup", &file.display().to_string()]).await;
    assert_eq!(written["kind"], "backup", "{written}");
    let mode = std::fs::metadata(&file)
        .expect("backup")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(handles_in(&file).await, ["alice", "bob"]);
    // An existing file is never overwritten.
    let again = target.admin(&["backup", &file.display().to_string()]).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert_eq!(handles_in(&file).await, ["alice", "bob"]);
    daemon.terminate().await;

    // Stopped: a relative path is the caller's.
    let ran = tokio::process::Command::new(env!("CARGO_BIN_EXE_kezd"))
        .env_clear()
        .current_dir(dir.path())
        .args(["admin", "backup", "offline.db", "--data-dir"])
        .arg(&target.data_dir)
        .output()
        .await
        .expect("kezd admin runs");
    assert!(ran.status.success(), "{ran:?}");
    assert_eq!(
        handles_in(&dir.path().join("offline.db")).await,
        ["alice", "bob"]
    );
}

#[tokio::test]
async fn a_postgres_store_is_refused_with_what_to_run() {
    let Some(db) = backend::Postgres::from_env().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("database_url={}", db.url());
    let target = Target::new(
        &dir.path().join("data"),
        &[
            "--set",
            &url,
            "--set",
            "public_base_url=http://localhost:6969",
        ],
    );
    let file = dir.path().join("pg.db");
    let refused = target.admin(&["backup", &file.display().to_string()]).await;
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(refused.stderr.contains("pg_dump"), "{refused:?}");
    assert!(!file.exists());
    let (daemon, _) = target.serve().await;
    let refused = target.admin(&["backup", &file.display().to_string()]).await;
    assert_eq!(refused.code, 4, "{refused:?}");
    daemon.terminate().await;
}
