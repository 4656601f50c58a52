//! `kez-testnet up N`: a local federation in one command, for operators and contributors who
//! want to see servers talk before they have domains. It starts N kezd nodes (`a.test`,
//! `b.test`, …) with the testnet's DNS server and CA, prints where everything is and the kezctl
//! commands that register alice on a.test and bob on b.test and send a message across, and
//! stays up until Ctrl-C or SIGTERM; then it stops the nodes and removes its directory.

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kez_testnet::Testnet;
use tokio::signal::unix::{SignalKind, signal};

/// The most nodes `up` names: one letter each, `a.test` to `z.test`.
const MAX_UP_NODES: u8 = 26;

/// A KEZ test network on this machine: real kezd processes, DNS and a CA on loopback.
#[derive(Debug, Parser)]
#[command(name = "kez-testnet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start N federating kezd nodes (a.test, b.test, …) until Ctrl-C or SIGTERM.
    Up {
        /// How many nodes, 1 to 26.
        #[arg(value_parser = clap::value_parser!(u8).range(1..=i64::from(MAX_UP_NODES)))]
        nodes: u8,
        /// The kezd binary to run; by default the workspace's, built first if needed.
        #[arg(long, value_name = "PATH")]
        kezd: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Up { nodes, kezd } = Cli::parse().command;
    match up(nodes, kezd).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kez-testnet: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the testnet, prints its summary, and stops it at Ctrl-C or SIGTERM.
async fn up(nodes: u8, kezd: Option<PathBuf>) -> Result<(), Box<dyn Error>> {
    kez_testnet::install_crypto_provider();
    // Listening before anything starts, so a signal during start-up is not lost.
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("listening for SIGTERM: {e}"))?;
    let kezd = match kezd {
        Some(path) => path,
        None => kez_testnet::kezd_binary()?,
    };
    let builder = (0..nodes).fold(Testnet::builder(kezd), |builder, i| {
        builder.node(format!("{}.test", char::from(b'a' + i)))
    });
    let net = tokio::select! {
        net = builder.start() => net?,
        // A start cut short drops the half-built testnet, which kills what it started.
        _ = tokio::signal::ctrl_c() => return Ok(()),
        _ = terminate.recv() => return Ok(()),
    };
    print!("{}", summary(&net));
    // Whoever reads stdout through a pipe sees everything up to "ready" at once.
    std::io::stdout()
        .flush()
        .map_err(|e| format!("writing to stdout: {e}"))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("kez-testnet: stopping");
    // Shutdown stops each kezd gracefully; the directory goes with the testnet.
    Ok(net.shutdown().await?)
}

/// What runs where, the kezctl commands to try it, and the final `ready` line.
fn summary(net: &Testnet) -> String {
    let ca = net.ca().ca_pem_path().display().to_string();
    let resolver = net.dns().addr();
    let dir = net.dir();
    let mut text = format!("kez-testnet: directory {}\n\n", dir.display());
    for node in net.nodes() {
        text.push_str(&format!(
            "  {}  {}  (listens on {}, log {})\n",
            node.name(),
            node.base_url(),
            node.addr(),
            node.log_path().display()
        ));
    }
    text.push_str(&format!(
        "\nCA certificate: {ca}\nDNS resolver:   {resolver} (SRV and A records of .test)\n\n"
    ));
    if let Some(first) = net.nodes().next() {
        text.push_str(&format!(
            "The names resolve only through that resolver; for curl:\n  curl --cacert {ca} \
             --resolve {}:{}:{} {}\n\n",
            first.name(),
            first.port(),
            first.addr().ip(),
            first.url("/v1/healthz")
        ));
    }
    if net.nodes().count() >= 2 {
        text.push_str(&format!(
            "alice on a.test writes to bob on b.test (kezctl, e.g. from `cargo build -p kezctl`):\n\n\
             \x20   export KEZ_CA_FILE={ca} KEZ_RESOLVER={resolver} KEZ_CONFIG_DIR={}\n\
             \x20   kezctl keys new --no-passphrase\n\
             \x20   kezctl register alice@a.test\n\
             \x20   kezctl keys new --name bob --no-passphrase\n\
             \x20   kezctl -i bob register bob@b.test\n\
             \x20   kezctl send bob@b.test 'hello from a.test'\n\
             \x20   kezctl -i bob listen --count 1\n\n",
            dir.join("kezctl").display()
        ));
    }
    if let Some(first) = net.nodes().next() {
        // The browser app's arrangement (web/README.md): the names mapped to the nodes, the CA
        // trusted like any other, so the app's pages are secure contexts over HTTPS. Indented
        // by two spaces like the curl line: four-space lines are the kezctl script, which
        // testnet/tests/up.rs runs as printed.
        let rules = net
            .nodes()
            .map(|node| format!("MAP {} {}", node.name(), node.addr().ip()))
            .collect::<Vec<_>>()
            .join(",");
        text.push_str(&format!(
            "The browser app, in Chromium on Linux: trust the CA, then map the names:\n\
             \x20 certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n kez-testnet -i {ca}\n\
             \x20 chromium --host-resolver-rules='{rules}' {}\n\n",
            first.url("/")
        ));
    }
    text.push_str("ready: Ctrl-C stops the nodes and removes the directory\n");
    text
}
