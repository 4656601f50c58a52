//! Cross-server tests: kezctl on a testnet of two real kezd processes (`a.test`, `b.test`)
//! with their own DNS server (SRV and A records) and a generated CA, so registration, lookups
//! and doctor go through discovery (SPEC §9.1) and verified TLS exactly as between two hosts.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{LIVENESS, Persona, Run};
use kez_testnet::Testnet;
use serde_json::{Value, json};

fn kezd() -> PathBuf {
    static KEZD: OnceLock<PathBuf> = OnceLock::new();
    KEZD.get_or_init(|| kez_testnet::kezd_binary().expect("kezd binary"))
        .clone()
}

/// A persona that resolves through the testnet's DNS and trusts its CA.
fn persona(net: &Testnet) -> Persona {
    let mut p = Persona::new();
    p.env = vec![
        ("KEZ_RESOLVER".into(), net.dns().addr().to_string()),
        (
            "KEZ_CA_FILE".into(),
            net.ca().ca_pem_path().display().to_string(),
        ),
    ];
    p
}

/// Runs kezctl off the runtime's threads (the testnet's DNS server runs on them).
async fn run(p: &Persona, args: &[&str]) -> Run {
    let command = p.command(args);
    tokio::task::spawn_blocking(move || {
        let mut command = command;
        let output = command.output().expect("run kezctl");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("kezctl task")
}

/// Two servers: registration by discovery (no --server), `whois` of a remote address, a
/// message across servers (`queued`, then `delivered`, SPEC §9.7) that the recipient reads,
/// and `doctor` passing every step against a testnet server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_two_servers() {
    kez_testnet::install_crypto_provider();
    let net = Testnet::builder(kezd())
        .node("a.test")
        .node("b.test")
        .start()
        .await
        .expect("testnet");
    let alice = persona(&net);
    let bob = persona(&net);
    run(&alice, &["keys", "new"]).await.ok();
    run(&bob, &["keys", "new"]).await.ok();
    run(&alice, &["register", "alice@a.test"]).await.ok();
    run(&bob, &["register", "bob@b.test"]).await.ok();

    let who = run(&alice, &["whois", "bob@b.test", "--json"]).await.json();
    assert_eq!(
        who["primary"],
        json!(run(&bob, &["keys", "show", "--json"]).await.json()["primary"])
    );

    // By primary, on the home server reached through discovery.
    let alice_primary = run(&alice, &["keys", "show", "--json"]).await.json()["primary"].clone();
    let me = run(
        &alice,
        &["whois", alice_primary.as_str().expect("primary"), "--json"],
    )
    .await
    .json();
    assert_eq!(me["address"], json!("alice@a.test"));

    let sent = run(&alice, &["send", "bob@b.test", "across servers", "--json"])
        .await
        .json();
    assert_eq!(sent["status"], json!("queued"));
    let id = sent["id"].as_str().expect("id").to_owned();
    let deadline = Instant::now() + LIVENESS;
    loop {
        let status = run(&alice, &["status", &id, "--json"]).await.json();
        if status["status"] == json!("delivered") {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered in time: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let inbox = run(&bob, &["inbox", "--json"]).await.json();
    assert_eq!(inbox["messages"][0]["text"], json!("across servers"));
    assert_eq!(inbox["messages"][0]["from"], json!("alice@a.test"));

    let doctor = run(&alice, &["doctor", "a.test", "--json"]).await;
    let report: Value = serde_json::from_str(&doctor.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}): {doctor:#?}"));
    assert_eq!(report["verdict"], json!("pass"), "{report:#}");
    for step in report["steps"].as_array().expect("steps") {
        assert!(
            step["verdict"] == json!("pass") || step["step"] == json!("dns ipv6"),
            "{step}"
        );
    }
    net.shutdown().await.expect("shutdown");
}
