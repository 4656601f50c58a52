//! Cross-server tests: kezctl on a testnet of two real kezd processes (`a.test`, `b.test`)
//! with their own DNS server (SRV and A records) and a generated CA, so registration, lookups
//! and doctor go through discovery (SPEC §9.1) and verified TLS exactly as between two hosts.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{LIVENESS, Persona, Run, texts};
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

/// alice@a.test and bob@b.test, registered by discovery.
async fn alice_and_bob(net: &Testnet) -> (Persona, Persona) {
    let alice = persona(net);
    let bob = persona(net);
    run(&alice, &["keys", "new"]).await.ok();
    run(&bob, &["keys", "new"]).await.ok();
    run(&alice, &["register", "alice@a.test"]).await.ok();
    run(&bob, &["register", "bob@b.test"]).await.ok();
    (alice, bob)
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
    let (alice, bob) = alice_and_bob(&net).await;

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
    wait_for_status(&alice, &id, "delivered", LIVENESS).await;
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

/// The first failing step of a doctor report, after checking the overall verdict is `fail`
/// and the exit code is doctor's (8).
fn first_failure(doctor: &Run) -> String {
    assert_eq!(doctor.code, 8, "{doctor:#?}");
    let report: Value = serde_json::from_str(&doctor.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}): {doctor:#?}"));
    assert_eq!(report["verdict"], json!("fail"), "{report:#}");
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["verdict"] == json!("fail"))
        .and_then(|s| s["step"].as_str())
        .unwrap_or_else(|| panic!("no failing step: {report:#}"))
        .to_owned()
}

/// `doctor` fails, naming the TLS step, when a server's certificate is valid only for its SRV
/// target and not for its server name (SPEC §9.1); and, naming the connection step, when the
/// server is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_failing_step() {
    kez_testnet::install_crypto_provider();
    let mut net = Testnet::builder(kezd())
        .node("a.test")
        .node_with(
            "x.test",
            kez_testnet::NodeOptions::new().cert_for_srv_target_only(),
        )
        .start()
        .await
        .expect("testnet");
    let alice = persona(&net);

    let wrong_cert = run(&alice, &["doctor", "x.test", "--json", "--timeout", "3"]).await;
    assert_eq!(first_failure(&wrong_cert), "tls", "{wrong_cert:#?}");

    net.kill("a.test").await.expect("kill a.test");
    let down = run(&alice, &["doctor", "a.test", "--json", "--timeout", "3"]).await;
    let step = first_failure(&down);
    assert!(
        step.starts_with("dns ipv4") || step == "tls" || step == "health",
        "a server that is down fails where the connection is made, not at {step}: {down:#?}"
    );
    net.shutdown().await.expect("shutdown");
}

/// Waits until `status` of message `id` is `want` (a bounded wait on the server's answer).
async fn wait_for_status(p: &Persona, id: &str, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = run(p, &["status", id, "--json"]).await.json();
        if status["status"] == json!(want) {
            return;
        }
        assert!(Instant::now() < deadline, "not {want} in time: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A handle record for `handle@b.test` signed by `key` (valid on its own: its registration is
/// `key`'s), as a remembered-record file would hold it.
fn remembered_record(key: &kez_spec::SigningKey, handle: &str) -> String {
    let registration = kez_spec::registration::Registration {
        handle: kez_spec::Handle::parse(handle).expect("valid"),
        server: kez_spec::ServerName::parse("b.test").expect("valid"),
        primary: kez_spec::Primary::from(key),
        ts_ms: 1,
    }
    .sign(key);
    let address = format!("{handle}@b.test");
    json!({"address": address, "verified_at": 1, "record": {
        "handle": handle, "server": "b.test", "address": address,
        "primary": kez_spec::Primary::from(key).to_string(), "registered_at": 2,
        "registration": registration}})
    .to_string()
}

/// A recipient's record is remembered at the first send (SPEC §4.2 verified), so while the
/// recipient's server is down the next message is still sealed to that key and queued by the
/// home server (SPEC §8.1), then delivered once the server is back (§9.7). The memory stands in
/// only for a server that cannot be reached: an address never looked up still fails (6), an
/// answer "no such handle" wins over a remembered record (5), and a server naming another key
/// than the remembered one stops the send (7).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_while_the_recipients_server_is_down() {
    kez_testnet::install_crypto_provider();
    let mut net = Testnet::builder(kezd())
        .node_with(
            "a.test",
            kez_testnet::NodeOptions::new()
                .extra_config("[federation]\nbackoff_initial_secs = 1\nbackoff_max_secs = 2"),
        )
        .node("b.test")
        .start()
        .await
        .expect("testnet");
    let (alice, bob) = alice_and_bob(&net).await;

    let first = run(&alice, &["send", "bob@b.test", "remember me"])
        .await
        .ok();
    wait_for_status(&alice, first.trim(), "delivered", LIVENESS).await;
    let remembered = alice.path("records/default/bob@b.test.json");
    let file: Value =
        serde_json::from_slice(&std::fs::read(&remembered).expect("remembered")).expect("JSON");
    assert!(file["verified_at"].as_u64().is_some(), "{file}");

    net.stop("b.test").await.expect("stop b.test");
    let sent = run(&alice, &["send", "bob@b.test", "while b is down"]).await;
    assert!(
        sent.stderr.contains("cannot be reached") && sent.stderr.contains("verified"),
        "{sent:#?}"
    );
    let id = sent.ok().trim().to_owned();
    assert_eq!(run(&alice, &["status", &id]).await.ok(), "queued\n");
    // Nobody remembered: nothing to seal to.
    run(&alice, &["send", "carol@b.test", "unknown key"])
        .await
        .fails_with(6);

    net.restart("b.test").await.expect("restart b.test");
    wait_for_status(&alice, &id, "delivered", LIVENESS * 3).await;
    let inbox = run(&bob, &["inbox", "--json"]).await.json();
    assert_eq!(texts(&inbox), ["remember me", "while b is down"]);

    // A remembered record for a handle b.test does not have: b.test's answer wins.
    let mallory = kez_spec::SigningKey::from_bytes(&[0x66; 32]);
    let dir = remembered.parent().expect("records dir");
    std::fs::write(
        dir.join("nobody@b.test.json"),
        remembered_record(&mallory, "nobody"),
    )
    .expect("write");
    run(&alice, &["send", "nobody@b.test", "x"])
        .await
        .fails_with(5);
    // A remembered key other than the one b.test now names for bob: a key change, refused.
    std::fs::write(&remembered, remembered_record(&mallory, "bob")).expect("write");
    let changed = run(&alice, &["send", "bob@b.test", "x"])
        .await
        .fails_with(7);
    assert!(changed.stderr.contains("changed"), "{changed:#?}");
    assert!(
        changed.stderr.contains(&remembered.display().to_string()),
        "{changed:#?}"
    );
    net.shutdown().await.expect("shutdown");
}
