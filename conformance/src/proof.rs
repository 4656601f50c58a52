//! The requirements report of the faults run: for every requirement id of the SPEC, how it is
//! checked, and for a server requirement the faults that break it, whether each was caught,
//! and the cases that caught them — the cases that check it, found by the run rather than kept
//! by hand. Printed on stdout and written as JSON (`kez-conformance faults --report json FILE`).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::coverage::Coverage;
use crate::faults::{BASELINE, FaultResult};
use crate::requirements::{self, Check};

/// What the run says of one fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It failed these cases.
    Caught(Vec<&'static str>),
    /// No case failed.
    NotCaught,
    /// Its run could not happen: why.
    Error(String),
    /// It was not run (`--fault` chose others, or the build lacks it).
    NotRun,
}

impl Verdict {
    /// The verdict on `fault` in `results`.
    pub fn of(fault: &str, results: &[FaultResult]) -> Verdict {
        match results.iter().find(|r| r.fault == fault) {
            None => Verdict::NotRun,
            Some(r) => match &r.error {
                Some(e) => Verdict::Error(e.clone()),
                None if r.failing.is_empty() => Verdict::NotCaught,
                None => Verdict::Caught(r.failing_cases()),
            },
        }
    }

    fn text(&self) -> String {
        match self {
            Verdict::Caught(cases) => format!("caught by {}", cases.join(", ")),
            Verdict::NotCaught => "NOT CAUGHT".to_owned(),
            Verdict::Error(e) => format!("COULD NOT RUN: {e}"),
            Verdict::NotRun => "not run".to_owned(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Verdict::Caught(cases) => json!({"caught": true, "cases": cases}),
            Verdict::NotCaught => json!({"caught": false, "cases": []}),
            Verdict::Error(e) => json!({"caught": false, "cases": [], "error": e}),
            Verdict::NotRun => json!({"caught": null, "cases": []}),
        }
    }
}

/// The cases that caught any of `faults`, without repeats.
fn cases_of(faults: &[&str], results: &[FaultResult]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for fault in faults {
        if let Verdict::Caught(cases) = Verdict::of(fault, results) {
            for case in cases {
                if !out.contains(&case) {
                    out.push(case);
                }
            }
        }
    }
    out
}

/// Whether every one of `faults` was caught: `true`, `false`, or `null` when none was run.
fn caught(faults: &[&str], results: &[FaultResult]) -> Value {
    let verdicts: Vec<Verdict> = faults.iter().map(|f| Verdict::of(f, results)).collect();
    if verdicts.iter().all(|v| *v == Verdict::NotRun) {
        Value::Null
    } else {
        verdicts
            .iter()
            .all(|v| matches!(v, Verdict::Caught(_)))
            .into()
    }
}

/// How many requirements of each kind `coverage` has: (server, client, unobservable, pending,
/// without an entry).
pub fn kinds(coverage: &Coverage) -> (usize, usize, usize, usize, usize) {
    let mut n = (0, 0, 0, 0, 0);
    for row in &coverage.rows {
        match row.requirement.map(|r| r.check) {
            Some(Check::Server { .. }) => n.0 += 1,
            Some(Check::Client { .. }) => n.1 += 1,
            Some(Check::Unobservable { .. }) => n.2 += 1,
            Some(Check::Pending { .. }) => n.3 += 1,
            None => n.4 += 1,
        }
    }
    n
}

/// The report on stdout: one block per requirement, then the faults outside any requirement.
pub fn text(coverage: &Coverage, results: &[FaultResult]) -> String {
    let mut out = String::new();
    for row in &coverage.rows {
        let id = &row.spec.id;
        let Some(requirement) = row.requirement else {
            let _ = writeln!(out, "{id:<8} NO ENTRY  {}", row.spec.sentence);
            continue;
        };
        let _ = writeln!(out, "{id:<8} {}", requirement.summary);
        match requirement.check {
            Check::Server { faults } => {
                for fault in faults {
                    let verdict = Verdict::of(fault, results).text();
                    let _ = writeln!(out, "         fault {fault}: {verdict}");
                }
            }
            Check::Client { tests } => {
                let _ = writeln!(out, "         client tests: {}", tests.join(", "));
            }
            Check::Unobservable { reason } => {
                let _ = writeln!(out, "         unobservable: {reason}");
            }
            Check::Pending { awaits } => {
                let _ = writeln!(out, "         PENDING: awaits {awaits}");
            }
        }
    }
    let _ = writeln!(out, "faults on statements without a MUST:");
    for (fault, section) in requirements::OTHER_FAULTS {
        let verdict = Verdict::of(fault, results).text();
        let _ = writeln!(out, "{section:<8} fault {fault}: {verdict}");
    }
    out
}

/// The JSON report.
pub fn json_report(
    coverage: &Coverage,
    results: &[FaultResult],
    problems: &[String],
    total: Duration,
) -> Value {
    let (server, client, unobservable, pending, missing) = kinds(coverage);
    let faults: Vec<&FaultResult> = results.iter().filter(|r| r.fault != BASELINE).collect();
    let baseline = results.iter().find(|r| r.fault == BASELINE);
    json!({
        "summary": {
            "requirements": coverage.rows.len(),
            "server": server,
            "client": client,
            "unobservable": unobservable,
            "pending": pending,
            "without_entry": missing,
            "faults": faults.len(),
            "faults_caught": faults.iter().filter(|r| r.ok()).count(),
            "baseline_passed": baseline.map(FaultResult::ok),
            "coverage_ok": coverage.ok(),
            "duration_ms": u64::try_from(total.as_millis()).unwrap_or(u64::MAX),
        },
        "requirements": coverage.rows.iter().map(|row| {
            let mut entry = json!({"id": row.spec.id, "sentence": row.spec.sentence});
            if let Some(r) = row.requirement {
                entry["summary"] = r.summary.into();
                match r.check {
                    Check::Server { faults } => {
                        entry["kind"] = "server".into();
                        entry["cases"] = json!(cases_of(faults, results));
                        entry["caught"] = caught(faults, results);
                        entry["faults"] = faults.iter().map(|f| {
                            let mut v = Verdict::of(f, results).json();
                            v["name"] = (*f).into();
                            v
                        }).collect();
                    }
                    Check::Client { tests } => {
                        entry["kind"] = "client".into();
                        entry["tests"] = json!(tests);
                    }
                    Check::Unobservable { reason } => {
                        entry["kind"] = "unobservable".into();
                        entry["reason"] = reason.into();
                    }
                    Check::Pending { awaits } => {
                        entry["kind"] = "pending".into();
                        entry["awaits"] = awaits.into();
                    }
                }
            }
            entry
        }).collect::<Vec<_>>(),
        "other_faults": requirements::OTHER_FAULTS.iter().map(|(fault, section)| {
            let mut v = Verdict::of(fault, results).json();
            v["name"] = (*fault).into();
            v["section"] = (*section).into();
            v
        }).collect::<Vec<_>>(),
        "runs": results.iter().map(|r| json!({
            "fault": r.fault,
            "ok": r.ok(),
            "cases": r.cases,
            "failing": r.failing.iter().map(|o| json!({
                "id": o.id, "target": o.target, "reason": o.reason,
            })).collect::<Vec<_>>(),
            "error": r.error,
            "duration_ms": u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
        })).collect::<Vec<_>>(),
        "problems": problems,
    })
}
