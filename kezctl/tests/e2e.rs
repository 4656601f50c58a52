//! End-to-end tests of kezctl against a real kezd on one server (SPEC §4, §6, §7, §8, §9.7):
//! the binaries users run, talking HTTP, with the exit codes and output scripts rely on.
//!
//! Cross-server tests (whois of a remote address, status queued → delivered, doctor over DNS
//! and TLS) belong in `tests/federation.rs` once the kez-federation crate and the testnet land;
//! see `common` for where they plug in.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Kezd, Persona};
use kez_spec::envelope::Envelope;
use kez_spec::{Address, Primary, SigningKey};
use serde_json::{Value, json};

use kez_spec::clock::now_ms;

/// Two identities register, write to each other, and each inbox shows the exact texts — in
/// human form and as JSON; the cursor then hides what was read; `status` of a local message
/// is `stored` (SPEC §9.7).
#[test]
fn two_identities_exchange_messages() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    let bob = Persona::new();
    let alice_addr = alice.register(&kezd, "alice");
    let bob_addr = bob.register(&kezd, "bob");

    let first = alice.run(&["send", &bob_addr, "hello bob, ünïcødé ✓"]);
    // stdout is the id alone; what happened to it is commentary, on stderr.
    assert!(first.stderr.contains("stored"), "{first:#?}");
    let id = first.ok();
    assert!(id.ends_with('\n') && id.lines().count() == 1, "{id:?}");
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    alice
        .run_with_stdin(&["send", &bob_addr], "from stdin\n")
        .ok();
    bob.run(&["send", &alice_addr, "hi alice"]).ok();

    let inbox = bob.run(&["inbox"]).ok();
    assert!(
        inbox.contains(&format!("{alice_addr}: hello bob, ünïcødé ✓")),
        "{inbox}"
    );
    assert!(
        inbox.contains(&format!("{alice_addr}: from stdin")),
        "{inbox}"
    );
    // The cursor moved: nothing new the second time.
    let again = bob.run(&["inbox", "--json"]).json();
    assert_eq!(again["messages"], json!([]));

    let all = bob.run(&["inbox", "--since", "0", "--json"]).json();
    let texts: Vec<&str> = all["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, ["hello bob, ünïcødé ✓", "from stdin"]);
    assert_eq!(all["messages"][0]["from"], json!(alice_addr));
    assert_eq!(all["messages"][0]["id"], json!(id));
    assert_eq!(all["failed"], json!(0));

    let alice_inbox = alice.run(&["inbox", "--json"]).json();
    assert_eq!(alice_inbox["messages"][0]["text"], json!("hi alice"));
    assert_eq!(alice_inbox["messages"][0]["from"], json!(bob_addr));

    let status = alice.run(&["status", &id]).ok();
    assert_eq!(status, "stored\n");
    let status = alice.run(&["status", &id, "--json"]).json();
    assert_eq!(status["status"], json!("stored"));

    // --ack deletes what was read: a re-read from 0 finds nothing.
    bob.run(&["inbox", "--since", "0", "--ack"]).ok();
    let after = bob.run(&["inbox", "--since", "0", "--json"]).json();
    assert_eq!(after["messages"], json!([]));
}

/// A wrong passphrase is a clear error with exit code 4, not a panic or a garbled key; a
/// missing one without a terminal says how to give it.
#[test]
fn wrong_passphrase_fails_cleanly() {
    let kezd = Kezd::start();
    let mut bob = Persona::new();
    bob.register(&kezd, "bob");
    bob.passphrase = Some("not the passphrase".into());
    let run = bob.run(&["inbox"]).fails_with(4);
    assert!(run.stderr.contains("wrong passphrase"), "{run:#?}");
    let run = bob.run(&["inbox", "--json"]).fails_with(4);
    let error: Value = serde_json::from_str(&run.stdout).expect("JSON error");
    assert_eq!(error["error"]["kind"], json!("wrong_passphrase"));
    bob.passphrase = None;
    let run = bob.run(&["inbox"]).fails_with(4);
    assert!(run.stderr.contains("KEZ_PASSPHRASE"), "{run:#?}");
}

/// A plain `kez-identity` v1 file written by hand (the documented format), for a persona
/// whose secret key the test needs.
fn import_known_key(persona: &Persona, seed: [u8; 32]) -> SigningKey {
    let key = SigningKey::from_bytes(&seed);
    let file = json!({
        "format": "kez-identity", "version": 1, "name": "default",
        "primary": Primary::from(&key).to_string(), "created_at": now_ms(),
        "address": null, "server_url": null,
        "secret": {"scheme": "plain", "seed": hex::encode(seed)},
    });
    let path = persona.path("known.json");
    std::fs::write(&path, file.to_string()).expect("write key file");
    persona
        .run(&["keys", "import", path.to_str().expect("utf-8 path")])
        .ok();
    key
}

/// SPEC §6.6: envelopes that are validly signed but cannot be opened — sealed for someone
/// else, or garbage — are accepted by the server (it cannot read them) and reported by kezctl
/// as failing decryption, never as text; the genuine message beside them is shown. Exit 7.
#[test]
fn undecryptable_envelopes_are_reported_not_shown() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    let alice_key = import_known_key(&alice, [0x11; 32]);
    let alice_addr = kezd.address("alice");
    alice
        .run(&["register", &alice_addr, "--server", &kezd.url()])
        .ok();
    let bob = Persona::new();
    let bob_addr = bob.register(&kezd, "bob");
    alice.run(&["send", &bob_addr, "the genuine one"]).ok();

    let carol = Primary::from(&SigningKey::from_bytes(&[0x33; 32]));
    let from = Address::parse(&alice_addr).expect("address");
    let to = Address::parse(&bob_addr).expect("address");
    let for_carol = Envelope::seal(
        &alice_key,
        from.clone(),
        to.clone(),
        &carol,
        now_ms(),
        [7; 12],
        br#"{"text":"secret for carol"}"#,
    )
    .expect("seals")
    .sign(&alice_key);
    let garbage = Envelope {
        from,
        from_primary: Primary::from(&alice_key),
        to,
        ts_ms: now_ms(),
        nonce: [8; 12],
        ciphertext: vec![0x5a; 40],
    }
    .sign(&alice_key);
    for envelope in [for_carol, garbage] {
        let body = json!({"to": bob_addr, "envelope": envelope}).to_string();
        let (status, answer) = kezd
            .http("POST", "/v1/messages", Some(&body))
            .expect("send");
        assert_eq!(status, 201, "{answer}");
    }

    let run = bob.run(&["inbox"]).fails_with(7);
    assert!(run.stdout.contains("the genuine one"), "{run:#?}");
    assert!(!run.stdout.contains("secret for carol"), "{run:#?}");
    assert_eq!(run.stdout.matches("NOT SHOWN").count(), 2, "{run:#?}");
    assert!(run.stdout.contains("decrypt_failed"), "{run:#?}");

    let run = bob.run(&["inbox", "--since", "0", "--json"]).fails_with(7);
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(report["failed"], json!(2));
    let messages = report["messages"].as_array().expect("messages");
    assert_eq!(messages[0]["text"], json!("the genuine one"));
    for bad in &messages[1..] {
        assert_eq!(bad["text"], Value::Null);
        assert_eq!(bad["failure"]["reason"], json!("decrypt_failed"));
    }
}

/// `keys export` then `keys import` into a fresh configuration directory restores the
/// identity: same primary, same address, and it reads the inbox.
#[test]
fn export_then_import_restores_the_identity() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    alice.register(&kezd, "alice");
    let bob = Persona::new();
    let bob_addr = bob.register(&kezd, "bob");
    alice.run(&["send", &bob_addr, "for the backup"]).ok();

    let export = bob.path("bob-export.json");
    let export_arg = export.to_str().expect("utf-8 path");
    bob.run(&["keys", "export", "--out", export_arg]).ok();
    let mode = std::fs::metadata(&export)
        .expect("export")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&export).expect("export");
    assert!(text.contains("\"argon2id-aes256gcm\""), "{text}");

    let restored = Persona::new();
    restored.run(&["keys", "import", export_arg]).ok();
    assert_eq!(restored.primary(), bob.primary());
    let inbox = restored.run(&["inbox", "--json"]).json();
    assert_eq!(inbox["address"], json!(bob_addr));
    assert_eq!(inbox["messages"][0]["text"], json!("for the backup"));

    // Importing with the wrong passphrase stores nothing.
    let mut wrong = Persona::new();
    wrong.passphrase = Some("nope".into());
    wrong.run(&["keys", "import", export_arg]).fails_with(4);
    let list = wrong.run(&["keys", "list", "--json"]).json();
    assert_eq!(list["identities"], json!([]));
}

/// Registration failures get sentences a person can act on and the refusal exit code (5);
/// an unreachable server gets 6.
#[test]
fn registration_errors_are_friendly() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    alice.register(&kezd, "alice");

    let mallory = Persona::new();
    mallory.run(&["keys", "new"]).ok();
    let url = kezd.url();
    let taken = mallory
        .run(&["register", &kezd.address("alice"), "--server", &url])
        .fails_with(5);
    assert!(taken.stderr.contains("already registered"), "{taken:#?}");
    let reserved = mallory
        .run(&["register", &kezd.address("admin"), "--server", &url])
        .fails_with(5);
    assert!(reserved.stderr.contains("reserved"), "{reserved:#?}");
    let wrong = mallory
        .run(&["register", "mallory@other.example", "--server", &url])
        .fails_with(2);
    assert!(wrong.stderr.contains(&kezd.name()), "{wrong:#?}");
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let unreachable = mallory
        .run(&["register", &kezd.address("mallory"), "--server", &closed])
        .fails_with(6);
    assert!(
        unreachable.stderr.contains("cannot reach"),
        "{unreachable:#?}"
    );
    let json = mallory
        .run(&[
            "register",
            &kezd.address("alice"),
            "--server",
            &url,
            "--json",
        ])
        .fails_with(5);
    let error: Value = serde_json::from_str(&json.stdout).expect("JSON error");
    assert_eq!(error["error"]["code"], json!("handle_taken"));
    // Still unregistered after all that, and registering a free handle works.
    mallory
        .run(&["register", &kezd.address("mallory"), "--server", &url])
        .ok();
}

/// `account delete` (SPEC §4.7): refused without confirmation outside a terminal; with
/// `--yes` the account goes, the identity forgets its home server but keeps its key, and
/// lookups, messages and a new registration of the address are refused.
#[test]
fn account_delete_forgets_the_home_server() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    let bob = Persona::new();
    let alice_addr = alice.register(&kezd, "alice");
    let bob_addr = bob.register(&kezd, "bob");
    bob.run(&["send", &alice_addr, "before"]).ok();
    let unconfirmed = alice.run(&["account", "delete"]).fails_with(2);
    assert!(unconfirmed.stderr.contains("--yes"), "{unconfirmed:#?}");
    assert!(alice.run(&["inbox", "--json"]).json()["messages"][0].is_object());

    let deleted = alice.run(&["account", "delete", "--yes", "--json"]).json();
    assert_eq!(deleted["address"], json!(alice_addr));
    let deleted_at = deleted["deleted_at"].as_u64().expect("deleted_at");
    let hold = kez_spec::deletion::HANDLE_HOLD_MS;
    assert_eq!(deleted["released_at"], json!(deleted_at + hold));
    // The key stays; the registration is forgotten here (exit 3: not registered).
    let shown = alice.run(&["keys", "show", "--json"]).json();
    assert!(
        shown["primary"].is_string() && shown["address"].is_null(),
        "{shown}"
    );
    alice.run(&["inbox"]).fails_with(3);
    alice.run(&["account", "delete", "--yes"]).fails_with(3);

    let whois = bob.run(&["whois", &alice_addr]).fails_with(5);
    assert!(whois.stderr.contains("account_deleted"), "{whois:#?}");
    let late = bob.run(&["send", &alice_addr, "after"]).fails_with(5);
    assert!(late.stderr.contains("account_deleted"), "{late:#?}");
    let again = alice
        .run(&["register", &alice_addr, "--server", &kezd.url(), "--json"])
        .fails_with(5);
    let error: Value = serde_json::from_str(&again.stdout).expect("JSON error");
    assert_eq!(error["error"]["code"], json!("handle_taken"));
    bob.run(&["whois", &bob_addr]).ok();
}

/// `whois` by address and by primary prints the verified record (SPEC §4.2, §4.3); an
/// unknown handle is a refusal.
#[test]
fn whois_by_address_and_primary() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    let alice_addr = alice.register(&kezd, "alice");
    let bob = Persona::new();
    bob.register(&kezd, "bob");
    let primary = alice.primary();

    let by_address = bob.run(&["whois", &alice_addr, "--json"]).json();
    assert_eq!(by_address["primary"], json!(primary));
    assert_eq!(by_address["server"], json!(kezd.name()));
    assert_eq!(by_address["registration_verified"], json!(true));
    let by_primary = bob.run(&["whois", &primary]).ok();
    assert!(
        by_primary.contains(&format!("address: {alice_addr}")),
        "{by_primary}"
    );
    // Typed with capitals: normalised like any user input.
    let shouted = alice_addr.to_uppercase().replace("LOCALHOST", "LocalHost");
    bob.run(&["whois", &shouted]).ok();
    bob.run(&["whois", &kezd.address("nobody")]).fails_with(5);
}

/// The keystore: files are 0600, `list`/`show` report the identity, a name cannot be reused,
/// `delete` needs --yes without a terminal, and a deleted identity is gone.
#[test]
fn keystore_lifecycle() {
    let me = Persona::new();
    let created = me.run(&["keys", "new", "--name", "work", "--json"]).json();
    assert_eq!(created["encrypted"], json!(true));
    me.run(&["keys", "new", "--name", "plain", "--no-passphrase"])
        .ok();
    me.run(&["keys", "new", "--name", "work"]).fails_with(3);
    for name in ["work", "plain"] {
        let mode = std::fs::metadata(me.path(&format!("identities/{name}.json")))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let plain_file = std::fs::read_to_string(me.path("identities/plain.json")).expect("key file");
    assert!(plain_file.contains("\"scheme\": \"plain\""), "{plain_file}");
    let listed = me.run(&["keys", "list", "--json"]).json();
    assert_eq!(listed["identities"].as_array().map(Vec::len), Some(2));
    // Two identities, none named "default": the choice must be explicit.
    me.run(&["keys", "show"]).fails_with(3);
    let shown = me.run(&["keys", "show", "work"]).ok();
    assert!(shown.contains("not registered"), "{shown}");
    me.run(&["keys", "delete", "work"]).fails_with(2);
    me.run(&["keys", "delete", "work", "--yes"]).ok();
    me.run(&["keys", "show", "work"]).fails_with(3);
    me.run(&["-i", "nope", "inbox"]).fails_with(3);
}

/// Help a newcomer can follow (its example a line per command), completions for the common
/// shells, and a usage error's code.
#[test]
fn help_and_completions() {
    let me = Persona::new();
    let help = me.run(&["--help"]).ok();
    for needle in ["keys new", "register", "Exit codes", "KEZ_PASSPHRASE"] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
    // The example keeps its lines: clap must not re-wrap it into one paragraph.
    for example in [
        "kezctl keys new ",
        "kezctl register alice@localhost:6969 --server http://127.0.0.1:6969",
        "kezctl -i bob register bob@localhost:6969",
        "id=$(kezctl send bob@localhost:6969 \"hello bob\")",
        "kezctl -i bob listen ",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(example)),
            "{example:?} on a line of its own: {help}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = me.run(&["completions", shell]).ok();
        assert!(script.contains("kezctl"), "{shell}");
    }
    me.run(&["send"]).fails_with(2);
    me.run(&["register", "not-an-address"]).fails_with(2);
}

/// `doctor` against a development server (plain HTTP, explicit port): every step it can run
/// without the kez-federation crate passes or is skipped with its reason, and with an identity
/// registered there, the signed round trip passes.
#[test]
fn doctor_on_a_local_server() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    alice.register(&kezd, "alice");
    let run = alice.run(&["doctor", &kezd.name(), "--server", &kezd.url(), "--json"]);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let steps = report["steps"].as_array().expect("steps");
    let verdict = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == json!(name))
            .map(|s| s["verdict"].as_str().unwrap_or("").to_owned())
            .unwrap_or_else(|| panic!("no step {name}: {report:#}"))
    };
    for step in [
        "name",
        "dns srv",
        "dns ipv4",
        "health",
        "version",
        "clock",
        "webfinger",
    ] {
        assert_eq!(verdict(step), "pass", "{step}: {report:#}");
    }
    assert_eq!(verdict("round trip"), "pass", "{report:#}");
    assert_eq!(verdict("tls"), "skip");
}

/// SPEC §4.1 check 10: a server that registers only invited people says so in words, and
/// registers with the token given by flag or by `KEZ_INVITE_TOKEN`; a used-up token and a
/// closed server are explained too.
#[test]
fn invitation_tokens() {
    let kezd = Kezd::start_with(&["--set", "registration.policy=token"]);
    let url = kezd.url();
    let alice = Persona::new();
    alice.run(&["keys", "new"]).ok();
    let address = kezd.address("alice");
    let refused = alice
        .run(&["register", &address, "--server", &url])
        .fails_with(5);
    assert!(
        refused.stderr.contains("needs an invitation token") && refused.stderr.contains("--token"),
        "{refused:#?}"
    );
    let created = kezd.admin(&["tokens", "create", "--uses", "1"]);
    let token = created["token"].as_str().expect("token");
    alice
        .run(&["register", &address, "--server", &url, "--token", token])
        .ok();
    let bob = Persona::new();
    bob.run(&["keys", "new"]).ok();
    let used_up = bob
        .run(&[
            "register",
            &kezd.address("bob"),
            "--server",
            &url,
            "--token",
            token,
        ])
        .fails_with(5);
    assert!(
        used_up
            .stderr
            .contains("did not accept the invitation token"),
        "{used_up:#?}"
    );
    let fresh = kezd.admin(&["tokens", "create"]);
    let mut bob = bob;
    bob.env.push((
        "KEZ_INVITE_TOKEN".into(),
        fresh["token"].as_str().expect("token").into(),
    ));
    bob.run(&["register", &kezd.address("bob"), "--server", &url])
        .ok();

    let closed = Kezd::start_with(&["--set", "registration.policy=closed"]);
    let carol = Persona::new();
    carol.run(&["keys", "new"]).ok();
    let refused = carol
        .run(&[
            "register",
            &closed.address("carol"),
            "--server",
            &closed.url(),
        ])
        .fails_with(5);
    assert!(
        refused.stderr.contains("not taking new registrations"),
        "{refused:#?}"
    );
}
