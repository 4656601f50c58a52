//! `kezd`: parse the command line, load the configuration, then either print it
//! (`check-config`) or open the store, bind, and serve until SIGINT/SIGTERM. Everything else
//! lives in the library, so tests run the same code on their own listeners.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use kezd::broker::LocalBroker;
use kezd::cli::{Cli, Command};
use kezd::config::{Config, Database, Loaded};
use kezd::state::AppState;
use kezd::store::{SqliteOptions, SqliteStore, Store};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = cli
        .settings
        .sources(std::env::vars_os())
        .and_then(|sources| Config::load(&sources));
    let Loaded { config, warnings } = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("kezd: invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };

    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            for warning in &warnings {
                eprintln!("kezd: warning: {warning}");
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
        Command::Serve => match run(config, &warnings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("kezd: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(config: Config, warnings: &[kezd::config::Warning]) -> anyhow::Result<()> {
    kezd::logging::init(&config.log)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    // One process-wide rustls provider, so client configs built later (federation) cannot
    // panic for finding two; an error only means one is already installed.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let Database::Sqlite { path } = &config.database;
        let mut options = SqliteOptions::new(path);
        options.durability = config.durability;
        let store = SqliteStore::open(options)
            .await
            .with_context(|| format!("opening the database {}", path.display()))?;
        let router = kezd::handlers::routes(&config);
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let store = Arc::new(store);
        let broker = Arc::new(LocalBroker::new());
        let federate =
            Arc::new(kezd::federate::Federate::new(&config).context("setting up federation")?);
        let state = AppState::new(config, store.clone(), broker, Some(federate), router)?;
        let signal = async {
            if let Err(error) = kezd::shutdown::os_signal().await {
                tracing::error!(%error, "cannot listen for signals; stopping");
            }
        };
        let served = kezd::serve(listener, state, signal).await;
        // Connections are drained: commit what is queued and release the database.
        store.close().await;
        served?;
        Ok(())
    })
}
