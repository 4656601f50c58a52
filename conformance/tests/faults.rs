//! The suite has teeth: kezd's fault-injection build refuses to start without `KEZ_FAULTS`,
//! lists its faults, and with `skip_envelope_signature_check` enabled the suite exits non-zero
//! naming the case that caught it — while the same build with no fault enabled passes; its
//! faults and their descriptions agree with the table of requirements; and the
//! faults run reports that fault under its requirement id with the cases that caught it.

mod common;

use std::process::Command;

#[test]
fn a_faults_build_refuses_to_start_without_kez_faults() {
    let kezd = common::faults_kezd();
    let output = Command::new(&kezd)
        .env_remove("KEZ_FAULTS")
        .arg("check-config")
        .output()
        .expect("running the faults build");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("KEZ_FAULTS"),
        "{}",
        common::text(&output)
    );
    let list = Command::new(&kezd)
        .env("KEZ_FAULTS", "list")
        .output()
        .expect("listing faults");
    assert!(list.status.success(), "{}", common::text(&list));
    let names = String::from_utf8_lossy(&list.stdout).lines().count();
    assert!(names >= 20, "{names} faults");
}

/// The table of requirements and the faults build agree, and each fault's description names the
/// id it is listed under: checked by every test run, not only by the whole faults run in CI.
#[test]
fn the_faults_build_agrees_with_the_requirements_table() {
    let faults = kez_conformance::faults::list_faults(&common::faults_kezd())
        .expect("the faults build lists its faults");
    let problems = kez_conformance::faults::table_problems(&faults);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn skip_envelope_signature_check_fails_the_suite() {
    let kezd = common::faults_kezd();
    let dir = tempfile::tempdir().expect("a temp dir");
    let run = |faults: &str| {
        let wrapper = common::wrapper(dir.path(), &kezd, faults);
        let json = dir.path().join(format!("{faults}.json"));
        let output = common::run(&[
            "--spawn",
            "1",
            "--kezd",
            wrapper.to_str().expect("utf-8 path"),
            "--filter",
            "s8.send",
            "--filter",
            "s3.sig",
            "--report",
            "json",
            json.to_str().expect("utf-8 path"),
        ]);
        (output, common::report(&json))
    };

    // The exit status also says whether coverage is complete, which is not this test's
    // business: the cases' verdicts are.
    let (output, report) = run("none");
    assert_eq!(report["summary"]["failed"], 0, "{}", common::text(&output));

    let (output, report) = run("skip_envelope_signature_check");
    assert_eq!(output.status.code(), Some(1), "{}", common::text(&output));
    let failed: Vec<&str> = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["status"] == "fail")
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(failed.contains(&"s8.send.checks"), "{failed:?}");
    assert!(failed.contains(&"s3.sig.strict_s"), "{failed:?}");
}

#[test]
fn the_faults_run_reports_the_cases_that_catch_a_requirement() {
    let kezd = common::faults_kezd();
    let dir = tempfile::tempdir().expect("a temp dir");
    let json = dir.path().join("faults.json");
    let output = common::run(&[
        "faults",
        "--kezd-faults",
        kezd.to_str().expect("utf-8 path"),
        "--fault",
        "skip_envelope_signature_check",
        "--report",
        "json",
        json.to_str().expect("utf-8 path"),
    ]);
    let report = common::report(&json);
    assert_eq!(
        report["summary"]["baseline_passed"],
        true,
        "{}",
        common::text(&output)
    );
    assert_eq!(
        report["summary"]["faults_caught"],
        1,
        "{}",
        common::text(&output)
    );
    let checked = requirement(&report, "§3.4-3");
    assert_eq!(checked["kind"], "server");
    assert_eq!(checked["caught"], true);
    let cases: Vec<&str> = checked["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(cases.contains(&"s3.sig.strict_s"), "{cases:?}");
    let fault = &checked["faults"][0];
    assert_eq!(fault["name"], "skip_envelope_signature_check");
    assert_eq!(fault["caught"], true);
    // Faults not chosen are reported as not run, never as caught.
    let other = requirement(&report, "§2.1-2");
    assert_eq!(other["faults"][0]["caught"], serde_json::Value::Null);
}

/// The entry for `id` in a faults run's JSON report.
fn requirement<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["requirements"]
        .as_array()
        .expect("requirements")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} in the report"))
}
