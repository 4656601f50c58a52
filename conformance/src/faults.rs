//! The suite's self-test: proof that it has teeth. kezd's fault-injection build (cargo feature
//! `faults`, see `kezd/src/faults.rs`) offers named protocol violations, enabled one at a time
//! with `KEZ_FAULTS`. For each fault, `kez-conformance faults` starts a testnet from that build
//! with only that fault on, runs the cases [`FAULT_CASES`] says catch it, and requires at least
//! one of them to fail. A baseline run with no fault enabled must pass the same cases, so a
//! detection is the fault's doing and not a broken build.
//!
//! The testnet strips `KEZ_*` variables from what it passes to kezd, so each fault's testnet
//! runs a two-line wrapper script that sets `KEZ_FAULTS` and executes the faults build.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::case::{Case, CaseFn};
use crate::own::OwnNodes;
use crate::runner::{self, Outcome, Status};
use crate::target::{self, Env};

/// Each fault of kezd's faults build and the cases that must catch it.
pub const FAULT_CASES: &[(&str, &[&str])] = &[
    ("register_wrong_status", &["s4.register.created"]),
    ("accept_stale_registration", &["s4.register.stale"]),
    (
        "wrong_error_code_unknown_handle",
        &["s4.record.unknown", "s2.handle.grammar"],
    ),
    ("webfinger_wrong_content_type", &["s4.webfinger.jrd"]),
    (
        "skip_envelope_signature_check",
        &["s8.send.checks", "s3.sig.strict_s"],
    ),
    (
        "accept_stale_envelope",
        &["s8.send.checks", "s8.send.order"],
    ),
    (
        "resend_not_marked_duplicate",
        &["s8.send.duplicate", "s8.memory.after_ack"],
    ),
    ("seq_gap", &["s8.poll.paging", "s8.send.stored"]),
    ("poll_ignores_cursor_signature", &["s7.poll.cursor_signed"]),
    ("poll_wrong_next_since", &["s8.poll.paging"]),
    ("ack_deletes_one_extra", &["s8.ack.deletes"]),
    (
        "stream_missing_auth_unauthorized",
        &["s7.stream.credentials"],
    ),
    (
        "stream_accepts_live_credential_with_cursor",
        &["s7.stream.credentials"],
    ),
    ("resume_drops_first_message", &["s8.stream.resume"]),
    ("duplicate_on_resume", &["s8.stream.resume"]),
    ("ready_reports_zero", &["s8.stream.live"]),
    ("no_keepalive", &["s8.stream.keepalive"]),
    ("status_skips_auth", &["s7.status.credentials"]),
    ("skip_s2s_signature_check", &["s9.rogue.forged"]),
    (
        "accept_wrong_destination",
        &["s9.rogue.misaddressed", "s9.s2s.destination"],
    ),
    (
        "accept_stale_s2s",
        &["s9.rogue.out_of_window", "s9.s2s.window"],
    ),
    ("ignore_body_origin", &["s9.rogue.body_origin"]),
    ("txn_accepts_too_many_envelopes", &["s9.rogue.oversized"]),
    ("ignore_origin_mismatch", &["s9.rogue.sender_not_of_origin"]),
    ("txn_replay_reprocesses", &["s9.rogue.replayed"]),
    ("ignore_retry_after", &["s9.retry.retry_after"]),
    ("reverse_txn_order", &["s9.retry.order"]),
    ("auth_window_wide", &["s7.poll.window"]),
    ("registration_window_narrow", &["s4.register.stale"]),
    ("send_window_wide", &["s8.send.checks"]),
    (
        "s2s_window_narrow",
        &["s9.rogue.out_of_window", "s9.s2s.window"],
    ),
    ("txn_envelope_past_narrow", &["s9.rogue.envelope_window"]),
    ("txn_envelope_future_wide", &["s9.rogue.envelope_window"]),
    ("envelope_limit_off_by_one", &["s9.rogue.oversized"]),
    ("page_cap_off_by_one", &["s8.poll.page_max"]),
    ("seq_reused_after_ack", &["s8.state.seq_after_ack"]),
    ("seq_counter_not_persisted", &["s8.state.restart"]),
    ("ready_reports_stored_max", &["s8.state.seq_after_ack"]),
    ("retention_early", &["s8.retention.max_age"]),
    (
        "resend_refused_by_later_checks",
        &["s8.send.duplicate_out_of_window"],
    ),
    (
        "txn_duplicate_after_window",
        &["s9.rogue.duplicate_out_of_window"],
    ),
    (
        "accept_document_bad_signature",
        &["s9.rogue.document_bad_signature"],
    ),
    (
        "accept_document_for_other_server",
        &["s9.rogue.document_other_server"],
    ),
    ("accept_expired_document", &["s9.rogue.document_expired"]),
    ("no_key_refetch", &["s9.rogue.key_refetch"]),
    ("key_refetch_storm", &["s9.rogue.key_refetch"]),
    ("follow_redirects", &["s9.outbound.redirect"]),
    (
        "accept_certificate_for_other_name",
        &["s9.outbound.certificate_name"],
    ),
    ("accept_unknown_ca", &["s9.outbound.unknown_ca"]),
    ("skip_ssrf_guard", &["s9.outbound.forbidden_address"]),
];

/// The name of the baseline run (no fault enabled) in reports.
pub const BASELINE: &str = "(baseline: no fault)";

/// The result of one fault's run.
#[derive(Debug, Clone)]
pub struct FaultResult {
    /// The fault, or [`BASELINE`].
    pub fault: String,
    /// The cases run.
    pub cases: Vec<&'static str>,
    /// The jobs that failed (case id @ target and reason).
    pub failing: Vec<Outcome>,
    /// Why the run itself could not happen (testnet start-up), if it could not.
    pub error: Option<String>,
    /// Wall time.
    pub duration: Duration,
}

impl FaultResult {
    /// A fault is detected when a case failed; the baseline is good when none did.
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
}

/// Options of the faults check.
#[derive(Debug, Clone)]
pub struct Options {
    /// The faults build of kezd.
    pub kezd_faults: PathBuf,
    /// Only these faults (all when empty).
    pub only: Vec<String>,
    /// Run every case for every fault instead of the tagged ones (slow).
    pub all_cases: bool,
    /// Faults checked at the same time.
    pub parallel: usize,
    /// Jobs per fault run.
    pub jobs: usize,
    /// Request timeout.
    pub timeout: Duration,
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

/// The faults the binary knows (`KEZ_FAULTS=list kezd`).
pub fn list_faults(kezd_faults: &Path) -> Result<Vec<String>, String> {
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
        .filter_map(|line| line.split('\t').next())
        .filter(|name| !name.trim().is_empty())
        .map(|name| name.trim().to_owned())
        .collect())
}

/// Problems between the binary's faults and [`FAULT_CASES`], and with the table's case ids.
pub fn table_problems(binary: &[String], cases: &[Case]) -> Vec<String> {
    let table: BTreeSet<&str> = FAULT_CASES.iter().map(|(f, _)| *f).collect();
    let mut problems = Vec::new();
    for fault in binary {
        if !table.contains(fault.as_str()) {
            problems.push(format!(
                "fault {fault} has no entry in conformance/src/faults.rs FAULT_CASES: no case is \
                 known to catch it"
            ));
        }
    }
    for fault in &table {
        if !binary.iter().any(|b| b == fault) {
            problems.push(format!(
                "FAULT_CASES names {fault}, which the faults build lacks"
            ));
        }
    }
    for (fault, ids) in FAULT_CASES {
        for id in *ids {
            if !cases.iter().any(|c| c.id == *id) {
                problems.push(format!(
                    "FAULT_CASES: {fault} names {id}, which is not a case"
                ));
            }
        }
    }
    problems
}

/// The cases to run for `fault`.
fn cases_for(fault: &str, all: &[Case], all_cases: bool) -> Vec<Case> {
    if all_cases {
        return all.to_vec();
    }
    let ids: Vec<&str> = FAULT_CASES
        .iter()
        .filter(|(f, _)| *f == fault)
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    if ids.is_empty() {
        // Not in the table: the whole suite has to find it.
        return all.to_vec();
    }
    all.iter()
        .filter(|c| ids.contains(&c.id))
        .cloned()
        .collect()
}

/// Runs the baseline and every fault; results in the order baseline, then faults.
pub async fn run(options: &Options, faults: &[String], all: &[Case]) -> Vec<FaultResult> {
    let mut runs: Vec<(String, Vec<Case>)> = Vec::new();
    let mut union: Vec<Case> = Vec::new();
    for fault in faults {
        let cases = cases_for(fault, all, options.all_cases);
        for case in &cases {
            if !union.iter().any(|c| c.id == case.id) {
                union.push(case.clone());
            }
        }
        runs.push((fault.clone(), cases));
    }
    union.sort_by_key(|c| all.iter().position(|a| a.id == c.id));
    runs.insert(0, (BASELINE.to_owned(), union));
    futures_util::stream::iter(runs)
        .map(|(fault, cases)| async move { run_one(options, &fault, &cases).await })
        .buffered(options.parallel.max(1))
        .collect()
        .await
}

async fn run_one(options: &Options, fault: &str, cases: &[Case]) -> FaultResult {
    let started = Instant::now();
    let ids = cases.iter().map(|c| c.id).collect();
    let result = |failing, error| FaultResult {
        fault: fault.to_owned(),
        cases: ids,
        failing,
        error,
        duration: started.elapsed(),
    };
    let enabled = if fault == BASELINE { "none" } else { fault };
    let wrapper = match Wrapper::new(&options.kezd_faults, enabled) {
        Ok(w) => w,
        Err(e) => return result(Vec::new(), Some(e)),
    };
    let nodes = if cases.iter().any(|c| matches!(c.run, CaseFn::Pair(_))) {
        2
    } else {
        1
    };
    // The fault check runs on the embedded default; backends are the main run's concern.
    let net = match target::spawn(&wrapper.path(), nodes, &[]).await {
        Ok((net, _)) => Arc::new(net),
        Err(e) => return result(Vec::new(), Some(format!("starting the testnet: {e}"))),
    };
    let targets = match target::testnet_targets(&net, options.timeout).await {
        Ok(t) => t,
        Err(e) => return result(Vec::new(), Some(e)),
    };
    let env = Arc::new(
        Env::new(targets, Some(net.clone()), Some(target::SPAWN_KEEPALIVE))
            .with_own_nodes(OwnNodes::new(wrapper.path(), &[], options.timeout)),
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

/// The faults table: fault → the cases that caught it (or NOT DETECTED), and the time.
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
                format!("all {} cases pass without faults", r.cases.len())
            } else {
                failing_text(&r.failing)
            }
        } else if r.failing.is_empty() {
            format!("NOT DETECTED by {}", r.cases.join(", "))
        } else {
            failing_text(&r.failing)
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
