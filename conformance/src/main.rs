//! `kez-conformance`: runs the KEZ conformance suite against existing servers (`--server URL`)
//! or a spawned testnet of kezd processes (`--spawn N`), prints the results and the SPEC
//! coverage table, writes JSON/JUnit reports, and exits non-zero on any failure or uncovered
//! MUST. `kez-conformance faults` checks the suite against kezd's fault-injection build;
//! `list` prints the cases; `coverage` the coverage table alone. See conformance/README.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use kez_conformance::coverage;
use kez_conformance::env::Env;
use kez_conformance::faults;
use kez_conformance::own::OwnNodes;
use kez_conformance::proof;
use kez_conformance::report;
use kez_conformance::requirements::REQUIREMENTS;
use kez_conformance::runner::{self, Outcome};
use kez_conformance::{Case, cases};
use kez_conformance::{spawn, target};
use kez_testnet::backend::CreatedDatabase;

/// Black-box conformance suite for KEZ servers.
#[derive(Debug, Parser)]
#[command(name = "kez-conformance", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole suite once per fault of kezd's fault-injection build: every fault must fail
    /// a case and the baseline must pass; prints (and writes) the requirements report.
    Faults(FaultArgs),
    /// List the cases: id, SPEC sections, description.
    List,
    /// Print every requirement id of the SPEC and how it is checked; exit 1 if one has no entry
    /// or is pending.
    Coverage {
        /// SPEC.md to read instead of the copy compiled in.
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A server to test, e.g. https://kez.example (repeatable; pair cases need two).
    #[arg(long = "server", value_name = "URL")]
    servers: Vec<String>,
    /// Start N local kezd nodes on a private testnet instead (with the rogue-peer cases).
    #[arg(long, value_name = "N")]
    spawn: Option<usize>,
    /// The storage of spawned nodes, one per node in order (repeatable; cycles when fewer
    /// than N): `sqlite` (the default) or `postgres=postgres://user@host/db` (a database is
    /// created per node and dropped afterwards).
    #[arg(long = "backend", value_name = "sqlite|postgres=URL")]
    backends: Vec<kez_testnet::backend::Backend>,
    /// The kezd binary for --spawn (default: build the workspace's, or $KEZD_BIN).
    #[arg(long, value_name = "PATH")]
    kezd: Option<PathBuf>,
    /// A PEM CA certificate to trust in addition to the system's (for --server).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Also run slow cases against external servers (the 15 s keep-alive).
    #[arg(long)]
    slow: bool,
    /// Run only cases whose id contains PATTERN or that check section PATTERN (`§7`, `8.5`).
    #[arg(long = "filter", value_name = "PATTERN")]
    filters: Vec<String>,
    /// Cases run at the same time.
    #[arg(long, default_value_t = 8, value_name = "N")]
    jobs: usize,
    /// Seconds one request may take before its case fails.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Write a report: `--report json FILE` or `--report junit FILE` (repeatable).
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"], action = clap::ArgAction::Append)]
    report: Vec<String>,
    /// SPEC.md to read for the coverage check instead of the copy compiled in.
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct FaultArgs {
    /// kezd built with `--features faults` (default: $KEZD_FAULTS_BIN, else build it into
    /// target/faults).
    #[arg(long, value_name = "PATH")]
    kezd_faults: Option<PathBuf>,
    /// Check only this fault (repeatable; the baseline always runs).
    #[arg(long = "fault", value_name = "NAME")]
    only: Vec<String>,
    /// Fault runs (each its own testnet running the whole suite) at the same time.
    #[arg(long, default_value_t = 8, value_name = "N")]
    parallel: usize,
    /// Cases run at the same time within one fault's run.
    #[arg(long, default_value_t = 8, value_name = "N")]
    jobs: usize,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    timeout: u64,
    /// Seconds one case may take (at most its own bound): under a fault, a case waiting for
    /// what never comes fails by then.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    case_timeout: u64,
    /// Write the requirements report: `--report json FILE`.
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"], action = clap::ArgAction::Append)]
    report: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kez-conformance: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None => run_suite(cli.run).await,
            Some(Command::Faults(args)) => run_faults(args).await,
            Some(Command::List) => {
                for case in cases::all() {
                    println!(
                        "{}\t{}\t{}",
                        case.id,
                        case.sections.join(" "),
                        case.description
                    );
                }
                Ok(true)
            }
            Some(Command::Coverage { spec }) => {
                let coverage = coverage_of(spec.as_deref())?;
                print!("{}", report::coverage_table(&coverage));
                Ok(coverage.ok())
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kez-conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn coverage_of(spec: Option<&Path>) -> anyhow::Result<coverage::Coverage> {
    let text = match spec {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => coverage::SPEC.to_owned(),
    };
    Ok(coverage::coverage(&text, REQUIREMENTS))
}

fn selected(filters: &[String]) -> Vec<Case> {
    cases::all()
        .into_iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.matches(f)))
        .collect()
}

/// The suite; `Ok(true)` when every job passed or skipped and coverage is complete.
async fn run_suite(args: RunArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let timeout = Duration::from_secs(args.timeout.max(1));
    let coverage = coverage_of(args.spec.as_deref())?;
    let reports = parse_reports(&args.report)?;
    let cases = selected(&args.filters);
    if cases.is_empty() {
        bail!("--filter selects no case (see `kez-conformance list`)");
    }
    let (env, databases) = prepare_env(&args, timeout).await?;
    let env = Arc::new(env);
    let outcomes = tokio::select! {
        outcomes = runner::run(&env, &cases, args.jobs) => Some(outcomes),
        _ = tokio::signal::ctrl_c() => None,
    };
    let env = Arc::try_unwrap(env).ok();
    // Own nodes are gone with their cases; the databases they ran on go with the others.
    let mut databases = databases;
    if let Some(own) = env.as_ref().and_then(|env| env.own.as_ref()) {
        databases.extend(own.take_databases());
    }
    let net = env
        .and_then(|env| env.testnet)
        .and_then(|net| Arc::try_unwrap(net).ok());
    if let Some(net) = net
        && let Err(e) = net.shutdown().await
    {
        eprintln!("kez-conformance: stopping the testnet: {e}");
    }
    spawn::drop_databases(databases).await;
    let Some(outcomes) = outcomes else {
        eprintln!("kez-conformance: interrupted; the testnet is stopped");
        return Ok(false);
    };
    print_results(
        &outcomes,
        &coverage,
        cases.len(),
        started.elapsed(),
        reports,
    )
}

/// The servers under test: the `--server` URLs connected, or a testnet of `--spawn` nodes
/// started (with the databases created for it, to drop at the end); each one is announced.
async fn prepare_env(
    args: &RunArgs,
    timeout: Duration,
) -> anyhow::Result<(Env, Vec<CreatedDatabase>)> {
    let mut databases = Vec::new();
    let mut own = None;
    let (targets, testnet, keepalive) = match (args.spawn, args.servers.is_empty()) {
        (Some(_), false) => bail!("use --server or --spawn, not both"),
        (None, true) => bail!("nothing to test: give --server URL (repeatable) or --spawn N"),
        (Some(0), _) => bail!("--spawn needs at least one node"),
        (Some(n), true) => {
            let kezd = kezd_for_spawn(args.kezd.as_deref())?;
            eprintln!(
                "kez-conformance: starting {n} kezd node(s) from {}",
                kezd.display()
            );
            let net = tokio::select! {
                spawned = spawn::spawn(&kezd, n, &args.backends, "") => {
                    let (net, created) = spawned
                        .map_err(anyhow::Error::msg)
                        .context("starting the testnet")?;
                    databases = created;
                    net
                }
                _ = tokio::signal::ctrl_c() => bail!("interrupted while starting the testnet"),
            };
            let net = Arc::new(net);
            let targets = spawn::testnet_targets(&net, timeout)
                .await
                .map_err(anyhow::Error::msg)?;
            own = Some(OwnNodes::new(kezd, &args.backends, timeout));
            (targets, Some(net), Some(spawn::SPAWN_KEEPALIVE))
        }
        (None, false) => {
            let http = target::external_client(args.ca.as_deref()).map_err(anyhow::Error::msg)?;
            let targets = target::connect_all(&args.servers, http, timeout).await;
            let keepalive = args.slow.then_some(Duration::from_secs(15));
            (targets, None, keepalive)
        }
    };
    for t in &targets {
        match &t.server {
            Ok(s) => {
                eprintln!("kez-conformance: testing {} at {}", s.name, s.base);
                warn_limits(s);
            }
            Err(e) => eprintln!("kez-conformance: {e}"),
        }
    }
    let env = Env::new(targets, testnet, keepalive);
    let env = match own {
        Some(own) => env.with_own_nodes(own),
        None => env,
    };
    Ok((env, databases))
}

/// The kezd binary `--spawn` runs: `--kezd PATH` (made absolute: the nodes run in their own
/// directories), else `$KEZD_BIN`, else the workspace's, built with cargo — only when the suite
/// runs from inside the workspace it was built from, and said on stderr before the build.
fn kezd_for_spawn(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let given = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(kez_testnet::KEZD_BIN_VARIABLE).map(PathBuf::from));
    if let Some(path) = given {
        return std::path::absolute(&path)
            .with_context(|| format!("the kezd binary {}", path.display()));
    }
    let workspace = kez_testnet::workspace_root();
    let inside = std::env::current_dir()
        .ok()
        .and_then(|dir| dir.canonicalize().ok())
        .zip(workspace.canonicalize().ok())
        .is_some_and(|(dir, root)| dir.starts_with(root));
    if !inside || !workspace.join("Cargo.toml").is_file() {
        bail!(
            "--spawn needs a kezd binary: pass --kezd PATH or set {} (without them the suite \
             builds kezd with cargo only when run from inside the KEZ workspace it was built \
             from, {})",
            kez_testnet::KEZD_BIN_VARIABLE,
            workspace.display()
        );
    }
    eprintln!(
        "kez-conformance: no --kezd given: building kezd with `cargo build -p kezd` in {} into \
         {}",
        workspace.display(),
        kez_testnet::kezd_build_path().display()
    );
    kez_testnet::kezd_binary().context("building kezd")
}

/// Prints the table, the coverage and the summary, and writes the `--report` files;
/// `Ok(true)` when nothing failed and coverage is complete.
fn print_results(
    outcomes: &[Outcome],
    coverage: &coverage::Coverage,
    cases: usize,
    total: Duration,
    reports: Vec<(ReportFormat, PathBuf)>,
) -> anyhow::Result<bool> {
    println!("{}", report::table(outcomes));
    println!("SPEC coverage (requirement ids → how each is checked):");
    println!("{}", report::coverage_table(coverage));
    let summary = report::summary(outcomes);
    println!(
        "{} passed, {} failed, {} skipped in {:.1}s; {} cases; coverage {}",
        summary.passed,
        summary.failed,
        summary.skipped,
        total.as_secs_f64(),
        cases,
        if coverage.ok() {
            "complete"
        } else {
            "INCOMPLETE"
        }
    );
    for (format, path) in reports {
        let text = match format {
            ReportFormat::Json => {
                serde_json::to_string_pretty(&report::json_report(outcomes, coverage, total))?
            }
            ReportFormat::Junit => report::junit_report(outcomes, total),
        };
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary.failed == 0 && coverage.ok())
}

/// About how many registrations and requests one full run makes per server.
const REGISTRATIONS_PER_RUN: u64 = 270;
const REQUESTS_PER_RUN: u64 = 800;

/// Warns when a server's published limits are below what a full run needs from one address:
/// its cases would then fail with 429 rate_limited (see the README).
fn warn_limits(server: &kez_conformance::server::Server) {
    let register = server.limit("/rate/register_per_hour");
    let client = server.limit("/rate/client_per_minute");
    if register.is_some_and(|n| n < REGISTRATIONS_PER_RUN)
        || client.is_some_and(|n| n < REQUESTS_PER_RUN)
    {
        eprintln!(
            "kez-conformance: warning: {} publishes register_per_hour = {} and client_per_minute \
             = {}; a full run attempts about {REGISTRATIONS_PER_RUN} registrations and makes about \
             {REQUESTS_PER_RUN} requests from this address, so expect 429 rate_limited failures \
             unless the suite's address gets higher limits (see conformance/README.md)",
            server.name,
            register.map_or("?".into(), |n| n.to_string()),
            client.map_or("?".into(), |n| n.to_string()),
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum ReportFormat {
    Json,
    Junit,
}

fn parse_reports(values: &[String]) -> anyhow::Result<Vec<(ReportFormat, PathBuf)>> {
    values
        .chunks(2)
        .map(|pair| match pair {
            [format, file] => {
                let format = match format.as_str() {
                    "json" => ReportFormat::Json,
                    "junit" => ReportFormat::Junit,
                    other => bail!("--report {other}: the formats are json and junit"),
                };
                Ok((format, PathBuf::from(file)))
            }
            _ => bail!("--report takes a format and a file"),
        })
        .collect()
}

/// The faults run; `Ok(true)` when the baseline passes, every fault is caught, the faults build
/// and the requirements table agree, and coverage is complete.
async fn run_faults(args: FaultArgs) -> anyhow::Result<bool> {
    let started = Instant::now();
    let reports = parse_reports(&args.report)?;
    if reports
        .iter()
        .any(|(f, _)| matches!(f, ReportFormat::Junit))
    {
        bail!("--report: the faults run writes json only");
    }
    let kezd_faults = match args.kezd_faults {
        Some(path) => path,
        None => faults::build_kezd().map_err(anyhow::Error::msg)?,
    };
    let coverage = coverage_of(None)?;
    let binary = faults::list_faults(&kezd_faults).map_err(anyhow::Error::msg)?;
    let mut problems = faults::table_problems(&binary);
    problems.extend(coverage.problems.iter().cloned());
    let chosen: Vec<String> = if args.only.is_empty() {
        binary.iter().map(|f| f.name.clone()).collect()
    } else {
        for name in &args.only {
            if !binary.iter().any(|f| f.name == *name) {
                bail!("--fault {name}: the faults build has no such fault");
            }
        }
        args.only.clone()
    };
    let options = faults::Options {
        kezd_faults,
        parallel: args.parallel,
        jobs: args.jobs,
        timeout: Duration::from_secs(args.timeout.max(1)),
        case_timeout: Duration::from_secs(args.case_timeout.max(1)),
    };
    let all = cases::all();
    eprintln!(
        "kez-conformance: the whole suite ({} cases) once without faults and once per fault \
         ({}), {} testnets at a time",
        all.len(),
        chosen.len(),
        options.parallel
    );
    let results = tokio::select! {
        results = faults::run(&options, &chosen, &all) => results,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("kez-conformance: interrupted; the testnets are stopped");
            return Ok(false);
        }
    };
    println!("{}", faults::table(&results));
    println!("Requirements (SPEC id → how it is checked, and what the faults run found):");
    println!("{}", proof::text(&coverage, &results));
    for problem in &problems {
        println!("problem: {problem}");
    }
    let failed = results.iter().filter(|r| !r.ok()).count();
    let (server, client, unobservable, pending, _) = proof::kinds(&coverage);
    println!(
        "{} requirements ({server} server, {client} client, {unobservable} unobservable, \
         {pending} pending); {} of {} faults caught; baseline {}; {} problem(s); {:.1}s",
        coverage.rows.len(),
        results
            .iter()
            .filter(|r| r.fault != faults::BASELINE && r.ok())
            .count(),
        chosen.len(),
        if results.first().is_some_and(faults::FaultResult::ok) {
            "passed"
        } else {
            "FAILED"
        },
        problems.len(),
        started.elapsed().as_secs_f64(),
    );
    for (_, path) in reports {
        let value = proof::json_report(&coverage, &results, &problems, started.elapsed());
        std::fs::write(&path, serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(failed == 0 && problems.is_empty())
}
