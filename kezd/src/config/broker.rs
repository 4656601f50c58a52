//! `broker_url` and `broker_prefix`: how committed messages reach the live streams.

use super::ConfigError;
use super::checks::invalid;
use super::raw;

/// The live fanout bus, from `broker_url` and `broker_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSettings {
    /// In-process fanout: one kezd (`broker_url` empty).
    Local,
    /// NATS, shared by every kezd of a cluster.
    Nats {
        /// One or more comma-separated `nats://` (or `tls://`) server URLs.
        url: String,
        /// Subjects are `<prefix>.inbox.<handle>`.
        prefix: String,
    },
}

impl BrokerSettings {
    /// Parses `broker_url` and `broker_prefix`.
    pub(super) fn parse(url: &str, prefix: &str) -> Result<Self, ConfigError> {
        if !valid_subject_prefix(prefix) {
            return Err(invalid(
                "broker_prefix",
                "must be NATS subject tokens of letters, digits, `_` and `-` joined by `.`",
            ));
        }
        if url.is_empty() {
            return Ok(BrokerSettings::Local);
        }
        let each_ok = url.split(',').map(str::trim).all(|one| {
            ["nats://", "tls://"].iter().any(|scheme| {
                one.strip_prefix(scheme)
                    .is_some_and(|rest| !rest.is_empty())
            })
        });
        if !each_ok {
            return Err(invalid(
                "broker_url",
                "must be empty (in-process) or nats:// URLs separated by commas",
            ));
        }
        Ok(BrokerSettings::Nats {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// `broker_url` and `broker_prefix` as written in the file.
    pub(super) fn to_raw(&self) -> (String, String) {
        match self {
            BrokerSettings::Local => (String::new(), raw::DEFAULT_BROKER_PREFIX.into()),
            BrokerSettings::Nats { url, prefix } => (url.clone(), prefix.clone()),
        }
    }
}

/// A subject prefix without wildcards or whitespace, so `<prefix>.inbox.<handle>` is a literal
/// subject and `<prefix>.inbox.>` matches exactly kezd's inbox subjects.
fn valid_subject_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}
