//! kezctl/README.md's first session, run as a newcomer pastes it: the commands are read from
//! the README's code block (so the document and this test cannot drift apart) and run by bash,
//! in a fresh `HOME`, against a real kezd, with the real kezctl on `PATH`.
//!
//! Two lines are the harness's to do, each checked to be in the block: the build (`cargo build
//! …`: `cargo test` built both binaries already) and starting the server (`kezd … &`: the
//! harness starts the same binary on a free port, and the block's `6969` becomes that port).
//! The closing `listen` runs until Ctrl-C, so the harness runs it itself, as the same user with
//! the same environment, and ends it with SIGINT, as a terminal does.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{Kezd, Watched};

const README: &str = include_str!("../README.md");

/// The lines of the first `sh` block under "## A first session".
fn first_session() -> Vec<&'static str> {
    let section = README
        .split_once("## A first session")
        .expect("the README has a first session")
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("the first session has an sh block")
        .0;
    block.lines().collect()
}

/// The value `export KEZ_PASSPHRASE='…'` sets in the block.
fn passphrase(lines: &[&str]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("export KEZ_PASSPHRASE='"))
        .and_then(|rest| rest.split_once('\''))
        .map(|(value, _)| value.to_owned())
        .expect("the session sets KEZ_PASSPHRASE")
}

/// Whether the harness does this line itself (see the module doc).
fn harness_does(line: &str) -> bool {
    line.starts_with("cargo ") || line.starts_with("kezd ")
}

#[test]
fn the_first_session_works_as_pasted() {
    let lines = first_session();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("cargo build -p kezd -p kezctl")),
        "the session says how to build kezctl: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("kezd ") && l.contains('&')),
        "the session starts a server: {lines:#?}"
    );
    assert!(
        lines.last().is_some_and(|l| l.contains(" listen ")),
        "the session ends with listen: {lines:#?}"
    );

    let kezd = Kezd::start();
    let port = kezd.addr.port().to_string();
    let home = tempfile::tempdir().expect("temp dir");
    let work = home.path().join("kez");
    // The block's `export PATH="$PWD/target/debug:$PATH"`, from the repository root, finds
    // the binaries cargo built; here the working directory's target/debug is where they are.
    let built = Path::new(env!("CARGO_BIN_EXE_kezctl"))
        .parent()
        .expect("a binary's directory");
    std::fs::create_dir_all(work.join("target")).expect("work dir");
    std::os::unix::fs::symlink(built, work.join("target/debug")).expect("symlink");
    let (listen_line, session) = lines.split_last().expect("lines");
    let script: Vec<String> = session
        .iter()
        .filter(|l| !harness_does(l))
        .map(|l| l.replace("6969", &port))
        .collect();
    let script_path = home.path().join("session.sh");
    std::fs::write(&script_path, script.join("\n")).expect("script");

    let ran = Command::new("bash")
        .args(["-euo", "pipefail"])
        .arg(&script_path)
        .current_dir(&work)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(ran.status.success(), "the session failed: {ran:#?}");
    assert!(stdout.contains("signature: valid"), "whois: {stdout}");
    assert!(stdout.contains("\nstored\n"), "status: {stdout}");
    assert!(stdout.contains(": hello bob"), "bob's inbox: {stdout}");

    // The listen line, as the session's shell would run it: kezctl from PATH (the same binary),
    // in the same HOME, with the passphrase the session exported.
    let words: Vec<&str> = listen_line
        .split('#')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(words.first(), Some(&"kezctl"), "{listen_line}");
    let kezctl = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kezctl"));
        command
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("KEZ_PASSPHRASE", passphrase(&lines))
            .stdin(Stdio::null());
        command
    };
    let mut listen = Watched::spawn(kezctl(&words[1..]));
    listen.wait_for(false, "live");
    let sent = kezctl(&["send", &kezd.address("bob"), "while bob listens"])
        .output()
        .expect("send");
    assert!(sent.status.success(), "{sent:#?}");
    listen.wait_for(true, ": while bob listens");
    ctrl_c(listen.child.id());
    assert_eq!(listen.finish(), Some(0), "{:#?}", listen.seen);
}

/// Sends SIGINT to the one process `pid`, as Ctrl-C at a terminal does. `--` ends kill's
/// options, so the pid is never read as one (procps reads `-<digits>` as signals to process
/// groups).
fn ctrl_c(pid: u32) {
    assert!(pid > 1, "a child's pid");
    let status = Command::new("kill")
        .args(["-s", "INT", "--", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}
