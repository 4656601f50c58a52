//! `kezd`: parse the command line, load the configuration, then either check and print it
//! (`check-config`), rotate the server key (`keys rotate`), ask a running kezd whether it is
//! healthy (`healthcheck`), or open the store, bind, and serve
//! until SIGINT/SIGTERM, reloading the configuration on SIGHUP. Everything else lives in the
//! library, so tests run the same code on their own listeners.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use clap::Parser;
use kezd::broker::{Broker, LocalBroker, NatsBroker};
use kezd::cli::{Cli, Command, HealthcheckArgs, KeysCommand};
use kezd::config::{BrokerSettings, Config, Loaded, Sources, Warning};
use kezd::preflight;
use kezd::reload::{Hangups, Reloader};
use kezd::state::AppState;

mod healthcheck;

/// mimalloc rather than the system allocator: a send allocates and frees many small objects
/// across both worker threads, where it costs about a tenth less CPU (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let started = Instant::now();
    // A fault-injection build (cargo feature `faults`, tests only) refuses to start unless
    // KEZ_FAULTS names the faults to enable; see kezd/src/faults.rs.
    #[cfg(feature = "faults")]
    if let Some(exit) = faults_gate() {
        return exit;
    }
    let cli = Cli::parse();
    let loaded = cli
        .settings
        .sources(std::env::vars_os())
        .and_then(|sources| Ok((Config::load(&sources)?, sources)));
    let (Loaded { config, warnings }, sources) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("kezd: invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };

    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => check_config(&config, &warnings),
        Command::Keys(KeysCommand::Rotate) => {
            for warning in &warnings {
                eprintln!("kezd: warning: {warning}");
            }
            // Only the key file changes; a running daemon notices the new file on its next
            // use of the keys (kez_federation::LiveKeys), so no signal or restart is needed.
            match kez_federation::ServerKeys::rotate(&config.data_dir) {
                Ok(keys) => {
                    println!("{}", keys.key_id());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("kezd: rotating the server key: {}", report(&error.into()));
                    ExitCode::FAILURE
                }
            }
        }
        Command::Healthcheck(args) => healthcheck(&config, &args),
        Command::Admin(args) => {
            for warning in &warnings {
                eprintln!("kezd: warning: {warning}");
            }
            kezd::admin::command::run(&config, sources.file.clone(), args)
        }
        Command::Serve => match run(config, sources, &warnings, started) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("kezd: {}", report(&error));
                ExitCode::FAILURE
            }
        },
    }
}

/// `kezd check-config`: the warnings and the problems of the files it names on stderr, the
/// effective configuration (secrets redacted) on stdout; failure if anything is wrong.
fn check_config(config: &Config, warnings: &[Warning]) -> ExitCode {
    for warning in warnings {
        eprintln!("kezd: warning: {warning}");
    }
    let findings = preflight::check(config, SystemTime::now());
    for warning in &findings.warnings {
        eprintln!("kezd: warning: {warning}");
    }
    for error in &findings.errors {
        eprintln!("kezd: invalid configuration: {error}");
    }
    if !findings.errors.is_empty() {
        return ExitCode::FAILURE;
    }
    match config.to_toml() {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kezd: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `kezd healthcheck`: silent and 0 when healthy, one line on stderr and 1 otherwise.
fn healthcheck(config: &Config, args: &HealthcheckArgs) -> ExitCode {
    let target = match &args.url {
        Some(url) => match healthcheck::Target::from_url(url) {
            Ok(target) => target,
            Err(reason) => {
                eprintln!("kezd healthcheck: {reason}");
                return ExitCode::FAILURE;
            }
        },
        None => healthcheck::Target::from_config(config),
    };
    match healthcheck::check(&target, config.tls.as_ref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("kezd healthcheck: {}: {reason}", target.url());
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: a layer whose message already
/// includes its source's text (`…: {source}`) is not followed by that text again.
fn report(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

fn run(
    config: Config,
    sources: Sources,
    warnings: &[Warning],
    started: Instant,
) -> anyhow::Result<()> {
    let configured = started.elapsed();
    let log_level = kezd::logging::init(&config.log)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    // Logged, not fatal: a start that check-config would refuse still serves (peers that
    // cannot verify the certificate fail their own handshakes), and the log says why.
    let findings = preflight::check(&config, SystemTime::now());
    for error in &findings.errors {
        tracing::error!("{error}");
    }
    for warning in &findings.warnings {
        tracing::warn!("{warning}");
    }
    tracing::info!(
        file = %sources.file.as_ref().map_or_else(|| "none".into(), |f| f.display().to_string()),
        server_name = %config.server_name,
        database = %config.database,
        "configuration loaded"
    );
    // One process-wide rustls provider, so client configs built later (federation) cannot
    // panic for finding two; an error only means one is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let config_file = sources.file.clone();
    let reloader = Reloader::new(sources, config.clone(), log_level);
    runtime.block_on(serve(config, config_file, reloader, configured, started))
}

async fn serve(
    config: Config,
    config_file: Option<PathBuf>,
    reloader: Reloader,
    configured: Duration,
    started: Instant,
) -> anyhow::Result<()> {
    // Caught from here on: a SIGHUP reloads instead of ending the process.
    let hangups = Hangups::listen().context("listening for SIGHUP")?;
    let opening = Instant::now();
    let store = kezd::open_store::open(&config).await?;
    let store_open = opening.elapsed();
    // The in-process broker for one kezd; NATS when a cluster shares the fanout. A NATS
    // that cannot be reached, at start or later, only degrades streams to catching up from
    // the store (an instance that refused to start then would take a cluster down during a
    // rolling restart); only a broker_url the client cannot use stops the start.
    let broker: Arc<dyn Broker> = match &config.broker {
        BrokerSettings::Local => Arc::new(LocalBroker::new()),
        BrokerSettings::Nats { url, prefix } => Arc::new(
            NatsBroker::connect(url, prefix)
                .await
                .context("setting up NATS (broker_url)")?,
        ),
    };
    let router = kezd::handlers::routes(&config);
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let federating = Instant::now();
    kezd::private_files::data_dir(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let federate =
        Arc::new(kezd::federate::Federate::new(&config).context("setting up federation")?);
    let federation_setup = federating.elapsed();
    let state = AppState::new(config, store.clone(), broker, Some(federate))?;
    // What admin commands changed (suspensions, admin blocks), in force before the first
    // request, and kept current by the other instances' notices.
    let notices = state.broker().notices();
    kezd::changes::reload(&state)
        .await
        .context("reading the suspended users and admin server blocks")?;
    tokio::spawn(kezd::changes::follow(state.clone(), notices));
    tokio::spawn(kezd::reload::run(state.clone(), reloader, hangups));
    // Not fatal: the daemon serves without it, and `kezd admin` then says it cannot connect
    // or works on the store.
    let admin = match kezd::admin::server::start(state.clone(), config_file).await {
        Ok(task) => Some(task),
        Err(error) => {
            tracing::error!(error = %kezd::admin::chain(&error), "no admin socket");
            None
        }
    };
    // Where a start's time goes (`kez-bench startup` reads this line): the command line
    // and configuration, the store (connections, migrations), federation (server keys,
    // the HTTPS clients with the system's root certificates), and the whole start.
    tracing::info!(
        target: "kezd::startup",
        config_ms = ms(configured),
        store_ms = ms(store_open),
        federation_ms = ms(federation_setup),
        ready_ms = ms(started.elapsed()),
        "ready to serve"
    );
    let signal = async {
        if let Err(error) = kezd::shutdown::os_signal().await {
            tracing::error!(%error, "cannot listen for signals; stopping");
        }
    };
    let stopping = state.shutdown().clone();
    let served = kezd::serve(listener, state, router, signal).await;
    // The admin socket stops with the rest (also when serving failed at start, before the
    // signal was triggered); its file is removed once it has.
    stopping.trigger();
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    // Connections are drained: commit what is queued and release the database.
    store.close().await;
    served?;
    Ok(())
}

/// A duration in milliseconds, for log fields.
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Reads `KEZ_FAULTS` in a fault-injection build: `Some(exit)` when kezd must not serve
/// (the variable is unset or names an unknown fault, or it is `list`).
#[cfg(feature = "faults")]
fn faults_gate() -> Option<ExitCode> {
    match kezd::faults::init_from_env() {
        Ok(kezd::faults::Startup::Run(names)) => {
            eprintln!("kezd: FAULT-INJECTION BUILD, not for deployment; enabled faults: {names:?}");
            None
        }
        Ok(kezd::faults::Startup::List) => {
            for (name, what) in kezd::faults::FAULTS {
                println!("{name}\t{what}");
            }
            Some(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("kezd: {error}");
            Some(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::report;

    /// An error whose message already ends in its source's text, as `thiserror` types with
    /// `: {source}` in their message and `#[source]` on the field are.
    #[derive(Debug, thiserror::Error)]
    #[error("certificate file c.pem: {source}")]
    struct Layer {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::new(Layer { source: io }).context("starting");
        assert_eq!(
            format!("{error:#}"),
            "starting: certificate file c.pem: no such file: no such file",
            "anyhow's own chain repeats the cause"
        );
        assert_eq!(
            report(&error),
            "starting: certificate file c.pem: no such file"
        );
    }
}
