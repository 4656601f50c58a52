//! `--spawn` without `--kezd` says where it gets kezd from: run outside the workspace it was
//! built from (and without `KEZD_BIN`), it builds nothing and says it needs `--kezd` or
//! `KEZD_BIN`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn spawn_outside_the_workspace_needs_kezd() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let started = Instant::now();
    let output = Command::new(common::BIN)
        .args(["--spawn", "1"])
        .current_dir(dir.path())
        .env_remove("KEZD_BIN")
        .output()
        .expect("running kez-conformance");
    let text = common::text(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("--kezd PATH or set KEZD_BIN"), "{text}");
    assert!(!text.contains("building kezd"), "{text}");
    // Refused before anything is built or started.
    assert!(started.elapsed() < Duration::from_secs(10), "{text}");
}

#[test]
fn a_relative_kezd_path_is_found_from_the_nodes_directories() {
    // The nodes run in directories of their own: a relative --kezd must still name the file
    // the caller meant. A path that does not exist is reported with the absolute path.
    let dir = tempfile::tempdir().expect("a temp dir");
    let output = Command::new(common::BIN)
        .args(["--spawn", "1", "--kezd", "no-such-kezd"])
        .current_dir(dir.path())
        .output()
        .expect("running kez-conformance");
    let text = common::text(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let absolute = dir.path().join("no-such-kezd");
    assert!(text.contains(&absolute.display().to_string()), "{text}");
}
