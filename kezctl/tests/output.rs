//! kezctl as a Unix tool, through the real binary against a real kezd: stdout carries a
//! command's result and nothing else (commentary is on stderr), so `$(kezctl send …)` is the
//! message id; and a reader that closes stdout early ends any command quietly, with status 0.

mod common;

use std::process::{Command, Stdio};

use common::{Kezd, Persona, Run, texts};
use serde_json::{Value, json};

/// Runs `command` with its stdout a pipe whose reading end is already closed, so its first
/// write to stdout fails with EPIPE, whenever it comes.
fn run_with_closed_stdout(mut command: Command) -> Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let output = command
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run kezctl");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn is_primary(line: &str) -> bool {
    line.strip_prefix("ed25519:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every command's stdout is its result alone: `keys new` and `keys import` the primary,
/// `register` the address, `send` the id, `status` the status word, `keys export --out` and
/// `keys delete` nothing; the words around them are on stderr. `--json` keeps its documents.
#[test]
fn stdout_holds_only_the_result() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    let bob = Persona::new();
    bob.register(&kezd, "bob");
    let bob_addr = kezd.address("bob");

    let created = alice.run(&["keys", "new"]);
    assert!(created.stderr.contains("created identity"), "{created:#?}");
    let primary = created.ok();
    assert!(is_primary(primary.trim_end()), "{primary:?}");
    let alice_addr = kezd.address("alice");
    let registered = alice.run(&["register", &alice_addr, "--server", &kezd.url()]);
    assert!(registered.stderr.contains("registered"), "{registered:#?}");
    assert_eq!(registered.ok(), format!("{alice_addr}\n"));

    let sent = alice.run(&["send", &bob_addr, "one"]);
    assert!(sent.stderr.contains("stored in"), "{sent:#?}");
    let id = sent.ok();
    let id = id.trim_end();
    assert_eq!(id.len(), 64, "{id:?}");
    assert_eq!(alice.run(&["status", id]).ok(), "stored\n");
    let status = alice.run(&["status", id, "--json"]).json();
    assert_eq!(status["status"], json!("stored"));
    assert_eq!(status["id"], json!(id));

    let sent = alice.run(&["send", &bob_addr, "two", "--json"]).json();
    for member in ["id", "status", "seq", "duplicate", "to", "from"] {
        assert!(sent.get(member).is_some(), "{member}: {sent}");
    }

    let listed = alice.run(&["keys", "list"]).ok();
    assert_eq!(
        listed,
        format!("default\t{alice_addr}\t{}\n", primary.trim_end()),
        "one tab-separated line per identity"
    );

    let export = alice.path("alice.json");
    let export_arg = export.to_str().expect("utf-8 path");
    let exported = alice.run(&["keys", "export", "--out", export_arg]);
    assert!(exported.stderr.contains("exported"), "{exported:#?}");
    assert_eq!(exported.ok(), "");
    let imported = bob.run(&["keys", "import", export_arg, "--name", "alice"]);
    assert!(imported.stderr.contains("imported"), "{imported:#?}");
    assert_eq!(imported.ok(), primary);
    let deleted = bob.run(&["keys", "delete", "alice", "--yes"]);
    assert!(deleted.stderr.contains("deleted"), "{deleted:#?}");
    assert_eq!(deleted.ok(), "");

    let inbox = bob.run(&["inbox"]).ok();
    let lines: Vec<&str> = inbox.lines().collect();
    assert_eq!(lines.len(), 2, "one line per message: {inbox}");
    assert!(lines[0].ends_with(&format!("{alice_addr}: one")), "{inbox}");
    let empty = bob.run(&["inbox"]);
    assert!(empty.stderr.contains("no new messages"), "{empty:#?}");
    assert_eq!(empty.ok(), "");
}

/// A closed stdout (`kezctl … | head -0`) ends every command that prints with status 0 and
/// nothing on stderr — no panic, no error — including `listen` at its first message. What
/// the reader did not get is not lost: `inbox` keeps its cursor, so the next run shows it.
#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    let bob = Persona::new();
    let alice_addr = alice.register(&kezd, "alice");
    let bob_addr = bob.register(&kezd, "bob");
    let id = alice.run(&["send", &bob_addr, "unread"]).ok();
    let id = id.trim_end();
    let primary = alice.primary();
    let (url, name) = (kezd.url(), kezd.name());

    let commands: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["keys", "list"],
        vec!["keys", "list", "--json"],
        vec!["keys", "show"],
        vec!["keys", "export"],
        vec!["whois", &bob_addr],
        vec!["whois", &primary, "--server", &url],
        vec!["send", &bob_addr, "sent all the same"],
        vec!["status", id],
        vec!["completions", "bash"],
        vec!["doctor", &name, "--server", &url],
    ];
    let bob_commands: Vec<Vec<&str>> = vec![
        vec!["inbox"],
        vec!["inbox", "--json"],
        vec!["listen", "--since", "0"],
    ];
    let runs = commands
        .iter()
        .map(|args| (args, alice.command(args)))
        .chain(bob_commands.iter().map(|args| (args, bob.command(args))));
    for (args, command) in runs {
        let run = run_with_closed_stdout(command);
        // Commentary written before the result may be there; no error, no panic.
        assert_eq!(run.code, 0, "{args:?}: {run:#?}");
        assert!(!run.stderr.contains("error"), "{args:?}: {run:#?}");
        assert!(!run.stderr.contains("panicked"), "{args:?}: {run:#?}");
    }
    // Neither the closed `inbox` nor `listen` moved the cursor past what was never shown; the
    // send whose id nobody read was made.
    let inbox = bob.run(&["inbox", "--json"]).json();
    assert_eq!(texts(&inbox), ["unread", "sent all the same"], "{inbox}");
    assert_eq!(inbox["messages"][0]["from"], Value::from(alice_addr));
}
