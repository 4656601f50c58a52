//! Instances of a cluster started together on one empty shared `data_dir` (a fresh shared
//! volume): every one starts, and all of them serve the same server key. Before the key file
//! was linked into place, one instance in about four exited at start, and the others could
//! sign with keys that were not the file's. Needs no PostgreSQL or NATS: each instance has an
//! SQLite database of its own, only the directory with the key file is shared.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::harness::Kezd;

/// Instances started at once, per round.
const INSTANCES: usize = 4;
/// Rounds, each on a fresh directory.
const ROUNDS: usize = 10;

/// The configuration of one instance: its own database in its own directory, the shared
/// `data_dir`.
fn config(port: u16, own: &Path, shared: &Path) -> String {
    let quote = |p: String| toml::Value::String(p).to_string();
    format!(
        "bind = \"127.0.0.1:{port}\"\nserver_name = \"localhost:{port}\"\ndata_dir = {}\n\
         database_url = {}\n[log]\nlevel = \"warn\"\n",
        quote(shared.display().to_string()),
        quote(format!("sqlite://{}", own.join("kezd.db").display())),
    )
}

/// Starts one instance on `shared`; a start that failed only because its port was taken in
/// between is tried again, any other failure fails the test.
async fn start(shared: &Path) -> Kezd {
    let mut dir = tempfile::tempdir().expect("temp dir");
    for _attempt in 0..3 {
        let own = dir.path().to_owned();
        match Kezd::start_once(dir, |port| config(port, &own, shared)).await {
            Ok(kezd) => return kezd,
            Err((back, log)) if log.contains("binding") => dir = back,
            Err((_, log)) => panic!("kezd exited at start on a shared data_dir:\n{log}"),
        }
    }
    panic!("no free port in three attempts");
}

/// Key id → public key of `verify_keys` in the instance's server document (SPEC §9.2).
async fn verify_keys(kezd: &Kezd) -> BTreeMap<String, Value> {
    kezd.server_document().await["verify_keys"]
        .as_object()
        .expect("verify_keys")
        .iter()
        .map(|(id, key)| (id.clone(), key["key"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_started_together_on_one_data_dir_share_one_key() {
    for round in 0..ROUNDS {
        let shared = tempfile::tempdir().expect("temp dir");
        let data = shared.path().join("data");
        let starts = (0..INSTANCES).map(|_| start(&data));
        let instances = futures_util::future::join_all(starts).await;
        let mut keys = Vec::new();
        for kezd in &instances {
            keys.push(verify_keys(kezd).await);
        }
        let on_disk: Value = serde_json::from_slice(
            &std::fs::read(data.join("server-keys.json")).expect("the key file"),
        )
        .expect("JSON");
        let id = on_disk["current"]["id"].as_str().expect("current id");
        assert_eq!(
            keys[0].keys().collect::<Vec<_>>(),
            [id],
            "the file's key: {keys:?}"
        );
        assert!(
            keys.iter().all(|k| *k == keys[0]),
            "round {round}: one key for all: {keys:?}"
        );
    }
}
