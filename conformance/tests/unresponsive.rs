//! A server that accepts connections and never answers cannot hang the suite: every request
//! has a timeout, and each case fails with that reason.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

#[test]
fn a_silent_server_fails_its_cases_with_the_reason() {
    // Accepts (the kernel does, into the backlog) and never reads or writes.
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let dir = tempfile::tempdir().expect("a temp dir");
    let json = dir.path().join("report.json");
    let started = Instant::now();
    let output = common::run(&[
        "--server",
        &url,
        "--timeout",
        "1",
        "--report",
        "json",
        json.to_str().expect("utf-8 path"),
    ]);
    let took = started.elapsed();
    drop(listener);
    assert_eq!(output.status.code(), Some(1), "{}", common::text(&output));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let report = common::report(&json);
    let cases = report["cases"].as_array().expect("cases");
    let failed: Vec<&serde_json::Value> = cases.iter().filter(|c| c["status"] == "fail").collect();
    assert!(failed.len() > 50, "{} failed", failed.len());
    assert!(
        failed.iter().all(|c| c["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no answer within"))),
        "{failed:#?}"
    );
    // Pair and rogue cases skip with their reasons rather than fail.
    assert!(
        cases.iter().any(|c| c["status"] == "skip"
            && c["reason"].as_str().is_some_and(|r| r.contains("--spawn")))
    );
}
