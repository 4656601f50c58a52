//! Log output: `RUST_LOG` when set (an operator debugging one module should not have to edit
//! the config), otherwise the configured level, which a reload can change; text for people or
//! JSON for collectors; client
//! addresses only when the operator keeps them (`[log] client_addresses`).

use std::fmt::Display;
use std::io::IsTerminal;

use tracing::field::DisplayValue;
use tracing_subscriber::{Registry, reload};

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `RUST_LOG` is set but is not a filter.
    #[error("RUST_LOG is not a log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// A global subscriber was already installed.
    #[error("logging was already initialised: {0}")]
    AlreadySet(#[from] tracing_subscriber::util::TryInitError),
}

/// The configured filter in force, replaceable while the daemon runs (a reload of `log.level`).
#[derive(Clone)]
pub struct LevelHandle(reload::Handle<EnvFilter, Registry>);

impl LevelHandle {
    /// Puts `level` (validated with the configuration) in force for every line from now on.
    pub fn set(&self, level: &str) -> Result<(), String> {
        let filter = configured_filter(level).map_err(|e| e.to_string())?;
        self.0.reload(filter).map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for LevelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LevelHandle")
    }
}

/// The filter of a configured `log.level`. The NATS client logs every connection event at
/// info, one line per failed attempt during an outage (several a second at first): it is held
/// to warnings unless the level names it, since the broker logs one line when NATS goes away
/// and one when it is back (`broker::nats`).
fn configured_filter(level: &str) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
    let filter = EnvFilter::try_new(level)?;
    if level.contains("async_nats") {
        return Ok(filter);
    }
    Ok(filter.add_directive("async_nats=warn".parse()?))
}

/// Installs the process-wide subscriber. Call once, early in `main`. Returns the handle that
/// changes the configured level, or `None` when `RUST_LOG` sets the filter instead (then
/// `log.level` is not in force, and changing it changes nothing).
pub fn init(settings: &LogSettings) -> Result<Option<LevelHandle>, LoggingError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let (filter, from_config) = match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(directives) => (EnvFilter::try_new(directives)?, false),
        // The configured level was parsed when the configuration was validated.
        Err(_) => (configured_filter(&settings.level)?, true),
    };
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    match settings.format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    // Colour codes only for a person at a terminal, never into log files.
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init()?,
    }
    Ok(from_config.then_some(LevelHandle(handle)))
}

/// A client address as a log field: `None` (the field is left out of the line) when
/// `[log] client_addresses = false`.
pub fn client_address<T: Display>(settings: &LogSettings, address: T) -> Option<DisplayValue<T>> {
    settings
        .client_addresses
        .then(|| tracing::field::display(address))
}
