//! What kezd leaves on the machine and shows its operator: its database and key files
//! readable by its own user only, the Prometheus process series and build info on `/metrics`,
//! and an access log without client addresses when `[log] client_addresses = false`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::daemon::{Daemon, message};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

async fn get(daemon: &Daemon, path: &str) -> String {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(format!("http://{}{path}", daemon.addr))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.text().await.expect("body")
}

#[tokio::test]
async fn files_are_private_metrics_describe_the_process_and_addresses_can_stay_unlogged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut daemon = Daemon::start(
        &[
            "--server-name",
            "localhost",
            "--set",
            "log.client_addresses=false",
        ],
        &data,
    )
    .await;

    let metrics = get(&daemon, "/metrics").await;
    for series in [
        "\nprocess_resident_memory_bytes ",
        "\nprocess_cpu_seconds_total ",
        "\nprocess_open_fds ",
        "\nprocess_max_fds ",
        "\nprocess_start_time_seconds ",
        "# TYPE process_cpu_seconds_total counter\n",
    ] {
        assert!(metrics.contains(series), "{series:?} missing:\n{metrics}");
    }
    assert!(
        metrics.contains(&format!(
            "\nkezd_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    let access = daemon
        .wait_for(|line| line["target"] == "kezd::access")
        .await;
    assert_eq!(access["fields"]["route"], "/metrics", "{access}");
    assert!(access["fields"].get("client").is_none(), "{access}");
    assert!(!access.to_string().contains("127.0.0.1"), "{access}");

    // The store has written (WAL mode: -wal and -shm exist while it is open).
    for file in ["kezd.db", "kezd.db-wal", "kezd.db-shm", "server-keys.json"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&data), 0o700);

    // By default the address is logged: the field above is absent because of the setting.
    let mut logged =
        Daemon::start(&["--server-name", "localhost"], &dir.path().join("other")).await;
    get(&logged, "/v1/healthz").await;
    let access = logged
        .wait_for(|line| line["target"] == "kezd::access")
        .await;
    assert_eq!(access["fields"]["client"], "127.0.0.1", "{access}");
    assert_eq!(message(&access), "request");
}
