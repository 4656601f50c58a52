//! `kezctl listen` against a real kezd (SPEC §8.5): it follows the stream, reconnects after
//! the server goes away, and never shows the credential its stream URL carries (SPEC §13.3).

mod common;

use common::{Kezd, Persona, Watched};

/// kezd with alice and bob registered, and bob's `listen --count 1` live.
fn bob_listening() -> (Kezd, Persona, String, Watched) {
    let kezd = Kezd::start();
    let alice = Persona::new();
    let bob = Persona::new();
    alice.register(&kezd, "alice");
    let bob_addr = bob.register(&kezd, "bob");
    let mut listen = Watched::spawn(bob.command(&["listen", "--count", "1"]));
    listen.wait_for(false, "live");
    (kezd, alice, bob_addr, listen)
}

/// `listen` follows the stream (SPEC §8.5) and prints a message sent after it started; its
/// status lines are on stderr.
#[test]
fn listen_prints_a_message_sent_after_it_started() {
    let (_kezd, alice, bob_addr, mut listen) = bob_listening();
    alice.run(&["send", &bob_addr, "live one"]).ok();
    let line = listen.wait_for(true, "live one");
    assert!(line.contains("alice@"), "{line}");
    assert_eq!(listen.finish(), Some(0), "exits after --count 1");
}

/// The longest run of lowercase hex digits in `text`. A credential's signature is 128 hex
/// digits (SPEC §7.1); nothing else kezctl prints is that long (primaries and message ids are
/// 64).
fn longest_hex_run(text: &str) -> usize {
    text.split(|c: char| !matches!(c, '0'..='9' | 'a'..='f'))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// SPEC §13.3: the stream credential rides in the URL's `auth=` query. `listen` loses its
/// stream (kezd killed), fails to reconnect while kezd is down (a connection error, which
/// reqwest words with the full URL), reconnects once kezd is back and shows the next message —
/// and nothing it printed on stdout or stderr, in any of that, holds the credential.
#[test]
fn listen_reconnects_without_showing_its_credential() {
    let (mut kezd, alice, bob_addr, mut listen) = bob_listening();
    kezd.stop();
    listen.wait_for(false, "reconnecting");
    // The next attempt finds nothing listening: the error path that once printed the URL.
    listen.wait_for(false, "cannot reach");
    kezd.restart();
    listen.wait_for(false, "live");
    alice.run(&["send", &bob_addr, "after the restart"]).ok();
    listen.wait_for(true, "after the restart");
    assert_eq!(listen.finish(), Some(0));

    let text = listen.text();
    assert!(!text.contains("auth="), "{text}");
    assert!(longest_hex_run(&text) < 128, "{text}");
}
