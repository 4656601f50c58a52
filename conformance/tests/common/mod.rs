//! Helpers shared by the suite's own tests: running the `kez-conformance` binary, and finding
//! (or building) kezd's fault-injection build.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The suite's binary, built by cargo for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_kez-conformance");

/// Runs the binary with `args`; its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("running kez-conformance")
}

/// The output as text, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Reads a JSON report.
pub fn report(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("reading the report");
    serde_json::from_str(&text).expect("the report is JSON")
}

/// kezd built with `--features faults` (see `kez_conformance::faults::build_kezd`).
pub fn faults_kezd() -> PathBuf {
    kez_conformance::faults::build_kezd().expect("the faults build of kezd")
}

/// A script in `dir` that runs `kezd` with `KEZ_FAULTS=faults` (the testnet passes no `KEZ_*`
/// variable through, so the script sets it).
pub fn wrapper(dir: &Path, kezd: &Path, faults: &str) -> PathBuf {
    let path = dir.join(format!("kezd-{faults}"));
    let script = format!(
        "#!/bin/sh\nKEZ_FAULTS='{faults}' exec '{}' \"$@\"\n",
        kezd.display()
    );
    std::fs::write(&path, script).expect("writing the wrapper");
    let mut permissions = std::fs::metadata(&path).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).expect("chmod");
    path
}
