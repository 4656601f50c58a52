//! A scenario's result: figures as JSON (`--json`) or a summary for people, the conditions
//! they were measured under (date, load average, kezd binary), and whether the exactly-once
//! checks passed; a failed check makes the process exit non-zero.

use serde_json::{Map, Value, json};

use crate::procfs;

/// What a scenario hands back.
#[derive(Debug, Default)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// The parameters it ran with.
    pub params: Map<String, Value>,
    /// The figures.
    pub figures: Map<String, Value>,
    /// Summary lines for people, in order.
    pub lines: Vec<String>,
    /// Check failures; empty means every check passed.
    pub problems: Vec<String>,
    /// Load average when the scenario started.
    pub load_before: Option<[f64; 3]>,
}

impl Report {
    /// An empty report for `scenario`, noting the load average now.
    pub fn new(scenario: &str) -> Report {
        Report {
            scenario: scenario.to_owned(),
            load_before: procfs::load_average(),
            ..Report::default()
        }
    }

    /// Records a parameter.
    pub fn param(&mut self, key: &str, value: impl Into<Value>) {
        self.params.insert(key.to_owned(), value.into());
    }

    /// Records a figure.
    pub fn figure(&mut self, key: &str, value: impl serde::Serialize) {
        self.figures.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
    }

    /// Adds a line to the human summary.
    pub fn line(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Records a failed check.
    pub fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// The whole report as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "date_unix_ms": crate::client::now_ms(),
            "load_average_before": self.load_before,
            "load_average_after": procfs::load_average(),
            "params": self.params,
            "figures": self.figures,
            "passed": self.problems.is_empty(),
            "problems": self.problems,
        })
    }

    /// The summary for people.
    pub fn human(&self) -> String {
        let mut out = format!("== kez-bench {} ==\n", self.scenario);
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!("params: {}\n", params.join(" ")));
        let fmt = |l: Option<[f64; 3]>| {
            l.map_or("?".to_owned(), |l| {
                format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2])
            })
        };
        out.push_str(&format!(
            "load average: before {}, after {}\n",
            fmt(self.load_before),
            fmt(procfs::load_average())
        ));
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        if self.problems.is_empty() {
            out.push_str("checks: PASSED\n");
        } else {
            out.push_str("checks: FAILED\n");
            for p in &self.problems {
                out.push_str(&format!("  - {p}\n"));
            }
        }
        out
    }
}
