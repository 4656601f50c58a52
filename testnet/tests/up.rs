//! `kez-testnet up 2` as a person runs it: the binary starts two kezd nodes, prints the kezctl
//! commands, and the commands it printed, run by bash with the workspace's kezctl, register
//! alice on a.test and bob on b.test and carry alice's message to bob across the two servers.
//! SIGINT to the binary (its own pid only) stops everything: exit status 0, no directory left.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process};

/// Bounds on events that must happen; liveness bounds, not measurements.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const COMMANDS_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// kezctl next to the kezd binary, built by cargo into the same target directory and profile
/// (cargo sets `CARGO_BIN_EXE_*` only for the package under test).
fn kezctl_beside(kezd: &Path) -> PathBuf {
    let profile_dir = kezd.parent().expect("a profile directory");
    let target = profile_dir.parent().expect("a target directory");
    let profile = profile_dir
        .file_name()
        .expect("a profile")
        .to_string_lossy();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(kez_testnet::workspace_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "kezctl",
            "--bin",
            "kezctl",
            "--target-dir",
        ])
        .arg(target);
    if profile != "debug" {
        command.args(["--profile", &profile]);
    }
    assert!(
        command.status().expect("cargo runs").success(),
        "build kezctl"
    );
    profile_dir.join("kezctl")
}

/// The lines the child writes on stdout, read on a thread so the test can wait with a bound.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}

/// Waits for `child` to exit within `within`, on a thread, so a hang fails the test.
fn wait_within(mut child: Child, within: Duration) -> ExitStatus {
    let (done, exited) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    exited
        .recv_timeout(within)
        .unwrap_or_else(|e| panic!("process {pid} did not exit in time: {e}"))
        .expect("wait")
}

#[test]
fn up_two_nodes_carries_the_printed_commands_message_and_stops_on_sigint() {
    let kezd = kez_testnet::kezd_binary().expect("kezd binary");
    let kezctl = kezctl_beside(&kezd);
    let mut command = Command::new(env!("CARGO_BIN_EXE_kez-testnet"));
    command
        .args(["up", "2", "--kezd"])
        .arg(&kezd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEZ_") {
            command.env_remove(name);
        }
    }
    let mut testnet = command.spawn().expect("kez-testnet starts");
    let lines = stdout_lines(&mut testnet);
    let mut printed = Vec::new();
    while !printed
        .last()
        .is_some_and(|l: &String| l.starts_with("ready"))
    {
        match lines.recv_timeout(READY_TIMEOUT) {
            Ok(line) => printed.push(line),
            Err(e) => {
                let _ = testnet.kill();
                panic!("no ready line ({e}): {printed:#?}");
            }
        }
    }
    let dir = printed
        .iter()
        .find_map(|l| l.strip_prefix("kez-testnet: directory "))
        .map(PathBuf::from)
        .expect("the directory is printed");
    assert!(dir.is_dir());
    for name in ["a.test", "b.test"] {
        assert!(
            printed.iter().any(|l| l.trim_start().starts_with(name)),
            "{name}: {printed:#?}"
        );
    }

    // The commands, as printed (indented by four spaces), with kezctl on PATH.
    let script: Vec<&str> = printed
        .iter()
        .filter_map(|l| l.strip_prefix("    "))
        .collect();
    assert!(script[0].starts_with("export KEZ_CA_FILE="), "{script:#?}");
    let path = format!(
        "{}:{}",
        kezctl.parent().expect("dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = Command::new("bash");
    bash.args(["-euc", &script.join("\n")])
        .env("PATH", path)
        .env_remove("KEZ_PASSPHRASE")
        .env_remove("KEZ_IDENTITY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut bash = bash.spawn().expect("bash");
    let output = stdout_lines(&mut bash);
    let status = wait_within(bash, COMMANDS_TIMEOUT);
    let said: Vec<String> = output.iter().collect();
    assert!(status.success(), "the printed commands failed: {said:#?}");
    // The last command (bob's listen) printed alice's message, from alice on the other server.
    let message = said.last().expect("bob's listen printed the message");
    assert!(
        message.contains("alice@a.test") && message.contains("hello from a.test"),
        "{said:#?}"
    );

    // SIGINT to the testnet process alone, as Ctrl-C would send it.
    let pid = i32::try_from(testnet.id())
        .ok()
        .and_then(Pid::from_raw)
        .expect("a pid");
    kill_process(pid, Signal::INT).expect("SIGINT");
    let status = wait_within(testnet, EXIT_TIMEOUT);
    assert!(status.success(), "exit status after SIGINT: {status}");
    assert!(!dir.exists(), "{} is left behind", dir.display());
}
