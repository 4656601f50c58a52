//! The rogue peer seen through kez's own federation client (SPEC §9.1, §9.2, §4.4): its
//! document verifies, its keys are what its options say, and its users look up, so a test
//! that uses it fails only for what it is testing.

use std::sync::Arc;
use std::time::Duration;

use kez_federation::{ClientConfig, FederationClient, ServerKeys};
use kez_spec::{KeyId, ServerName};
use kez_testnet::Testnet;
use kez_testnet::rogue::{RogueOptions, RoguePeer};

/// A client for `net` as the server `this`.
fn client(net: &Testnet, this: &str) -> FederationClient {
    FederationClient::new(
        ClientConfig {
            this_server: ServerName::parse(this).expect("name"),
            resolver: Some(net.dns().addr()),
            extra_roots: vec![net.ca().ca_pem_path().to_path_buf()],
            allow_private_addresses: true,
            allowed_private_addresses: Vec::new(),
            request_timeout: Duration::from_secs(10),
            user_agent: "rogue-test".into(),
        },
        Arc::new(ServerKeys::generate()),
    )
    .expect("client")
}

/// An empty testnet (DNS and CA only): the rogue needs no kezd.
async fn empty_testnet() -> Testnet {
    Testnet::builder(kez_testnet::kezd_binary().expect("kezd"))
        .start()
        .await
        .expect("testnet")
}

fn key(id: &str) -> KeyId {
    KeyId::parse(id).expect("key id")
}

/// SPEC §9.1, §9.2, §4.4: discovered through SRV, served over TLS for its name; a document
/// that verifies with its current key valid now; its users' records verify.
#[tokio::test]
async fn rogue_is_a_well_formed_server_by_default() {
    let net = empty_testnet().await;
    let rogue = RoguePeer::start(&net, "rogue.test", RogueOptions::new())
        .await
        .expect("rogue");
    let mallory = rogue.user("mallory");
    let fed = client(&net, "probe.test");
    let name = rogue.name().clone();
    let document = fed.server_document(&name).await.expect("document verifies");
    let now = now_ms();
    assert!(document.key_at(&key("ed25519:k1"), now).is_some());
    let user = fed.lookup(&rogue.address("mallory")).await.expect("lookup");
    assert_eq!(user.primary, kez_spec::Primary::from(&mallory));
    assert!(fed.lookup(&rogue.address("nobody")).await.is_err());
}

/// SPEC §9.2 key validity: `expired_key` publishes the signing key expired; `rotated` lists
/// k1 as retired and signs with k2.
#[tokio::test]
async fn key_options_shape_the_document() {
    let net = empty_testnet().await;
    let expired = RoguePeer::start(&net, "expired.test", RogueOptions::new().expired_key())
        .await
        .expect("rogue");
    let rotated = RoguePeer::start(&net, "rotated.test", RogueOptions::new().rotated())
        .await
        .expect("rogue");
    let fed = client(&net, "probe.test");
    let now = now_ms();
    let doc = fed
        .server_document(expired.name())
        .await
        .expect("document verifies");
    assert!(doc.knows_key(&key("ed25519:k1")));
    assert!(doc.key_at(&key("ed25519:k1"), now).is_none(), "expired");

    assert_eq!(rotated.key_id().as_str(), "ed25519:k2");
    let doc = fed
        .server_document(rotated.name())
        .await
        .expect("document verifies");
    let retired = doc.old_verify_keys[&key("ed25519:k1")].expired_at_ms;
    assert!(doc.key_at(&key("ed25519:k1"), retired).is_some());
    assert!(doc.key_at(&key("ed25519:k1"), retired + 1).is_none());
    assert!(doc.key_at(&key("ed25519:k2"), now).is_some());
}

use kez_spec::clock::now_ms;
