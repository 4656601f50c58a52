//! The suite passes against two spawned nodes of the normal kezd: exit 0, and a JSON report
//! with no failure, complete coverage, and every pair and rogue case run.

mod common;

use std::time::Instant;

#[test]
fn passes_against_two_spawned_kezd() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let json = dir.path().join("report.json");
    let junit = dir.path().join("report.xml");
    let started = Instant::now();
    let output = common::run(&[
        "--spawn",
        "2",
        "--report",
        "json",
        json.to_str().expect("utf-8 path"),
        "--report",
        "junit",
        junit.to_str().expect("utf-8 path"),
    ]);
    let took = started.elapsed();
    assert!(output.status.success(), "{}", common::text(&output));
    let report = common::report(&json);
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["coverage_ok"], true, "{summary}");
    let cases = report["cases"].as_array().expect("cases");
    let passed = |prefix: &str| {
        cases
            .iter()
            .filter(|c| c["id"].as_str().is_some_and(|id| id.starts_with(prefix)))
            .filter(|c| c["status"] == "pass")
            .count()
    };
    // Both directions of every pair, and the rogue cases against both nodes.
    assert!(
        passed("s9.pair.") >= 8,
        "pair cases: {}",
        passed("s9.pair.")
    );
    assert!(
        passed("s9.rogue.") >= 20,
        "rogue cases: {}",
        passed("s9.rogue.")
    );
    assert!(
        passed("s9.retry.") >= 10,
        "rogue receiver cases: {}",
        passed("s9.retry.")
    );
    assert_eq!(
        summary["skipped"], 0,
        "nothing is skipped under --spawn: {summary}"
    );
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    assert!(xml.contains("<testsuite name=\"kez-conformance\""), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    // The run itself takes seconds; `took` also counts a kezd build when sources changed.
    eprintln!("kez-conformance --spawn 2 took {took:?}");
}
