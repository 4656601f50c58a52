//! `[log]`: the log filter, the line format, and whether client addresses are written.

use tracing_subscriber::filter::LevelFilter;

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
    /// Whether log lines name client addresses (an operator may keep no record of who
    /// connected; rate limits still see the addresses, they are only not written).
    pub client_addresses: bool,
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
    /// Validates `[log]`: the level must be a tracing filter whose every directive ends in a
    /// level.
    pub(super) fn from_raw(raw: RawLog) -> Result<Self, ConfigError> {
        check_filter(&raw.level).map_err(|reason| invalid("log.level", reason))?;
        Ok(LogSettings {
            level: raw.level,
            format: match raw.format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(invalid("log.format", "must be \"text\" or \"json\"")),
            },
            client_addresses: raw.client_addresses,
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
            client_addresses: self.client_addresses,
        }
    }
}

/// The level names a directive may end in.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A filter tracing accepts, in which every directive is a level or `target=level`. tracing
/// itself reads a bare word as a target to log at every level, so `warning` would turn on
/// trace logging of a module named `warning` and leave everything else off.
fn check_filter(filter: &str) -> Result<(), String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map_err(|e| format!("is not a log filter: {e}"))?;
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        if level.parse::<LevelFilter>().is_err() {
            let nearest = LEVELS
                .iter()
                .min_by_key(|name| strsim::levenshtein(name, &level.to_ascii_lowercase()))
                .unwrap_or(&"info");
            return Err(format!(
                "has {directive:?}, which is not a level ({}) nor TARGET=LEVEL; did you mean {nearest:?}?",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_levels_and_directives_with_levels_pass() {
        for good in [
            "info",
            "WARN",
            "kezd=debug,info",
            "kezd::access=off,warn",
            "h2=error",
        ] {
            assert_eq!(check_filter(good), Ok(()), "{good}");
        }
        let warning = check_filter("warning").expect_err("not a level");
        assert!(warning.contains("did you mean \"warn\""), "{warning}");
        assert!(
            check_filter("info,kezd").is_err(),
            "a bare target is no level"
        );
        assert!(check_filter("kezd=loud").is_err());
        assert!(check_filter("info,[").is_err());
    }
}
