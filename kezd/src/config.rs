//! The daemon's one validated configuration, built in two stages so nothing downstream ever
//! re-checks a setting: the layers (defaults < TOML file < `KEZ_*` environment < flags) merge
//! into a [`RawConfig`] of plain types, then [`Config::from_raw`] turns it into typed fields
//! (`SocketAddr`, `Duration`, `NonZero…`, [`ServerName`]). An unknown key is an error with the
//! nearest known key as a hint (a typo that is only a warning leaves a setting silently at its
//! default); a bad value is an error naming its key, the value and where it was set. What is
//! valid but looks wrong comes back as warnings for the caller to print or log.

mod broker;
mod checks;
mod database;
mod federation;
mod http;
mod inbox;
pub mod keys;
mod lint;
mod log;
mod public_base_url;
mod rate;
pub mod raw;
pub mod registration;
mod retention;
mod secrets;
mod skew;
pub mod sources;
mod stream;
mod tls;

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;

pub use broker::BrokerSettings;
pub use database::Database;
pub use federation::Federation;
pub use http::HttpLimits;
pub use inbox::InboxPaging;
pub use log::{LogFormat, LogSettings};
pub use public_base_url::PublicBaseUrl;
pub use rate::RateLimits;
pub use raw::RawConfig;
pub use registration::{Policy, Registration};
pub use retention::Retention;
pub use skew::Skews;
pub use sources::{FlagSetting, Origin, Sources};
pub use stream::StreamSettings;
pub use tls::TlsFiles;

use crate::cidr::Cidr;
use crate::client_addr::TrustedProxies;
pub use crate::durability::Durability;
use checks::{invalid, non_empty_path, nonzero_u32};
use kez_spec::ServerName;

/// The validated configuration. Every field is already in the form its users need.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the daemon listens (the binary binds it; tests bind their own).
    pub bind: SocketAddr,
    /// This server's name (SPEC §2.2): compared with every `server` field and published.
    pub server_name: ServerName,
    /// The URL this server is reached at, without a trailing `/`, for links (WebFinger).
    pub public_base_url: PublicBaseUrl,
    /// The embedded database's directory, created at start.
    pub data_dir: PathBuf,
    /// The database to open.
    pub database: Database,
    /// What a 2xx on send promises (SPEC §8.6).
    pub durability: Durability,
    /// The most PostgreSQL connections this instance holds (`[database] max_connections`);
    /// SQLite ignores it.
    pub database_max_connections: NonZeroU32,
    /// How committed messages reach the live streams (SPEC §8.5).
    pub broker: BrokerSettings,
    /// A directory served as the browser app in place of the one compiled into kezd.
    pub web_dir: Option<PathBuf>,
    /// Peers whose forwarded-for headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// HTTPS (with HTTP/2 by ALPN) when set; plain HTTP behind a proxy otherwise.
    pub tls: Option<TlsFiles>,
    /// Logging.
    pub log: LogSettings,
    /// Connection, timeout and body limits.
    pub http: HttpLimits,
    /// Spam limits (SPEC §11).
    pub rate: RateLimits,
    /// Clock-skew windows.
    pub skew: Skews,
    /// The live stream (SPEC §8.5).
    pub stream: StreamSettings,
    /// Inbox retention (SPEC §8.4).
    pub retention: Retention,
    /// Federation (SPEC §9).
    pub federation: Federation,
    /// Inbox paging (SPEC §8.2).
    pub inbox: InboxPaging,
    /// Who may register, and the operator's reserved handles (SPEC §2.1, §4.1).
    pub registration: Registration,
}

/// A configuration that loaded, with what deserves a warning in the log.
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Ignored variables and suspicious values, to be printed or logged.
    pub warnings: Vec<Warning>,
}

/// Something valid that deserves the operator's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A `KEZ_*` environment variable that sets nothing (kezctl's variables share the
    /// prefix, so one that resembles no key is only a warning).
    UnknownVariable {
        /// The variable's name.
        name: String,
    },
    /// A value that is valid but probably not what the operator meant.
    Suspicious {
        /// The dotted key.
        key: &'static str,
        /// What looks wrong, phrased to follow the key.
        reason: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownVariable { name } => {
                write!(
                    f,
                    "environment variable {name} is not a kezd setting and is ignored"
                )
            }
            Warning::Suspicious { key, reason } => write!(f, "`{key}` {reason}"),
        }
    }
}

/// Why the configuration is unusable. Every variant about a value names its key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML. The offending line is not quoted: it may hold a password.
    #[error("configuration file {} is not valid TOML{}: {message}", path.display(), at_line(*location))]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line and column, 1-based, when known.
        location: Option<(usize, usize)>,
        /// What the parser expected.
        message: String,
    },
    /// A key (or `KEZ_*` variable) kezd does not read.
    #[error("{}", unknown_key(key, origin, suggestion.as_deref()))]
    UnknownKey {
        /// The dotted key or the variable's name.
        key: String,
        /// Where it was written.
        origin: Origin,
        /// The known key it is closest to.
        suggestion: Option<String>,
    },
    /// A value of the wrong kind.
    #[error("`{key}` = {value} {origin} must be {expected}, found {found}")]
    WrongType {
        /// The dotted key.
        key: String,
        /// The value as TOML (secrets redacted).
        value: String,
        /// Where it was set.
        origin: Origin,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        found: &'static str,
    },
    /// A textual setting (environment or flag) that is not of its key's kind.
    #[error("`{key}` = {value:?} {origin} must be {expected}")]
    BadText {
        /// The dotted key.
        key: String,
        /// The variable or flag that set it.
        origin: Origin,
        /// The text given (secrets redacted).
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A `--set` argument without `=`.
    #[error("--set expects KEY=VALUE, got {0:?}")]
    BadSetArgument(String),
    /// A value of the right kind that is not acceptable, found by validating a raw
    /// configuration (which knows no sources: [`Config::load`] turns it into `Rejected`).
    #[error("`{key}` {reason}")]
    Invalid {
        /// The dotted key.
        key: &'static str,
        /// What is wrong, phrased to follow the key.
        reason: String,
    },
    /// A value of the right kind that is not acceptable, with the value and where it was set.
    #[error("`{key}`{} {reason}", set_as(value.as_deref(), origin))]
    Rejected {
        /// The dotted key.
        key: &'static str,
        /// The value as TOML (secrets redacted); `None` when no layer set it.
        value: Option<String>,
        /// Where it was set.
        origin: Origin,
        /// What is wrong, phrased to follow the key.
        reason: String,
    },
    /// The merged layers did not fit the raw shape (kinds are checked first, so this means a
    /// key table and struct disagree).
    #[error("configuration does not deserialize: {0}")]
    Shape(#[source] Box<toml::de::Error>),
    /// The effective configuration could not be printed.
    #[error("cannot print the configuration: {0}")]
    Print(#[from] toml::ser::Error),
}

impl Config {
    /// Loads every layer, validates, and returns the config with warnings to log.
    pub fn load(sources: &Sources) -> Result<Loaded, ConfigError> {
        let merged = sources::merge(sources)?;
        let raw: RawConfig = toml::Value::Table(merged.table.clone())
            .try_into()
            .map_err(|e| ConfigError::Shape(Box::new(e)))?;
        let config = Config::from_raw(raw).map_err(|error| match error {
            ConfigError::Invalid { key, reason } => ConfigError::Rejected {
                key,
                value: merged.value(key).map(|value| printable(key, value)),
                origin: merged.origin(key),
                reason,
            },
            other => other,
        })?;
        let mut warnings = lint::lint(&config, &merged);
        warnings.splice(0..0, merged.warnings);
        Ok(Loaded { config, warnings })
    }

    /// Validates a raw configuration, section by section.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let bind: SocketAddr = raw
            .bind
            .parse()
            .map_err(|_| invalid("bind", "must be IP:port, e.g. 127.0.0.1:6969"))?;
        let server_name: ServerName = raw
            .server_name
            .parse()
            .map_err(|e| invalid("server_name", format!("is not a server name: {e}")))?;
        let tls = TlsFiles::from_raw(raw.tls)?;
        let data_dir = non_empty_path("data_dir", raw.data_dir)?;
        let database = Database::from_raw(raw.database_url, &data_dir)?;
        let broker = BrokerSettings::parse(&raw.broker_url, &raw.broker_prefix)?;
        public_base_url::required_in_cluster(raw.public_base_url.is_some(), &database, &broker)?;
        let public_base_url = PublicBaseUrl::from_raw(raw.public_base_url, &server_name)?;
        let web_dir = raw
            .web_dir
            .map(|dir| non_empty_path("web_dir", dir))
            .transpose()?;
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|text| text.parse::<Cidr>())
            .collect::<Result<TrustedProxies, _>>()
            .map_err(|e| {
                invalid(
                    "trusted_proxies",
                    format!("has an entry that is not an IP or CIDR: {e}"),
                )
            })?;
        let http = HttpLimits::from_raw(raw.http)?;
        let registration = Registration::from_raw(raw.registration, &server_name)?;
        Ok(Config {
            federation: Federation::from_raw(raw.federation)?,
            bind,
            server_name,
            public_base_url,
            data_dir,
            database,
            durability: database::durability(&raw.durability)?,
            database_max_connections: nonzero_u32(
                "database.max_connections",
                raw.database.max_connections,
            )?,
            broker,
            web_dir,
            trusted_proxies,
            tls,
            log: LogSettings::from_raw(raw.log)?,
            inbox: InboxPaging::from_raw(raw.inbox, &http)?,
            http,
            rate: RateLimits::from_raw(raw.rate)?,
            skew: Skews::from_raw(raw.skew)?,
            stream: StreamSettings::from_raw(raw.stream)?,
            retention: Retention::from_raw(raw.retention)?,
            registration,
        })
    }

    /// The effective configuration in the raw shape: every value explicit, derived ones
    /// included, so printing it gives a file that loads to this same configuration.
    pub fn to_raw(&self) -> RawConfig {
        let path = |p: &PathBuf| p.display().to_string();
        let (broker_url, broker_prefix) = self.broker.to_raw();
        RawConfig {
            bind: self.bind.to_string(),
            server_name: self.server_name.to_string(),
            public_base_url: Some(self.public_base_url.to_string()),
            data_dir: path(&self.data_dir),
            database_url: Some(self.database.to_url()),
            durability: database::durability_name(self.durability).into(),
            database: raw::RawDatabase {
                max_connections: self.database_max_connections.get().into(),
            },
            broker_url,
            broker_prefix,
            web_dir: self.web_dir.as_ref().map(path),
            trusted_proxies: self.trusted_proxies.iter().map(Cidr::to_string).collect(),
            tls: TlsFiles::to_raw(self.tls.as_ref()),
            log: self.log.to_raw(),
            http: self.http.to_raw(),
            rate: self.rate.to_raw(),
            skew: self.skew.to_raw(),
            stream: self.stream.to_raw(),
            retention: self.retention.to_raw(),
            inbox: self.inbox.to_raw(),
            federation: self.federation.to_raw(),
            registration: self.registration.to_raw(),
        }
    }

    /// The effective configuration as TOML (what `kezd check-config` prints), with passwords
    /// in URLs replaced by `***`: the one value that does not load back as it was.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let mut raw = self.to_raw();
        raw.database_url = raw
            .database_url
            .map(|url| secrets::redact("database_url", &url));
        raw.broker_url = secrets::redact("broker_url", &raw.broker_url);
        Ok(toml::to_string(&raw)?)
    }
}

/// A value as TOML for an error message, secrets redacted.
pub(super) fn printable(key: &str, value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => toml::Value::String(secrets::redact(key, text)).to_string(),
        other => other.to_string(),
    }
}

/// ` (line L, column C)` for a parse error, when the place is known.
fn at_line(location: Option<(usize, usize)>) -> String {
    location.map_or_else(String::new, |(line, column)| {
        format!(" (line {line}, column {column})")
    })
}

/// ` = VALUE in FILE` (or from a variable or flag) after a rejected key; nothing for a key no
/// layer set.
fn set_as(value: Option<&str>, origin: &Origin) -> String {
    match (value, origin) {
        (None, Origin::Default) => String::new(),
        (None, origin) => format!(" {origin}"),
        (Some(value), origin) => format!(" = {value} {origin}"),
    }
}

/// The message for an unknown key, with the near known one as a hint.
fn unknown_key(key: &str, origin: &Origin, suggestion: Option<&str>) -> String {
    let hint = suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
    match origin {
        Origin::Env(_) => format!("environment variable {key} is not a kezd setting{hint}"),
        _ => format!("unknown key `{key}` {origin}{hint}"),
    }
}

impl Default for Config {
    /// The built-in defaults, validated.
    fn default() -> Self {
        // The built-in defaults are valid: `defaults_are_valid` below proves it.
        Config::from_raw(RawConfig::default()).expect("built-in defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = Config::from_raw(RawConfig::default()).expect("defaults");
        assert_eq!(config.bind.to_string(), "127.0.0.1:6969");
        assert_eq!(config.public_base_url.as_str(), "https://localhost:6969");
        assert_eq!(config.database.to_url(), "sqlite://./data/kezd.db");
        assert_eq!(
            Database::parse("sqlite:x.db"),
            Ok(Database::Sqlite {
                path: "x.db".into()
            })
        );
        assert_eq!(
            Database::parse("postgres://kez@db.internal:5432/kez"),
            Ok(Database::Postgres {
                url: "postgres://kez@db.internal:5432/kez".into()
            })
        );
        assert!(Database::parse("postgresql://h/db").is_ok());
        assert!(Database::parse("mysql://h/db").is_err());
        let secret = Database::parse("postgres://kez:hunter2@h/db").expect("valid");
        assert!(!format!("{secret:?}").contains("hunter2"), "{secret:?}");
        assert!(Database::parse("sqlite://x.db?mode=rwc").is_err());
        assert_eq!(config.http.max_message_bytes.get(), 262_144);
    }

    #[test]
    fn printed_config_loads_back_to_the_same_values() {
        let raw = RawConfig {
            trusted_proxies: vec!["10.0.0.0/8".into(), "::1".into()],
            tls: raw::RawTls {
                cert: Some("c.pem".into()),
                key: Some("k.pem".into()),
            },
            ..RawConfig::default()
        };
        let config = Config::from_raw(raw).expect("valid");
        let text = config.to_toml().expect("prints");
        let again: RawConfig = toml::from_str(&text).expect("parses");
        assert_eq!(again, config.to_raw());
        assert_eq!(
            again.public_base_url.as_deref(),
            Some("https://localhost:6969")
        );
    }

    #[test]
    fn raw_fields_are_exactly_the_key_table() {
        // Serialising a config with every optional value set yields every field once.
        let raw = RawConfig {
            registration: raw::RawRegistration {
                policy: Some("open".into()),
                reserved_handles: Vec::new(),
            },
            public_base_url: Some("https://x.example".into()),
            database_url: Some("sqlite://x.db".into()),
            web_dir: Some("web".into()),
            tls: raw::RawTls {
                cert: Some("c".into()),
                key: Some("k".into()),
            },
            ..RawConfig::default()
        };
        let toml::Value::Table(table) = toml::Value::try_from(&raw).expect("serialises") else {
            panic!("not a table");
        };
        let mut paths = Vec::new();
        for (name, value) in table {
            match value {
                toml::Value::Table(section) => {
                    paths.extend(section.keys().map(|sub| format!("{name}.{sub}")));
                }
                _ => paths.push(name),
            }
        }
        paths.sort();
        let mut expected: Vec<String> = keys::KEYS.iter().map(|k| k.path.to_owned()).collect();
        expected.sort();
        assert_eq!(paths, expected);
    }

    #[test]
    fn broker_settings_rules() {
        let parse = BrokerSettings::parse;
        assert_eq!(parse("", "kez.chat").ok(), Some(BrokerSettings::Local));
        assert_eq!(
            parse("nats://10.0.0.5:4222,nats://10.0.0.6:4222", "kez.chat").ok(),
            Some(BrokerSettings::Nats {
                url: "nats://10.0.0.5:4222,nats://10.0.0.6:4222".into(),
                prefix: "kez.chat".into()
            })
        );
        assert!(parse("http://x", "kez.chat").is_err());
        assert!(parse("nats://", "kez.chat").is_err());
        for bad in ["", "kez.*", "kez.>", "kez..chat", "kez chat", ".kez"] {
            assert!(parse("", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn public_base_url_rules() {
        assert_eq!(
            PublicBaseUrl::parse("https://kez.lat/").map(|u| u.as_str().to_owned()),
            Ok("https://kez.lat".to_owned())
        );
        assert!(PublicBaseUrl::parse("ftp://kez.lat").is_err());
        assert!(PublicBaseUrl::parse("https://").is_err());
        assert!(PublicBaseUrl::parse("https://kez.lat/?a").is_err());
    }
}
