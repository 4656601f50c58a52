//! The coverage check: a section of SPEC.md with a MUST and no case fails it (unless the
//! reviewed list covers it), and the real SPEC is covered by the real cases.

use kez_conformance::case::{Case, CaseResult, Single};
use kez_conformance::cases;
use kez_conformance::coverage::{COVERED_ELSEWHERE, SPEC, coverage, extract_musts};

fn noop(_: Single) -> kez_conformance::case::CaseFuture {
    Box::pin(async { CaseResult::Ok(()) })
}

const FAKE_SPEC: &str = "# KEZ\n\n## §1 One\n\nA server MUST do one thing.\n\n\
                         ### §1.1 Sub\n\nNothing normative.\n\n## §2 Two\n\nA client MUST NOT do \
                         another. It SHOULD be kind.\n\n## §3 Three\n\nServers MUST answer.\n";

#[test]
fn a_must_section_without_a_case_fails() {
    let musts = extract_musts(FAKE_SPEC);
    let sections: Vec<&str> = musts.iter().map(|m| m.section.as_str()).collect();
    assert_eq!(sections, vec!["§1", "§2", "§3"]);
    assert_eq!(musts[1].sentences, vec!["A client MUST NOT do another."]);

    let cases = vec![
        Case::single("t.one", &["§1"], "one", noop),
        Case::single("t.three", &["§3", "§1.1"], "three", noop),
    ];
    let result = coverage(FAKE_SPEC, &cases, &[]);
    assert!(!result.ok());
    assert_eq!(result.problems.len(), 1, "{:?}", result.problems);
    assert!(
        result.problems[0].starts_with("§2 "),
        "{:?}",
        result.problems
    );

    // A reviewed entry naming an existing case covers it...
    let reviewed = [("§2", "t.one", "checked there")];
    assert!(coverage(FAKE_SPEC, &cases, &reviewed).ok());
    // ...one naming no case is itself a problem...
    let wrong = [("§2", "t.missing", "no such case")];
    assert!(!coverage(FAKE_SPEC, &cases, &wrong).ok());
    // ...and so is a stale one for a section that has its own case.
    let stale = [("§2", "t.one", "x"), ("§3", "t.one", "stale")];
    assert!(!coverage(FAKE_SPEC, &cases, &stale).ok());
}

#[test]
fn the_spec_is_covered_by_the_cases() {
    let result = coverage(SPEC, &cases::all(), COVERED_ELSEWHERE);
    assert!(result.ok(), "{:#?}", result.problems);
    assert!(
        result.rows.len() >= 30,
        "{} MUST sections",
        result.rows.len()
    );
}
