//! `kezd keys rotate` on a running server (SPEC §9.2, §9.3): the daemon signs with the new key
//! from its next transaction on, without a restart; peers learn the key from the refreshed
//! document; the retired key still verifies what it signed up to the rotation, and nothing
//! signed after.

use std::process::Command;

use kez_federation::ServerKeys;
use kez_testnet::rogue::{self, RogueOptions, RoguePeer, Sign, SignAs};
use serde_json::Value;

use super::net::{self, Person};

/// Runs `kezd --config <file> keys rotate` as an operator would; the printed key id.
fn rotate(config: &std::path::Path) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kezd"));
    command.arg("--config").arg(config).args(["keys", "rotate"]);
    // The generated config file is the whole configuration, as for the daemon itself.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("KEZ_") {
            command.env_remove(&key);
        }
    }
    let output = command.output().expect("kezd keys rotate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}

/// SPEC §9.2 rotation, §9.3: after `kezd keys rotate` on the running a.test, its document
/// publishes the new key and lists the old one as retired; its next transactions are signed
/// with the new key and verify at b.test (which refetches the document for the unknown key)
/// and at a rogue peer; a request signed with the old key at the moment of rotation is still
/// accepted, one signed with it afterwards is refused with `unknown_key`.
#[tokio::test]
async fn rotated_key_is_used_at_once_and_the_old_one_until_its_expiry() {
    let net = net::start(&["a.test", "b.test"], "").await;
    let alice = Person::register(&net, "alice", "a.test").await;
    let bob = Person::register(&net, "bob", "b.test").await;
    let rogue = RoguePeer::start(&net, "rogue.test", RogueOptions::new())
        .await
        .expect("rogue starts");
    let mallory = rogue.address("mallory");
    let mallory_primary = kez_spec::Primary::from(&rogue.user("mallory"));

    // Before: b.test caches a.test's document with k1.
    let id = alice.send_queued(&bob, "before").await;
    assert_eq!(
        alice.wait_status(&id, "delivered").await["status"],
        "delivered"
    );
    let a = net.node("a.test").expect("a");
    // The operator's copy of the key that is about to be retired (a test can read it).
    let saved = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        a.data_dir().join(kez_federation::keys::FILE_NAME),
        saved.path().join(kez_federation::keys::FILE_NAME),
    )
    .expect("copy the key file");
    let old = ServerKeys::load_or_create(saved.path()).expect("old keys");
    assert_eq!(old.key_id().as_str(), "ed25519:k1");

    assert_eq!(rotate(a.config_path()), "ed25519:k2");

    // The running daemon's document already has the new key.
    let document: Value = net
        .client()
        .get(a.url("/.well-known/kez"))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    assert_eq!(document["signature"]["key_id"], "ed25519:k2", "{document}");
    // SPEC §9.2: the policy registration applies; the testnet's nodes are open.
    assert_eq!(document["registration"], "open", "{document}");
    assert!(
        document["verify_keys"]["ed25519:k2"].is_object(),
        "{document}"
    );
    assert!(
        document["verify_keys"]["ed25519:k1"].is_null(),
        "{document}"
    );
    let expired_at_ms = document["old_verify_keys"]["ed25519:k1"]["expired_at"]
        .as_u64()
        .expect("k1 retired");

    // Its transactions are signed with k2 and verify.
    let id = alice.send_queued(&bob, "after").await;
    let status = alice.wait_status(&id, "delivered").await;
    assert_eq!(status["status"], "delivered", "{status}");
    let envelope = rogue::envelope_as(
        &alice.key,
        &alice.address,
        &mallory,
        &mallory_primary,
        "after, to the rogue",
    );
    let (code, answer) = alice.post_envelope(&mallory.to_string(), envelope).await;
    assert_eq!(code, 202, "{answer}");
    assert_eq!(rogue.wait_accepted(1, net::LIVENESS).await.len(), 1);
    let auth = rogue.received()[0]
        .auth
        .clone()
        .expect("verifies at the rogue");
    assert_eq!(auth.key_id.as_str(), "ed25519:k2");

    // k1 still verifies a request signed at the moment of rotation ...
    let in_flight = rogue::txn_body("a.test", &[alice.envelope(&bob, "signed before")]);
    let sign_old = |ts| {
        Sign::As(Box::new(SignAs {
            origin: kez_spec::ServerName::parse("a.test").expect("name"),
            key_id: old.key_id().clone(),
            key: old.signing_key().clone(),
            ts,
        }))
    };
    let answer = rogue
        .send_txn(
            "b.test",
            "old-key-1",
            in_flight,
            sign_old(expired_at_ms / 1000),
        )
        .await
        .expect("send");
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["results"][0]["status"], "accepted", "{}", answer.1);
    // ... but nothing signed after it.
    net::eventually("a second passes after the rotation", || async {
        (net::now_ms() / 1000 * 1000 > expired_at_ms).then_some(())
    })
    .await;
    let late = rogue::txn_body("a.test", &[alice.envelope(&bob, "signed after")]);
    let answer = rogue
        .send_txn("b.test", "old-key-2", late, sign_old(net::now_ms() / 1000))
        .await
        .expect("send");
    assert_eq!(answer.0, 401, "{}", answer.1);
    assert_eq!(answer.1["error"], "unknown_key", "{}", answer.1);

    let texts: Vec<String> = bob.inbox(0).await.into_iter().map(|m| m.2).collect();
    assert_eq!(texts, ["before", "after", "signed before"]);
    net.shutdown().await.expect("shutdown");
}
