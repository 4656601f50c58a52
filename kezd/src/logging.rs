//! Log output: `RUST_LOG` when set (an operator debugging one module should not have to edit
//! the config), otherwise the configured level; text for people or JSON for collectors; client
//! addresses only when the operator keeps them (`[log] client_addresses`).

use std::fmt::Display;
use std::io::IsTerminal;

use tracing::field::DisplayValue;

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

/// Installs the process-wide subscriber. Call once, early in `main`.
pub fn init(settings: &LogSettings) -> Result<(), LoggingError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(directives) => EnvFilter::try_new(directives)?,
        // The configured level was parsed when the configuration was validated.
        Err(_) => EnvFilter::try_new(&settings.level)?,
    };
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
    Ok(())
}

/// A client address as a log field: `None` (the field is left out of the line) when
/// `[log] client_addresses = false`.
pub fn client_address<T: Display>(settings: &LogSettings, address: T) -> Option<DisplayValue<T>> {
    settings
        .client_addresses
        .then(|| tracing::field::display(address))
}
