//! The raw configuration: the TOML shape with the built-in defaults, plain types only. It is
//! what the merged layers deserialize into and what `check-config` prints back, so the printed
//! text is itself a valid configuration file.

use serde::{Deserialize, Serialize};

/// Every key as written in TOML. Field names match `keys::KEYS` exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    /// Address and port to listen on.
    pub bind: String,
    /// This server's name (SPEC §2.2).
    pub server_name: String,
    /// The URL clients reach this server at; derived when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_base_url: Option<String>,
    /// Where the embedded database lives.
    pub data_dir: String,
    /// The database; derived from `data_dir` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `full` or `crash_only`.
    pub durability: String,
    /// The PostgreSQL connection pool.
    pub database: RawDatabase,
    /// NATS server URLs for the live fanout; empty for the in-process broker.
    pub broker_url: String,
    /// The NATS subject prefix: subjects are `<prefix>.inbox.<handle>`.
    pub broker_prefix: String,
    /// The browser app's directory, if served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_dir: Option<String>,
    /// Proxies whose forwarded-for headers are believed.
    pub trusted_proxies: Vec<String>,
    /// Certificate and key files.
    pub tls: RawTls,
    /// Log level and format.
    pub log: RawLog,
    /// Connection and body limits, timeouts.
    pub http: RawHttp,
    /// Spam limits (SPEC §11).
    pub rate: RawRate,
    /// Clock skew windows.
    pub skew: RawSkew,
    /// The live stream.
    pub stream: RawStream,
    /// Inbox retention (SPEC §8.4).
    pub retention: RawRetention,
    /// Inbox paging (SPEC §8.2).
    pub inbox: RawInbox,
    /// Federation (SPEC §9).
    pub federation: RawFederation,
    /// Who may register (SPEC §4.1).
    pub registration: RawRegistration,
}

/// `[registration]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRegistration {
    /// `open`, `token` or `closed`; derived from `server_name` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Handles reserved besides SPEC §2.1's list.
    pub reserved_handles: Vec<String>,
}

/// `[federation]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawFederation {
    /// DNS server `IP:port` for discovery; empty for the system resolver.
    pub resolver: String,
    /// PEM CA files trusted besides the system roots.
    pub extra_roots: Vec<String>,
    /// Whether peers may be at any loopback or private address (the SSRF guard off).
    pub allow_private_addresses: bool,
    /// IPs or CIDR networks of loopback or private addresses peers may be at; the rest of the
    /// forbidden ranges stay forbidden.
    pub allowed_private_addresses: Vec<String>,
    /// Server names refused as origins and not delivered to.
    pub block: Vec<String>,
    /// When non-empty, the only server names federated with.
    pub allow: Vec<String>,
    /// Seconds after which an undelivered message fails.
    pub retry_window_secs: u64,
    /// First retry delay in seconds.
    pub backoff_initial_secs: u64,
    /// Longest retry delay in seconds.
    pub backoff_max_secs: u64,
    /// Total timeout of one outbound request, in seconds.
    pub request_timeout_secs: u64,
    /// Transactions one origin may have in flight here at once.
    pub max_inflight_txns_per_origin: u64,
    /// Transactions all origins together may have in flight here at once.
    pub max_inflight_txns: u64,
    /// Sender look-ups one transaction runs at once.
    pub sender_lookup_concurrency: u64,
}

impl Default for RawFederation {
    fn default() -> Self {
        RawFederation {
            resolver: String::new(),
            extra_roots: Vec::new(),
            allow_private_addresses: false,
            allowed_private_addresses: Vec::new(),
            block: Vec::new(),
            allow: Vec::new(),
            retry_window_secs: 3 * 24 * 3600,
            backoff_initial_secs: 30,
            backoff_max_secs: 3600,
            request_timeout_secs: 30,
            max_inflight_txns_per_origin: 4,
            max_inflight_txns: 32,
            sender_lookup_concurrency: 8,
        }
    }
}

/// `[tls]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// PEM private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawLog {
    /// A tracing filter directive (`info`, `kezd=debug,info`).
    pub level: String,
    /// `text` or `json`.
    pub format: String,
    /// Whether log lines name client addresses.
    pub client_addresses: bool,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawHttp {
    /// Open connections at most.
    pub max_connections: u64,
    /// Time allowed for a request head (and the TLS handshake before it).
    pub header_read_timeout_ms: u64,
    /// Body limit of every route without its own.
    pub max_body_bytes: u64,
    /// Body limit of `POST /v1/messages` (SPEC §6.5).
    pub max_message_bytes: u64,
    /// Time in-flight requests get to finish at shutdown.
    pub drain_timeout_ms: u64,
    /// Open connections per client address (IPv6: per `ipv6_prefix_len` network).
    pub max_connections_per_address: u64,
    /// Leading bits of an IPv6 client address counted as one address.
    pub ipv6_prefix_len: u64,
    /// Time a connection with no request in progress stays open (HTTP/1 and HTTP/2).
    pub idle_timeout_ms: u64,
    /// Time a connection may make no write progress before it is closed.
    pub write_timeout_ms: u64,
    /// Time a request body gets to arrive, from when kezd starts reading it.
    pub body_timeout_ms: u64,
    /// Slowest average rate a request body may arrive at after a short grace; 0 for none.
    pub body_min_bytes_per_sec: u64,
    /// Request and response bytes held in memory at once, all connections together.
    pub max_inflight_bytes: u64,
    /// The part of it one client address may hold (IPv6 grouped by `ipv6_prefix_len`).
    pub max_inflight_bytes_per_address: u64,
}

/// `[database]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawDatabase {
    /// The most PostgreSQL connections this instance holds at once.
    pub max_connections: u64,
}

impl Default for RawDatabase {
    fn default() -> Self {
        RawDatabase {
            max_connections: 16,
        }
    }
}

/// `[rate]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRate {
    /// Requests per client address per minute, every route.
    pub client_per_minute: u64,
    /// Registrations per client address per hour.
    pub register_per_hour: u64,
    /// Sends per sender per minute.
    pub sender_per_minute: u64,
    /// Messages per recipient per minute from its contacts.
    pub recipient_per_minute: u64,
    /// Messages per recipient per minute from senders it has not written to.
    pub recipient_strangers_per_minute: u64,
    /// New conversations per sender per hour.
    pub first_contacts_per_hour: u64,
    /// Envelopes per minute accepted from one origin server.
    pub origin_per_minute: u64,
    /// Outbound look-ups made on a client's word, per client address per minute.
    pub remote_lookups_per_minute: u64,
    /// Outbound look-ups made on a client's word, per destination host per minute.
    pub remote_lookups_per_server_per_minute: u64,
    /// How many kezd instances share this configuration's quotas (each counts on its own).
    pub cluster_instances: u64,
}

/// `[skew]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawSkew {
    /// Registration `ts` window.
    pub registration_secs: u64,
    /// Request-auth `ts` window.
    pub auth_secs: u64,
    /// Envelope `ts` window.
    pub envelope_secs: u64,
}

/// `[stream]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawStream {
    /// Interval of SSE keep-alive comments.
    pub keep_alive_secs: u64,
    /// Live streams open at once per handle.
    pub max_per_handle: u64,
    /// Live streams open at once per client address.
    pub max_per_address: u64,
}

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawRetention {
    /// Oldest message kept.
    pub max_age_secs: u64,
    /// Newest messages kept per inbox.
    pub max_per_inbox: u64,
    /// How often retention runs.
    pub sweep_interval_secs: u64,
}

/// `[inbox]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawInbox {
    /// Page size without `limit`.
    pub page_default: u64,
    /// Largest page; larger `limit`s are capped.
    pub page_max: u64,
    /// Largest page body in bytes (at least one message is always returned).
    pub page_max_bytes: u64,
}

/// The subject prefix of the prototype's `kez.chat.inbox.<handle>`.
pub const DEFAULT_BROKER_PREFIX: &str = "kez.chat";

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            bind: "127.0.0.1:6969".into(),
            server_name: "localhost:6969".into(),
            public_base_url: None,
            data_dir: "./data".into(),
            database_url: None,
            durability: "full".into(),
            database: RawDatabase::default(),
            broker_url: String::new(),
            broker_prefix: DEFAULT_BROKER_PREFIX.into(),
            web_dir: None,
            trusted_proxies: Vec::new(),
            tls: RawTls::default(),
            log: RawLog::default(),
            http: RawHttp::default(),
            rate: RawRate::default(),
            skew: RawSkew::default(),
            stream: RawStream::default(),
            retention: RawRetention::default(),
            inbox: RawInbox::default(),
            federation: RawFederation::default(),
            registration: RawRegistration::default(),
        }
    }
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: "info".into(),
            format: "text".into(),
            client_addresses: true,
        }
    }
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            // Well under the 20,000 open files a process may hold here, leaving room for the
            // database, federation clients and log files.
            max_connections: 10_000,
            header_read_timeout_ms: 10_000,
            // SPEC §6.5: one limit for every client request body, published as
            // `max_body_bytes`.
            max_body_bytes: 262_144,
            max_message_bytes: 262_144,
            drain_timeout_ms: 10_000,
            // An office or a carrier-grade NAT puts many honest clients behind one address;
            // 256 is far above what one person's devices open (a browser opens at most 6 per
            // host over HTTP/1.1) and far below `max_connections`, so one address can hold
            // at most 1/40 of the server.
            max_connections_per_address: 256,
            // A /64 is the smallest network an ISP assigns to one subscriber (RFC 6177): a
            // single client can use any of its 2^64 addresses.
            ipv6_prefix_len: 64,
            idle_timeout_ms: 60_000,
            write_timeout_ms: 30_000,
            // 256 KiB (the largest message) in 60 s is 35 kbit/s: a phone on a poor 2G link
            // still gets a message through, and a slow body holds its slot a minute at most.
            body_timeout_ms: 60_000,
            // A trickler is cut off after a few seconds; an honest client is far faster, and
            // the rate is an average since the read began, so a stall that catches up passes.
            body_min_bytes_per_sec: 1024,
            // A thousand largest messages or 32 largest transactions at once, far above an
            // honest load, and small enough for a 1 GB machine to stay up under any flood.
            max_inflight_bytes: 256 * 1024 * 1024,
            // An eighth: a party on one address must take eight to fill the budget, and a
            // peer server still fits four largest transactions at once (its share of
            // `federation.max_inflight_txns_per_origin`).
            max_inflight_bytes_per_address: 32 * 1024 * 1024,
        }
    }
}

impl Default for RawRate {
    fn default() -> Self {
        RawRate {
            client_per_minute: 600,
            register_per_hour: 10,
            sender_per_minute: 120,
            recipient_per_minute: 600,
            recipient_strangers_per_minute: 60,
            first_contacts_per_hour: 100,
            origin_per_minute: 6000,
            remote_lookups_per_minute: 30,
            remote_lookups_per_server_per_minute: 60,
            cluster_instances: 1,
        }
    }
}

impl Default for RawSkew {
    fn default() -> Self {
        RawSkew {
            registration_secs: 300,
            auth_secs: 60,
            envelope_secs: 300,
        }
    }
}

impl Default for RawStream {
    fn default() -> Self {
        RawStream {
            keep_alive_secs: 15,
            // A person's devices and tabs; more is a leak or an attack.
            max_per_handle: 8,
            max_per_address: 64,
        }
    }
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            max_age_secs: 30 * 24 * 3600,
            max_per_inbox: 10_000,
            sweep_interval_secs: 3600,
        }
    }
}

impl Default for RawInbox {
    fn default() -> Self {
        RawInbox {
            page_default: 100,
            page_max: 500,
            // Four near-limit envelopes (SPEC §6.5: 256 KiB each), or hundreds of ordinary
            // ones: the page a client holds in memory stays small whatever `limit` says.
            page_max_bytes: 1_048_576,
        }
    }
}
