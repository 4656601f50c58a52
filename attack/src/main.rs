//! `kez-attack`: runs KEZ's attack suite against a kezd binary (`--kezd PATH`), each scenario
//! against a kezd of its own on loopback, one after another (they measure memory, so they do
//! not share the machine with each other). Prints one line per scenario and its figures, then
//! `N passed, N failed`; exits non-zero when any failed. `--only NAME` (repeatable) runs the
//! named scenarios alone; `--list` prints them. See attack/README.md.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use kez_attack::scenario::{self, Env};
use kez_attack::scenarios;

/// KEZ's standing attack suite: starts kezd on loopback and attacks it.
#[derive(Debug, Parser)]
#[command(name = "kez-attack", version, about, long_about = None)]
struct Cli {
    /// The kezd binary to attack (the release build in CI).
    #[arg(long, value_name = "PATH", required_unless_present = "list")]
    kezd: Option<PathBuf>,
    /// Run only this scenario (repeatable).
    #[arg(long = "only", value_name = "NAME")]
    only: Vec<String>,
    /// List the scenarios and what each proves.
    #[arg(long)]
    list: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    kez_testnet::install_crypto_provider();
    let all = scenarios::all();
    if cli.list {
        for s in &all {
            println!("{:<24} {}", s.name, s.proves);
        }
        return Ok(ExitCode::SUCCESS);
    }
    for name in &cli.only {
        if !all.iter().any(|s| s.name == name) {
            let names: Vec<_> = all.iter().map(|s| s.name).collect();
            bail!(
                "no scenario {name:?}; the scenarios are {}",
                names.join(", ")
            );
        }
    }
    let Some(kezd) = cli.kezd else {
        bail!("--kezd PATH is required");
    };
    if !kezd.is_file() {
        bail!("--kezd {}: not a file", kezd.display());
    }
    // kezd runs in its node's directory: a relative path would name another file there.
    let kezd = std::fs::canonicalize(&kezd)?;
    let env = Env { kezd };
    let (mut passed, mut failed) = (0usize, 0usize);
    for s in all
        .iter()
        .filter(|s| cli.only.is_empty() || cli.only.iter().any(|n| n == s.name))
    {
        let ran = tokio::select! {
            ran = scenario::run(s, env.clone()) => ran,
            () = interrupted() => {
                // Dropping the scenario kills its kezd.
                eprintln!("interrupted; {passed} passed, {failed} failed before");
                return Ok(ExitCode::from(130));
            }
        };
        match ran.outcome {
            Ok(figures) => {
                passed += 1;
                println!("PASS {} ({:.1} s)", ran.name, ran.took.as_secs_f64());
                for figure in figures {
                    println!("     {figure}");
                }
            }
            Err(reason) => {
                failed += 1;
                println!(
                    "FAIL {} ({:.1} s): {reason}",
                    ran.name,
                    ran.took.as_secs_f64()
                );
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Ctrl-C, or SIGTERM (what CI's `timeout` sends): the scenario in progress is dropped, which
/// kills its kezd, so no kezd outlives the suite.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
