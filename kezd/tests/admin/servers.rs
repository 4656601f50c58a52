//! `kezd admin servers …`: admin blocks kept in the store beside the configuration file's
//! `[federation]` lists, one source per entry; a SIGHUP reload replaces the file's part and
//! keeps the admin blocks; `[rate]` is reloaded too.

use std::path::Path;

use serde_json::Value;

use crate::common::kez::{Api, SERVER, User, now_ms, now_secs};
use crate::daemon::message;
use crate::run::Target;
use crate::store::Store;

/// A transaction from `origin` whose `Authorization` header is well formed but signed by no
/// one: the origin policy (SPEC §9.9) answers before any key is fetched.
async fn transaction_from(api: &Api, origin: &str) -> Value {
    let sig = "00".repeat(64);
    let response = api
        .http
        .put(api.url("/v1/federation/txn/t1"))
        .header(
            "authorization",
            format!(
                "KEZ-Server origin=\"{origin}\",destination=\"{SERVER}\",key=\"ed25519:k1\",\
                 ts=\"{}\",sig=\"{sig}\"",
                now_secs()
            ),
        )
        .header("content-type", "application/json")
        .body(format!(r#"{{"origin":"{origin}","envelopes":[]}}"#))
        .send()
        .await
        .expect("transaction");
    response.json().await.expect("a JSON answer")
}

fn write_config(path: &Path, federation: &str, rate: &str) {
    std::fs::write(
        path,
        format!(
            "[federation]\nresolver = \"127.0.0.1:1\"\n{federation}\n\
             [rate]\nclient_per_minute = 1000000\n{rate}\n"
        ),
    )
    .expect("write config");
}

/// Entries of `servers list` as `(server, rule, source)`.
fn entries(list: &Value) -> Vec<(String, String, String)> {
    list["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().expect("text").to_owned();
            (s("server"), s("rule"), s("source"))
        })
        .collect()
}

fn entry(server: &str, rule: &str, source: &str) -> (String, String, String) {
    (server.to_owned(), rule.to_owned(), source.to_owned())
}

#[tokio::test]
async fn admin_blocks_on_sqlite_sit_beside_the_configuration_and_survive_its_reload() {
    admin_blocks_sit_beside_the_configuration_and_survive_its_reload(Store::Sqlite).await;
}

#[tokio::test]
async fn admin_blocks_on_postgres_sit_beside_the_configuration_and_survive_its_reload() {
    admin_blocks_sit_beside_the_configuration_and_survive_its_reload(Store::Postgres).await;
}

/// Admin blocks through the daemon beside the file's, across a SIGHUP, then with the daemon
/// stopped on the store directly, and read by the next daemon.
async fn admin_blocks_sit_beside_the_configuration_and_survive_its_reload(store: Store) {
    let Some(store) = store.ready().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kezd.toml");
    write_config(&config, "block = [\"conf.example\"]", "");
    let config_text = config.display().to_string();
    let target = Target::new(
        &dir.path().join("data"),
        &store.flags(&["--config", &config_text]),
    );
    let (mut daemon, api) = target.serve().await;

    let blocked = target
        .json(&["servers", "block", "adm.example", "--reason", "spam"])
        .await;
    assert_eq!(blocked["changed"], true, "{blocked}");
    let list = target.json(&["servers", "list"]).await;
    assert_eq!(
        entries(&list),
        [
            entry("conf.example", "block", "config"),
            entry("adm.example", "block", "admin")
        ]
    );
    for origin in ["conf.example", "adm.example"] {
        let answer = transaction_from(&api, origin).await;
        assert_eq!(answer["error"], "origin_blocked", "{origin}: {answer}");
    }
    // The configuration's block is refused by name, with the file named: exit 4.
    let refused = target.admin(&["servers", "allow", "conf.example"]).await;
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(refused.stderr.contains(&config_text), "{refused:?}");
    assert_eq!(
        target.admin(&["servers", "block", "not a name"]).await.code,
        2
    );

    // The file no longer blocks conf.example; the reload keeps the admin block.
    write_config(&config, "", "");
    daemon.hang_up();
    daemon
        .wait_for(|line| message(line) == "configuration reloaded")
        .await;
    let list = target.json(&["servers", "list"]).await;
    assert_eq!(entries(&list), [entry("adm.example", "block", "admin")]);
    let answer = transaction_from(&api, "conf.example").await;
    assert_ne!(answer["error"], "origin_blocked", "{answer}");
    let answer = transaction_from(&api, "adm.example").await;
    assert_eq!(answer["error"], "origin_blocked", "{answer}");

    let allowed = target.json(&["servers", "allow", "adm.example"]).await;
    assert_eq!(allowed["changed"], true, "{allowed}");
    let answer = transaction_from(&api, "adm.example").await;
    assert_ne!(answer["error"], "origin_blocked", "{answer}");
    daemon.terminate().await;

    // Stopped: the store and the file are read directly.
    target.json(&["servers", "block", "late.example"]).await;
    let list = target.json(&["servers", "list"]).await;
    assert_eq!(entries(&list), [entry("late.example", "block", "admin")]);
    let (daemon, api) = target.serve().await;
    let answer = transaction_from(&api, "late.example").await;
    assert_eq!(answer["error"], "origin_blocked", "{answer}");
    daemon.terminate().await;
}

#[tokio::test]
async fn sighup_reloads_rate_limits_and_an_invalid_file_keeps_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kezd.toml");
    write_config(&config, "", "register_per_hour = 1");
    let config_text = config.display().to_string();
    let target = Target::bare(&dir.path().join("data"), &["--config", &config_text]);
    let (mut daemon, api) = target.serve().await;
    let published = async || -> Value {
        let document: Value = api
            .get("/.well-known/kez")
            .await
            .json()
            .await
            .expect("the server document");
        document["limits"]["rate"]["register_per_hour"].clone()
    };
    assert_eq!(published().await, 1);
    api.register_ok(&User::new("alice", 1)).await;
    let second = api.register(&User::new("bob", 2)).await;
    assert_eq!(second.status(), 429, "one registration per hour");

    write_config(&config, "", "register_per_hour = 50");
    daemon.hang_up();
    let reloaded = daemon
        .wait_for(|line| message(line) == "configuration reloaded")
        .await;
    assert!(
        reloaded["fields"]["changed"]
            .as_str()
            .is_some_and(|c| c.contains("rate.register_per_hour")),
        "the log names what changed: {reloaded}"
    );
    assert_eq!(published().await, 50);
    api.register_ok(&User::new("bob", 2)).await;

    // A quota of 0 is invalid: nothing changes, and the log says why.
    write_config(&config, "", "register_per_hour = 0");
    daemon.hang_up();
    daemon
        .wait_for(|line| message(line).starts_with("configuration not reloaded"))
        .await;
    assert_eq!(published().await, 50);
    let sent = api
        .send_ok(&User::new("alice", 1).envelope(&User::new("bob", 2), now_ms(), "still serving"))
        .await;
    assert_eq!(sent["seq"], 1);
    daemon.terminate().await;
}
