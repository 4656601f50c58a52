//! The suite's self-test: proof that it has teeth. kezd's fault-injection build (cargo feature
//! `faults`, see `kezd/src/faults.rs`) offers named protocol violations, enabled one at a time
//! with `KEZ_FAULTS`. For each fault, `kez-conformance faults` starts a testnet from that build
//! with only that fault on, runs the whole suite, and requires at least one case to fail; the
//! cases that fail are the ones that check the requirement the fault breaks
//! ([`crate::requirements`]), as the report says. A baseline run with no fault enabled must pass
//! every case, so a detection is the fault's doing and not a broken build or a slow machine.
//!
//! The runs are independent testnets, several at a time (`--parallel`): most of a run is waiting
//! (for deliveries, retries, keep-alives), so a few share two cores well. Under a fault a case
//! may wait for something that never comes; each case is bounded by `--case-timeout` as well as
//! its own timeout, and the baseline passing under the same bound shows the bound is fair.
//!
//! The testnet strips `KEZ_*` variables from what it passes to kezd, so each fault's testnet
//! runs a two-line wrapper script that sets `KEZ_FAULTS` and executes the faults build.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::case::Case;
use crate::env::Env;
use crate::own::OwnNodes;
use crate::requirements;
use crate::runner::{self, Outcome, Status};
use crate::spawn;

/// What every fault run's nodes add to the suite's configuration (see [`run_one`]).
const FAULTS_RUN_CONFIG: &str = "durability = \"crash_only\"";

/// The name of the baseline run (no fault enabled) in reports.
pub const BASELINE: &str = "(baseline: no fault)";

/// The result of one fault's run of the whole suite.
#[derive(Debug, Clone)]
pub struct FaultResult {
    /// The fault, or [`BASELINE`].
    pub fault: String,
    /// How many cases ran.
    pub cases: usize,
    /// The jobs that failed (case id @ target and reason).
    pub failing: Vec<Outcome>,
    /// Why the run itself could not happen (testnet start-up), if it could not.
    pub error: Option<String>,
    /// Wall time.
    pub duration: Duration,
}

impl FaultResult {
    /// A fault is caught when a case failed; the baseline is good when none did.
    pub fn ok(&self) -> bool {
        if self.error.is_some() {
            return false;
        }
        if self.fault == BASELINE {
            self.failing.is_empty()
        } else {
            !self.failing.is_empty()
        }
    }

    /// The ids of the cases that failed, without repeats (a case fails once per target).
    pub fn failing_cases(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = Vec::new();
        for o in &self.failing {
            if !ids.contains(&o.id) {
                ids.push(o.id);
            }
        }
        ids
    }
}

/// Options of the faults check.
#[derive(Debug, Clone)]
pub struct Options {
    /// The faults build of kezd.
    pub kezd_faults: PathBuf,
    /// Fault runs (testnets) at the same time.
    pub parallel: usize,
    /// Jobs per fault run.
    pub jobs: usize,
    /// Request timeout.
    pub timeout: Duration,
    /// Bound on every case, on top of its own timeout.
    pub case_timeout: Duration,
}

/// kezd built with `--features faults`: `$KEZD_FAULTS_BIN` when set (CI builds it once),
/// otherwise `cargo build -p kezd --features faults` into `<target>/faults`, a target directory
/// of its own, so the normal kezd build is not rebuilt with another feature set.
pub fn build_kezd() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("KEZD_FAULTS_BIN") {
        return Ok(PathBuf::from(path));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().unwrap_or(manifest);
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("faults");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Straight to the process's stderr, not through eprintln!, which a test harness captures:
    // whoever waits for this build, in a test run too, is told what it is.
    let _ = writeln!(
        std::io::stderr(),
        "kez-conformance: building a second kezd, with --features faults, into {} (minutes \
         when that target directory is cold)",
        target_dir.display()
    );
    let status = std::process::Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--quiet", "-p", "kezd", "--bin", "kezd"])
        .args(["--features", "faults", "--target-dir"])
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("building the faults kezd failed: {status}"));
    }
    Ok(target_dir.join("debug").join("kezd"))
}

/// One fault of the faults build, as `KEZ_FAULTS=list` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Its name.
    pub name: String,
    /// What it breaks, naming the requirement id (or section) it is listed under.
    pub description: String,
}

/// The faults the binary knows (`KEZ_FAULTS=list kezd`).
pub fn list_faults(kezd_faults: &Path) -> Result<Vec<Fault>, String> {
    let output = std::process::Command::new(kezd_faults)
        .env("KEZ_FAULTS", "list")
        .output()
        .map_err(|e| format!("running {}: {e}", kezd_faults.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`KEZ_FAULTS=list {}` failed ({}): is it a build with `--features faults`? {}",
            kezd_faults.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (name, description) = line.split_once('\t').unwrap_or((line, ""));
            Fault {
                name: name.trim().to_owned(),
                description: description.trim().to_owned(),
            }
        })
        .collect())
}

/// Problems between the binary's faults and [`requirements`]: a fault no table lists, a listed
/// fault the build lacks, and a description that does not name the id (or section) its fault is
/// listed under.
pub fn table_problems(binary: &[Fault]) -> Vec<String> {
    let listed = requirements::listed_faults();
    let mut problems = Vec::new();
    for fault in binary {
        let tags = requirements::tags_of(&fault.name);
        if tags.is_empty() {
            problems.push(format!(
                "fault {} is listed under no requirement in conformance/src/requirements.rs",
                fault.name
            ));
        }
        for tag in tags {
            if !names_tag(&fault.description, tag) {
                problems.push(format!(
                    "fault {}'s description does not name {tag}: {}",
                    fault.name, fault.description
                ));
            }
        }
    }
    for name in listed {
        if !binary.iter().any(|b| b.name == name) {
            problems.push(format!(
                "conformance/src/requirements.rs names the fault {name}, which the faults build \
                 lacks"
            ));
        }
    }
    problems
}

/// Whether `description` names `tag` where it is not the start of a longer id or section
/// (`§8.5` is not named by `§8.5-2` or `§8.51`).
fn names_tag(description: &str, tag: &str) -> bool {
    description.match_indices(tag).any(|(at, _)| {
        let mut rest = description[at + tag.len()..].chars();
        match (rest.next(), rest.next()) {
            (Some(c), _) if c.is_ascii_digit() => false,
            (Some('.' | '-'), Some(d)) if d.is_ascii_digit() => false,
            _ => true,
        }
    })
}

/// Runs the baseline and every fault, each over every case in `all`; results in the order
/// baseline, then faults.
pub async fn run(options: &Options, faults: &[String], all: &[Case]) -> Vec<FaultResult> {
    let cases: Vec<Case> = all
        .iter()
        .map(|c| {
            let bound = c.timeout.min(options.case_timeout);
            c.clone().with_timeout(bound)
        })
        .collect();
    let runs = std::iter::once(BASELINE.to_owned()).chain(faults.iter().cloned());
    let total = faults.len() + 1;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let (cases, done) = (&cases, &done);
    futures_util::stream::iter(runs)
        .map(|fault| async move {
            let result = run_one(options, &fault, cases).await;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            // Progress on stderr (a run takes minutes): one line per finished run.
            eprintln!(
                "kez-conformance: [{n}/{total}] {} {} in {:.1}s",
                if result.ok() { "ok  " } else { "FAIL" },
                result.fault,
                result.duration.as_secs_f64()
            );
            result
        })
        .buffered(options.parallel.max(1))
        .collect()
        .await
}

async fn run_one(options: &Options, fault: &str, cases: &[Case]) -> FaultResult {
    let started = Instant::now();
    let result = |failing, error| FaultResult {
        fault: fault.to_owned(),
        cases: cases.len(),
        failing,
        error,
        duration: started.elapsed(),
    };
    let enabled = if fault == BASELINE { "none" } else { fault };
    let wrapper = match Wrapper::new(&options.kezd_faults, enabled) {
        Ok(w) => w,
        Err(e) => return result(Vec::new(), Some(e)),
    };
    // Two nodes, so the pair cases run; the embedded default store (backends are the main
    // run's concern), without fsync: many testnets at once would otherwise queue on the disk,
    // and no fault is about power loss (SPEC §8.6 is not observable over the network).
    let net = match spawn::spawn(&wrapper.path(), 2, &[], FAULTS_RUN_CONFIG).await {
        Ok((net, _)) => Arc::new(net),
        Err(e) => return result(Vec::new(), Some(format!("starting the testnet: {e}"))),
    };
    let targets = match spawn::testnet_targets(&net, options.timeout).await {
        Ok(t) => t,
        Err(e) => return result(Vec::new(), Some(e)),
    };
    // Each single-server case once, on a.test: the fault is on both nodes, and b.test is there
    // for the pair cases (both directions).
    let env = Arc::new(
        Env::new(targets, Some(net.clone()), Some(spawn::SPAWN_KEEPALIVE))
            .with_own_nodes(OwnNodes::new(wrapper.path(), &[], options.timeout))
            .with_single_targets(1),
    );
    let outcomes = runner::run(&env, cases, options.jobs).await;
    drop(env);
    if let Ok(net) = Arc::try_unwrap(net) {
        // Best effort: the nodes are killed on drop if the graceful stop fails.
        let _ = net.shutdown().await;
    }
    let failing = outcomes
        .into_iter()
        .filter(|o| o.status == Status::Fail)
        .collect();
    result(failing, None)
}

/// A shell script that runs the faults build with `KEZ_FAULTS` set, in its own directory.
struct Wrapper {
    dir: tempfile::TempDir,
}

impl Wrapper {
    fn new(kezd: &Path, faults: &str) -> Result<Wrapper, String> {
        let kezd = kezd
            .canonicalize()
            .map_err(|e| format!("{}: {e}", kezd.display()))?;
        let text = kezd.to_string_lossy();
        if text.contains('\'') || faults.contains('\'') {
            return Err(format!("cannot quote {text} for the wrapper script"));
        }
        let dir = tempfile::Builder::new()
            .prefix("kez-faults-")
            .tempdir()
            .map_err(|e| format!("creating a directory for the wrapper: {e}"))?;
        let script = format!("#!/bin/sh\nKEZ_FAULTS='{faults}' exec '{text}' \"$@\"\n");
        let path = dir.path().join("kezd");
        std::fs::write(&path, script).map_err(|e| format!("writing the wrapper: {e}"))?;
        let mut permissions = std::fs::metadata(&path)
            .map_err(|e| format!("reading the wrapper: {e}"))?
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions)
            .map_err(|e| format!("making the wrapper executable: {e}"))?;
        Ok(Wrapper { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("kezd")
    }
}

/// The faults table: fault → the cases that caught it (or NOT CAUGHT), and the time.
pub fn table(results: &[FaultResult]) -> String {
    use std::fmt::Write as _;
    let width = results
        .iter()
        .map(|r| r.fault.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6}  {:>6}  {:<width$}  failing cases",
        "", "time", "fault"
    );
    for r in results {
        let mark = if r.ok() { "ok" } else { "FAIL" };
        let detail = if let Some(e) = &r.error {
            format!("could not run: {e}")
        } else if r.fault == BASELINE {
            if r.failing.is_empty() {
                format!("all {} cases pass without faults", r.cases)
            } else {
                failing_text(&r.failing)
            }
        } else if r.failing.is_empty() {
            format!("NOT CAUGHT by any of the {} cases", r.cases)
        } else {
            r.failing_cases().join(", ")
        };
        let _ = writeln!(
            out,
            "{mark:<6}  {:>5.1}s  {:<width$}  {detail}",
            r.duration.as_secs_f64(),
            r.fault
        );
    }
    out
}

fn failing_text(failing: &[Outcome]) -> String {
    failing
        .iter()
        .map(|o| {
            let reason: String = o.reason.chars().take(90).collect();
            format!("{} ({reason})", o.id)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_names_its_tag_exactly() {
        assert!(names_tag("drops one (§8.5-2)", "§8.5-2"));
        assert!(names_tag("wrong status (§4.1, §8.1)", "§4.1"));
        assert!(names_tag("at the end §8.5.", "§8.5"));
        assert!(!names_tag("drops one (§8.5-21)", "§8.5-2"));
        assert!(!names_tag("drops one (§8.5-2)", "§8.5"));
        assert!(!names_tag("see §8.51", "§8.5"));
        assert!(!names_tag("see §8.5.1", "§8.5"));
    }
}
