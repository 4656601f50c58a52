//! Reporting: the readable table (one line per job: status, time, case, target, reason), the
//! coverage table (requirement id → how it is checked), and machine-readable JSON and JUnit XML files.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::coverage::Coverage;
use crate::requirements::Check;
use crate::runner::{Outcome, Status};

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Passed jobs.
    pub passed: usize,
    /// Failed jobs.
    pub failed: usize,
    /// Skipped jobs.
    pub skipped: usize,
}

/// Counts the outcomes.
pub fn summary(outcomes: &[Outcome]) -> Summary {
    let mut s = Summary::default();
    for o in outcomes {
        match o.status {
            Status::Pass => s.passed += 1,
            Status::Fail => s.failed += 1,
            Status::Skip => s.skipped += 1,
        }
    }
    s
}

/// The results table.
pub fn table(outcomes: &[Outcome]) -> String {
    let id_width = outcomes
        .iter()
        .map(|o| o.id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let target_width = outcomes
        .iter()
        .map(|o| o.target.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<4}  {:>7}  {:<id_width$}  {:<target_width$}  sections / reason",
        "", "time", "case", "target"
    );
    for o in outcomes {
        let mark = match o.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        let detail = if o.reason.is_empty() {
            o.sections.join(" ")
        } else {
            format!("{}: {}", o.sections.join(" "), o.reason)
        };
        let _ = writeln!(
            out,
            "{mark:<4}  {:>7}  {:<id_width$}  {:<target_width$}  {detail}",
            millis(o.duration),
            o.id,
            o.target,
        );
    }
    out
}

fn millis(d: Duration) -> String {
    if d.as_millis() < 10_000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The coverage table: each requirement id of the SPEC and how it is checked.
pub fn coverage_table(coverage: &Coverage) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<8} {:<12}  checked by", "id", "kind");
    for row in &coverage.rows {
        let (kind, detail) = match row.requirement.map(|r| r.check) {
            None => ("NO ENTRY", row.spec.sentence.clone()),
            Some(Check::Server { faults }) => ("server", format!("faults {}", faults.join(", "))),
            Some(Check::Client { tests }) => ("client", tests.join(", ")),
            Some(Check::Unobservable { reason }) => ("unobservable", reason.to_owned()),
            Some(Check::Pending { awaits }) => ("PENDING", format!("awaits {awaits}")),
        };
        let _ = writeln!(out, "{:<8} {kind:<12}  {detail}", row.spec.id);
    }
    for problem in &coverage.problems {
        let _ = writeln!(out, "coverage problem: {problem}");
    }
    out
}

/// The JSON report.
pub fn json_report(outcomes: &[Outcome], coverage: &Coverage, total: Duration) -> Value {
    let s = summary(outcomes);
    json!({
        "summary": {
            "passed": s.passed,
            "failed": s.failed,
            "skipped": s.skipped,
            "duration_ms": u64::try_from(total.as_millis()).unwrap_or(u64::MAX),
            "coverage_ok": coverage.ok(),
        },
        "cases": outcomes.iter().map(|o| json!({
            "id": o.id,
            "sections": o.sections,
            "description": o.description,
            "target": o.target,
            "status": o.status.as_str(),
            "reason": o.reason,
            "duration_ms": u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
        })).collect::<Vec<_>>(),
        "coverage": coverage.rows.iter().map(|r| json!({
            "id": r.spec.id,
            "kind": r.requirement.map(|r| r.check.kind()),
            "summary": r.requirement.map(|r| r.summary),
        })).collect::<Vec<_>>(),
        "coverage_problems": coverage.problems,
    })
}

/// The JUnit XML report: one test suite, one test case per job (`classname` the first
/// section, `name` the case id and target).
pub fn junit_report(outcomes: &[Outcome], total: Duration) -> String {
    let s = summary(outcomes);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"kez-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        outcomes.len(),
        s.failed,
        s.skipped,
        total.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"kez-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        outcomes.len(),
        s.failed,
        s.skipped,
        total.as_secs_f64()
    );
    for o in outcomes {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}@{}\" time=\"{:.3}\"",
            xml(o.sections.first().copied().unwrap_or("")),
            xml(o.id),
            xml(&o.target),
            o.duration.as_secs_f64()
        );
        match o.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Fail => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml(&o.reason),
                    xml(o.description)
                );
            }
            Status::Skip => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(&o.reason)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
