//! The daemon's one validated configuration, built in two stages so nothing downstream ever
//! re-checks a setting: the layers (defaults < TOML file < `KEZ_*` environment < flags) merge
//! into a [`RawConfig`] of plain types, then [`Config::from_raw`] turns it into typed fields
//! (`SocketAddr`, `Duration`, `NonZero…`, [`ServerName`]). Unknown keys are warnings (a typo
//! should not stop a server from restarting) and come back to the caller to log; a bad value is
//! an error naming its key.

pub mod keys;
pub mod raw;
pub mod sources;

use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

pub use raw::RawConfig;
pub use sources::{FlagSetting, Sources};

use crate::cidr::Cidr;
use crate::client_addr::TrustedProxies;
pub use crate::durability::Durability;
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
    /// How committed messages reach the live streams (SPEC §8.5).
    pub broker: BrokerSettings,
    /// The browser app's directory; without one, `/` is a small page naming the server.
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
}

/// An `http://` or `https://` URL with a host, no path beyond `/`-free segments, no query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(String);

impl PublicBaseUrl {
    /// The URL, without a trailing slash: append `/v1/…` directly.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(text: &str) -> Result<Self, String> {
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
}

impl fmt::Display for PublicBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the data lives, parsed from `database_url`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (`sqlite://path` or `sqlite:path`), created when missing.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL database (`postgres://` or `postgresql://`), shared by every kezd of a
    /// cluster; kezd applies its migrations at start.
    Postgres {
        /// The connection URL as given, options included.
        url: String,
    },
}

impl fmt::Debug for Database {
    /// A PostgreSQL URL may carry a password: debug output (which can reach logs) shows the
    /// URL without it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Database::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &redact_password(url))
                .finish(),
        }
    }
}

impl Database {
    fn parse(url: &str) -> Result<Self, &'static str> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // sqlx's own parser, so a URL accepted here is one the store can open.
            <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
                .map_err(|_| "is not a valid postgres:// URL")?;
            return Ok(Database::Postgres {
                url: url.to_owned(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or("must be a sqlite: URL (sqlite://path/to/kezd.db) or a postgres:// URL")?;
        if path.is_empty() {
            return Err("names no file");
        }
        if path.contains('?') {
            return Err("must not carry options: kezd sets them (see `durability`)");
        }
        Ok(Database::Sqlite { path: path.into() })
    }

    fn to_url(&self) -> String {
        match self {
            Database::Sqlite { path } => format!("sqlite://{}", path.display()),
            Database::Postgres { url } => url.clone(),
        }
    }
}

/// `scheme://user:secret@host…` → `scheme://user:***@host…`; anything else unchanged.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

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
    fn parse(url: &str, prefix: &str) -> Result<Self, ConfigError> {
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

/// The certificate chain and private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

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

/// Limits on connections and requests, against exhaustion and slow clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections open at once; over it, new connections are closed at once.
    pub max_connections: NonZeroUsize,
    /// Time a connection gets to complete its TLS handshake and each request head.
    pub header_read_timeout: Duration,
    /// Body limit of every route that does not set its own.
    pub max_body_bytes: NonZeroUsize,
    /// Body limit of `POST /v1/messages` (SPEC §6.5: 262,144).
    pub max_message_bytes: NonZeroUsize,
    /// Time in-flight requests and streams get to finish after a shutdown signal.
    pub drain_timeout: Duration,
    /// Connections open at once per client address group (see `ipv6_prefix_len`); over it, a
    /// new connection from that group is closed at once. Trusted proxies are not capped.
    pub max_connections_per_address: NonZeroUsize,
    /// IPv6 clients are counted by this many leading bits (one subscriber's network).
    pub ipv6_prefix_len: u8,
    /// A connection with no request or response in progress for this long is closed
    /// (HTTP/2 with GOAWAY).
    pub idle_timeout: Duration,
    /// A connection whose writes make no progress for this long is closed.
    pub write_timeout: Duration,
    /// Time a request body gets to arrive in full, from when kezd starts reading it; later
    /// bodies get 408 `request_timeout` and their connection is closed.
    pub body_timeout: Duration,
    /// Slowest average rate (bytes per second) a body may arrive at once its grace is over
    /// ([`crate::request_body`]); 0 for no minimum rate.
    pub body_min_bytes_per_sec: u64,
    /// Request and response bytes in memory at once ([`crate::budget`]); at least the
    /// largest body a route accepts, so every acceptable request can fit.
    pub max_inflight_bytes: u64,
}

/// Spam limits (SPEC §11), each a count per window per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per client address per minute, on every route.
    pub client_per_minute: NonZeroU32,
    /// Registrations per client address per hour.
    pub register_per_hour: NonZeroU32,
    /// Sends per sender address per minute.
    pub sender_per_minute: NonZeroU32,
    /// Messages per recipient per minute from its contacts: senders it has written to
    /// (SPEC §11).
    pub recipient_per_minute: NonZeroU32,
    /// Messages per recipient per minute from everyone else, a separate budget so strangers
    /// cannot lock an inbox against its contacts (SPEC §11).
    pub recipient_strangers_per_minute: NonZeroU32,
    /// New sender→recipient pairs per sender per hour.
    pub first_contacts_per_hour: NonZeroU32,
    /// Envelopes per minute accepted from one origin server (SPEC §11).
    pub origin_per_minute: NonZeroU32,
    /// Look-ups at other servers made on a client's word, per client address per minute
    /// (SPEC §11, §13.2): what one party can make this server fetch.
    pub remote_lookups_per_minute: NonZeroU32,
    /// The same look-ups per destination host per minute: what many parties together can make
    /// this server send to one host.
    pub remote_lookups_per_server_per_minute: NonZeroU32,
}

/// Accepted distance between a signed timestamp and this server's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skews {
    /// Registrations (SPEC §4.1: 300 s).
    pub registration: Duration,
    /// Client request auth (SPEC §7.1: 60 s).
    pub auth: Duration,
    /// Envelopes on send (SPEC §8.1: 300 s).
    pub envelope: Duration,
}

/// The live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Interval of `: keep-alive` comments (SPEC §8.5: 15 s).
    pub keep_alive: Duration,
    /// Streams open at once per handle, on this instance.
    pub max_per_handle: NonZeroUsize,
    /// Streams open at once per client address group, on this instance.
    pub max_per_address: NonZeroUsize,
}

/// How this server federates (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federation {
    /// The DNS server for discovery; `None` for the system resolver.
    pub resolver: Option<SocketAddr>,
    /// PEM CA files trusted besides the system roots.
    pub extra_roots: Vec<PathBuf>,
    /// Whether peers may be at loopback or private addresses (SPEC §9.8).
    pub allow_private_addresses: bool,
    /// Refused origins and destinations (SPEC §9.9).
    pub block: Vec<ServerName>,
    /// When non-empty, the only origins and destinations (SPEC §9.9).
    pub allow: Vec<ServerName>,
    /// After this, an undelivered message fails (SPEC §9.6).
    pub retry_window: Duration,
    /// First retry delay.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Total timeout of one outbound request; also the most time one transaction spends
    /// looking its senders up (SPEC §9.4).
    pub request_timeout: Duration,
    /// Transactions one origin may have in flight here at once; more get 429 (SPEC §9.4).
    pub max_inflight_txns_per_origin: NonZeroUsize,
    /// Transactions all origins together may have in flight here at once; more get 503.
    pub max_inflight_txns: NonZeroUsize,
    /// Sender look-ups one transaction runs at once (SPEC §9.4 check 5).
    pub sender_lookup_concurrency: NonZeroUsize,
}

impl Federation {
    /// Whether this server federates with `server` under the operator's lists.
    pub fn permits(&self, server: &ServerName) -> bool {
        !self.block.contains(server) && (self.allow.is_empty() || self.allow.contains(server))
    }
}

/// What retention deletes (SPEC §8.4) and how often it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Messages received longer ago are deleted.
    pub max_age: Duration,
    /// Per inbox, only this many newest messages are kept.
    pub max_per_inbox: NonZeroU64,
    /// Interval between retention sweeps.
    pub sweep_interval: Duration,
}

/// Inbox page sizes (SPEC §8.2). `page_default ≤ page_max` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxPaging {
    /// Page size when the request has no `limit`.
    pub page_default: NonZeroU32,
    /// Largest page; a larger `limit` is capped to it.
    pub page_max: NonZeroU32,
    /// Largest page body in bytes; a page always holds at least one message.
    pub page_max_bytes: NonZeroUsize,
}

/// A configuration that loaded, with what deserves a warning in the log.
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// Unknown keys and variables, to be logged at start.
    pub warnings: Vec<Warning>,
}

/// Something ignored while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A key of the file that kezd does not know (a typo, or a setting of another version).
    UnknownKey {
        /// The dotted key.
        key: String,
        /// The file it is in.
        file: PathBuf,
    },
    /// A `KEZ_*` environment variable that sets nothing.
    UnknownVariable {
        /// The variable's name.
        name: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownKey { key, file } => {
                write!(f, "unknown key `{key}` in {} is ignored", file.display())
            }
            Warning::UnknownVariable { name } => {
                write!(
                    f,
                    "environment variable {name} is not a kezd setting and is ignored"
                )
            }
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
    /// The file is not TOML.
    #[error("configuration file {} is not valid TOML: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why (boxed: the parse error is large).
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value of the wrong kind.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The dotted key.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        found: &'static str,
    },
    /// A textual setting (environment or flag) that is not of its key's kind.
    #[error("`{key}` (from {origin}) must be {expected}, got {value:?}")]
    BadText {
        /// The dotted key.
        key: String,
        /// The variable or flag that set it.
        origin: String,
        /// The text given.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `--set` named a key that does not exist.
    #[error("`{key}` is not a configuration key")]
    UnknownFlagKey {
        /// The key given.
        key: String,
    },
    /// A `--set` argument without `=`.
    #[error("--set expects KEY=VALUE, got {0:?}")]
    BadSetArgument(String),
    /// A value of the right kind that is not acceptable.
    #[error("`{key}` {reason}")]
    Invalid {
        /// The dotted key.
        key: &'static str,
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
        let (table, warnings) = sources::merge(sources)?;
        let raw: RawConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e| ConfigError::Shape(Box::new(e)))?;
        Ok(Loaded {
            config: Config::from_raw(raw)?,
            warnings,
        })
    }

    /// Validates a raw configuration.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let bind: SocketAddr = raw
            .bind
            .parse()
            .map_err(|_| invalid("bind", "must be IP:port, e.g. 127.0.0.1:6969"))?;
        let server_name: ServerName = raw
            .server_name
            .parse()
            .map_err(|e| invalid("server_name", format!("is not a server name: {e}")))?;
        let tls = match (raw.tls.cert, raw.tls.key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: non_empty_path("tls.cert", cert)?,
                key: non_empty_path("tls.key", key)?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "tls.key",
                    "is missing: set both tls.cert and tls.key, or neither",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "tls.cert",
                    "is missing: set both tls.cert and tls.key, or neither",
                ));
            }
        };
        let public_base_url = match raw.public_base_url {
            Some(url) => PublicBaseUrl::parse(&url).map_err(|e| invalid("public_base_url", e))?,
            None if tls.is_some() => PublicBaseUrl(format!("https://{server_name}")),
            None => PublicBaseUrl(format!("http://{bind}")),
        };
        let data_dir = non_empty_path("data_dir", raw.data_dir)?;
        let database = match raw.database_url {
            Some(url) => Database::parse(&url).map_err(|e| invalid("database_url", e))?,
            None => Database::Sqlite {
                path: data_dir.join("kezd.db"),
            },
        };
        let durability = match raw.durability.as_str() {
            "full" => Durability::Full,
            "crash_only" => Durability::CrashOnly,
            _ => return Err(invalid("durability", "must be \"full\" or \"crash_only\"")),
        };
        let broker = BrokerSettings::parse(&raw.broker_url, &raw.broker_prefix)?;
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
        tracing_subscriber::EnvFilter::try_new(&raw.log.level)
            .map_err(|e| invalid("log.level", format!("is not a log filter: {e}")))?;
        let log = LogSettings {
            level: raw.log.level,
            format: match raw.log.format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(invalid("log.format", "must be \"text\" or \"json\"")),
            },
        };
        let http = HttpLimits {
            max_connections: nonzero_usize("http.max_connections", raw.http.max_connections)?,
            header_read_timeout: positive_millis(
                "http.header_read_timeout_ms",
                raw.http.header_read_timeout_ms,
            )?,
            max_body_bytes: nonzero_usize("http.max_body_bytes", raw.http.max_body_bytes)?,
            max_message_bytes: nonzero_usize("http.max_message_bytes", raw.http.max_message_bytes)?,
            drain_timeout: Duration::from_millis(raw.http.drain_timeout_ms),
            max_connections_per_address: nonzero_usize(
                "http.max_connections_per_address",
                raw.http.max_connections_per_address,
            )?,
            ipv6_prefix_len: u8::try_from(raw.http.ipv6_prefix_len)
                .ok()
                .filter(|bits| *bits <= 128)
                .ok_or_else(|| invalid("http.ipv6_prefix_len", "must be 0 … 128"))?,
            idle_timeout: positive_millis("http.idle_timeout_ms", raw.http.idle_timeout_ms)?,
            write_timeout: positive_millis("http.write_timeout_ms", raw.http.write_timeout_ms)?,
            body_timeout: positive_millis("http.body_timeout_ms", raw.http.body_timeout_ms)?,
            body_min_bytes_per_sec: raw.http.body_min_bytes_per_sec,
            max_inflight_bytes: raw.http.max_inflight_bytes,
        };
        let largest_body = [
            http.max_body_bytes.get(),
            http.max_message_bytes.get(),
            crate::txn_limits::MAX_BYTES,
        ]
        .into_iter()
        .max()
        .unwrap_or(usize::MAX);
        if u64::try_from(largest_body).map_or(true, |n| http.max_inflight_bytes < n) {
            return Err(invalid(
                "http.max_inflight_bytes",
                format!(
                    "must hold the largest request body a route accepts ({largest_body} bytes)"
                ),
            ));
        }
        let rate = RateLimits {
            client_per_minute: nonzero_u32("rate.client_per_minute", raw.rate.client_per_minute)?,
            register_per_hour: nonzero_u32("rate.register_per_hour", raw.rate.register_per_hour)?,
            sender_per_minute: nonzero_u32("rate.sender_per_minute", raw.rate.sender_per_minute)?,
            recipient_per_minute: nonzero_u32(
                "rate.recipient_per_minute",
                raw.rate.recipient_per_minute,
            )?,
            recipient_strangers_per_minute: nonzero_u32(
                "rate.recipient_strangers_per_minute",
                raw.rate.recipient_strangers_per_minute,
            )?,
            first_contacts_per_hour: nonzero_u32(
                "rate.first_contacts_per_hour",
                raw.rate.first_contacts_per_hour,
            )?,
            origin_per_minute: nonzero_u32("rate.origin_per_minute", raw.rate.origin_per_minute)?,
            remote_lookups_per_minute: nonzero_u32(
                "rate.remote_lookups_per_minute",
                raw.rate.remote_lookups_per_minute,
            )?,
            remote_lookups_per_server_per_minute: nonzero_u32(
                "rate.remote_lookups_per_server_per_minute",
                raw.rate.remote_lookups_per_server_per_minute,
            )?,
        };
        let federation = federation(raw.federation)?;
        let skew = Skews {
            registration: positive_secs("skew.registration_secs", raw.skew.registration_secs)?,
            auth: positive_secs("skew.auth_secs", raw.skew.auth_secs)?,
            envelope: positive_secs("skew.envelope_secs", raw.skew.envelope_secs)?,
        };
        let stream = StreamSettings {
            keep_alive: positive_secs("stream.keep_alive_secs", raw.stream.keep_alive_secs)?,
            max_per_handle: nonzero_usize("stream.max_per_handle", raw.stream.max_per_handle)?,
            max_per_address: nonzero_usize("stream.max_per_address", raw.stream.max_per_address)?,
        };
        let retention = Retention {
            max_age: positive_secs("retention.max_age_secs", raw.retention.max_age_secs)?,
            max_per_inbox: NonZeroU64::new(raw.retention.max_per_inbox)
                .ok_or_else(|| invalid("retention.max_per_inbox", "must be at least 1"))?,
            sweep_interval: positive_secs(
                "retention.sweep_interval_secs",
                raw.retention.sweep_interval_secs,
            )?,
        };
        let inbox = InboxPaging {
            page_default: nonzero_u32("inbox.page_default", raw.inbox.page_default)?,
            page_max: nonzero_u32("inbox.page_max", raw.inbox.page_max)?,
            page_max_bytes: nonzero_usize("inbox.page_max_bytes", raw.inbox.page_max_bytes)?,
        };
        if inbox.page_default > inbox.page_max {
            return Err(invalid(
                "inbox.page_default",
                "must not exceed inbox.page_max",
            ));
        }
        // A poll holds the envelopes it read and the page it builds from them at once
        // (handlers::inbox), both against the budget: a budget smaller would refuse every poll.
        if u64::try_from(inbox.page_max_bytes.get())
            .map_or(true, |n| n.saturating_mul(2) > http.max_inflight_bytes)
        {
            return Err(invalid(
                "inbox.page_max_bytes",
                "twice it must fit http.max_inflight_bytes (a poll holds the envelopes and the page)",
            ));
        }
        Ok(Config {
            federation,
            bind,
            server_name,
            public_base_url,
            data_dir,
            database,
            durability,
            broker,
            web_dir,
            trusted_proxies,
            tls,
            log,
            http,
            rate,
            skew,
            stream,
            retention,
            inbox,
        })
    }

    /// The effective configuration in the raw shape: every value explicit, derived ones
    /// included, so printing it gives a file that loads to this same configuration.
    pub fn to_raw(&self) -> RawConfig {
        let path = |p: &PathBuf| p.display().to_string();
        RawConfig {
            bind: self.bind.to_string(),
            server_name: self.server_name.to_string(),
            public_base_url: Some(self.public_base_url.to_string()),
            data_dir: path(&self.data_dir),
            database_url: Some(self.database.to_url()),
            durability: match self.durability {
                Durability::Full => "full",
                Durability::CrashOnly => "crash_only",
            }
            .into(),
            broker_url: match &self.broker {
                BrokerSettings::Local => String::new(),
                BrokerSettings::Nats { url, .. } => url.clone(),
            },
            broker_prefix: match &self.broker {
                BrokerSettings::Local => raw::DEFAULT_BROKER_PREFIX.into(),
                BrokerSettings::Nats { prefix, .. } => prefix.clone(),
            },
            web_dir: self.web_dir.as_ref().map(path),
            trusted_proxies: self.trusted_proxies.iter().map(Cidr::to_string).collect(),
            tls: raw::RawTls {
                cert: self.tls.as_ref().map(|t| path(&t.cert)),
                key: self.tls.as_ref().map(|t| path(&t.key)),
            },
            log: raw::RawLog {
                level: self.log.level.clone(),
                format: match self.log.format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }
                .into(),
            },
            http: raw::RawHttp {
                max_connections: as_u64(self.http.max_connections.get()),
                header_read_timeout_ms: millis(self.http.header_read_timeout),
                max_body_bytes: as_u64(self.http.max_body_bytes.get()),
                max_message_bytes: as_u64(self.http.max_message_bytes.get()),
                drain_timeout_ms: millis(self.http.drain_timeout),
                max_connections_per_address: as_u64(self.http.max_connections_per_address.get()),
                ipv6_prefix_len: self.http.ipv6_prefix_len.into(),
                idle_timeout_ms: millis(self.http.idle_timeout),
                write_timeout_ms: millis(self.http.write_timeout),
                body_timeout_ms: millis(self.http.body_timeout),
                body_min_bytes_per_sec: self.http.body_min_bytes_per_sec,
                max_inflight_bytes: self.http.max_inflight_bytes,
            },
            rate: raw::RawRate {
                client_per_minute: self.rate.client_per_minute.get().into(),
                register_per_hour: self.rate.register_per_hour.get().into(),
                sender_per_minute: self.rate.sender_per_minute.get().into(),
                recipient_per_minute: self.rate.recipient_per_minute.get().into(),
                recipient_strangers_per_minute: self
                    .rate
                    .recipient_strangers_per_minute
                    .get()
                    .into(),
                first_contacts_per_hour: self.rate.first_contacts_per_hour.get().into(),
                origin_per_minute: self.rate.origin_per_minute.get().into(),
                remote_lookups_per_minute: self.rate.remote_lookups_per_minute.get().into(),
                remote_lookups_per_server_per_minute: self
                    .rate
                    .remote_lookups_per_server_per_minute
                    .get()
                    .into(),
            },
            skew: raw::RawSkew {
                registration_secs: self.skew.registration.as_secs(),
                auth_secs: self.skew.auth.as_secs(),
                envelope_secs: self.skew.envelope.as_secs(),
            },
            stream: raw::RawStream {
                keep_alive_secs: self.stream.keep_alive.as_secs(),
                max_per_handle: as_u64(self.stream.max_per_handle.get()),
                max_per_address: as_u64(self.stream.max_per_address.get()),
            },
            retention: raw::RawRetention {
                max_age_secs: self.retention.max_age.as_secs(),
                max_per_inbox: self.retention.max_per_inbox.get(),
                sweep_interval_secs: self.retention.sweep_interval.as_secs(),
            },
            inbox: raw::RawInbox {
                page_default: self.inbox.page_default.get().into(),
                page_max: self.inbox.page_max.get().into(),
                page_max_bytes: as_u64(self.inbox.page_max_bytes.get()),
            },
            federation: self.federation_raw(),
        }
    }

    /// The raw form of the federation section.
    fn federation_raw(&self) -> raw::RawFederation {
        let f = &self.federation;
        raw::RawFederation {
            resolver: f.resolver.map(|a| a.to_string()).unwrap_or_default(),
            extra_roots: f
                .extra_roots
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            allow_private_addresses: f.allow_private_addresses,
            block: f.block.iter().map(ToString::to_string).collect(),
            allow: f.allow.iter().map(ToString::to_string).collect(),
            retry_window_secs: f.retry_window.as_secs(),
            backoff_initial_secs: f.backoff_initial.as_secs(),
            backoff_max_secs: f.backoff_max.as_secs(),
            request_timeout_secs: f.request_timeout.as_secs(),
            max_inflight_txns_per_origin: as_u64(f.max_inflight_txns_per_origin.get()),
            max_inflight_txns: as_u64(f.max_inflight_txns.get()),
            sender_lookup_concurrency: as_u64(f.sender_lookup_concurrency.get()),
        }
    }

    /// The effective configuration as TOML (what `kezd check-config` prints).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        Ok(toml::to_string(&self.to_raw())?)
    }
}

/// Validates `[federation]`.
fn federation(raw: raw::RawFederation) -> Result<Federation, ConfigError> {
    let resolver = match raw.resolver.as_str() {
        "" => None,
        text => Some(
            text.parse()
                .map_err(|_| invalid("federation.resolver", "must be IP:port"))?,
        ),
    };
    let names = |key: &'static str, list: Vec<String>| {
        list.iter()
            .map(|n| {
                ServerName::parse(n)
                    .map_err(|e| invalid(key, format!("{n:?} is not a server name: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let backoff_initial =
        positive_secs("federation.backoff_initial_secs", raw.backoff_initial_secs)?;
    let backoff_max = positive_secs("federation.backoff_max_secs", raw.backoff_max_secs)?;
    if backoff_max < backoff_initial {
        return Err(invalid(
            "federation.backoff_max_secs",
            "must not be less than federation.backoff_initial_secs",
        ));
    }
    Ok(Federation {
        resolver,
        extra_roots: raw
            .extra_roots
            .into_iter()
            .map(|p| non_empty_path("federation.extra_roots", p))
            .collect::<Result<_, _>>()?,
        allow_private_addresses: raw.allow_private_addresses,
        block: names("federation.block", raw.block)?,
        allow: names("federation.allow", raw.allow)?,
        retry_window: positive_secs("federation.retry_window_secs", raw.retry_window_secs)?,
        backoff_initial,
        backoff_max,
        request_timeout: positive_secs(
            "federation.request_timeout_secs",
            raw.request_timeout_secs,
        )?,
        max_inflight_txns_per_origin: nonzero_usize(
            "federation.max_inflight_txns_per_origin",
            raw.max_inflight_txns_per_origin,
        )?,
        max_inflight_txns: nonzero_usize("federation.max_inflight_txns", raw.max_inflight_txns)?,
        sender_lookup_concurrency: nonzero_usize(
            "federation.sender_lookup_concurrency",
            raw.sender_lookup_concurrency,
        )?,
    })
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

fn non_empty_path(key: &'static str, text: String) -> Result<PathBuf, ConfigError> {
    if text.is_empty() {
        Err(invalid(key, "must not be empty"))
    } else {
        Ok(PathBuf::from(text))
    }
}

fn nonzero_u32(key: &'static str, value: u64) -> Result<NonZeroU32, ConfigError> {
    u32::try_from(value)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| invalid(key, format!("must be from 1 to {}", u32::MAX)))
}

fn nonzero_usize(key: &'static str, value: u64) -> Result<NonZeroUsize, ConfigError> {
    usize::try_from(value)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| invalid(key, "must be at least 1 (and fit this machine's usize)"))
}

fn positive_millis(key: &'static str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(Duration::from_millis(value))
}

fn positive_secs(key: &'static str, value: u64) -> Result<Duration, ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(Duration::from_secs(value))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn as_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
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
        assert_eq!(config.public_base_url.as_str(), "http://127.0.0.1:6969");
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
            PublicBaseUrl::parse("https://kez.lat/").map(|u| u.0),
            Ok("https://kez.lat".to_owned())
        );
        assert!(PublicBaseUrl::parse("ftp://kez.lat").is_err());
        assert!(PublicBaseUrl::parse("https://").is_err());
        assert!(PublicBaseUrl::parse("https://kez.lat/?a").is_err());
    }
}
