//! `[log]`: the log filter and line format.

use super::ConfigError;
use super::checks::invalid;
use super::raw::RawLog;

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// A tracing filter directive, used when `RUST_LOG` is not set.
    pub level: String,
    /// Line format.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogSettings {
    /// Validates `[log]`: the level must be a tracing filter.
    pub(super) fn from_raw(raw: RawLog) -> Result<Self, ConfigError> {
        tracing_subscriber::EnvFilter::try_new(&raw.level)
            .map_err(|e| invalid("log.level", format!("is not a log filter: {e}")))?;
        Ok(LogSettings {
            level: raw.level,
            format: match raw.format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(invalid("log.format", "must be \"text\" or \"json\"")),
            },
        })
    }

    /// `[log]` as written in the file.
    pub(super) fn to_raw(&self) -> RawLog {
        RawLog {
            level: self.level.clone(),
            format: match self.format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            }
            .into(),
        }
    }
}
