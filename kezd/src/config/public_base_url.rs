//! `public_base_url`: the URL this server is reached at, given or derived from the server
//! name.

use std::fmt;

use kez_spec::ServerName;

use super::checks::invalid;
use super::{BrokerSettings, ConfigError, Database};

/// An `http://` or `https://` URL with a host, no path beyond `/`-free segments, no query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

impl PublicBaseUrl {
    /// The URL, without a trailing slash: append `/v1/…` directly.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a given URL.
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let text = text.strip_suffix('/').unwrap_or(text);
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or("must start with http:// or https://")?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Err("has no host".into());
        }
        if text.contains(['?', '#']) || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain a query, a fragment or whitespace".into());
        }
        Ok(PublicBaseUrl(text.to_owned()))
    }

    /// The given URL, or `https://<server_name>` (SPEC §4.4), with or without TLS here: a
    /// server without TLS of its own is reached through a proxy that has it, and the listening
    /// address is no name a client elsewhere can use.
    pub(super) fn from_raw(
        raw: Option<String>,
        server_name: &ServerName,
    ) -> Result<Self, ConfigError> {
        Ok(match raw {
            Some(url) => PublicBaseUrl::parse(&url).map_err(|e| invalid("public_base_url", e))?,
            None => PublicBaseUrl(format!("https://{server_name}")),
        })
    }
}

/// Refuses a cluster configuration — a PostgreSQL database or a NATS broker, shared by several
/// instances — that leaves `public_base_url` to be derived: every instance must put the same
/// address in its links (WebFinger) and in what peers are told, whatever name or address the
/// load balancer reached it by.
pub(super) fn required_in_cluster(
    given: bool,
    database: &Database,
    broker: &BrokerSettings,
) -> Result<(), ConfigError> {
    let shared = matches!(database, Database::Postgres { .. })
        || matches!(broker, BrokerSettings::Nats { .. });
    if shared && !given {
        return Err(invalid(
            "public_base_url",
            "must be set for a cluster (a postgres:// database_url or a NATS broker_url): \
             peers and WebFinger must name one address for all instances, the load \
             balancer's (e.g. public_base_url = \"https://kez.example.org\")",
        ));
    }
    Ok(())
}

impl fmt::Display for PublicBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
