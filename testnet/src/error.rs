//! The testnet's error types. A test that fails to set up its network must say which node or
//! record failed and why, so every variant carries the name it concerns and, for a node that
//! did not come up, the tail of its log.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Errors of the authoritative DNS server ([`crate::DnsServer`]).
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// Binding or registering the UDP or TCP socket failed.
    #[error("DNS server socket: {0}")]
    Io(#[from] io::Error),
    /// No UDP and TCP port pair could be bound on 127.0.0.1.
    #[error("could not bind UDP and TCP on one port of 127.0.0.1 after {attempts} attempts")]
    NoPort {
        /// How many ports were tried.
        attempts: u32,
    },
    /// The name is not a valid DNS name.
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why the DNS library refused it.
        reason: String,
    },
    /// The name is not inside the zone this server is authoritative for (`test.`).
    #[error("{name:?} is outside the zone {zone}")]
    OutsideZone {
        /// The name as given.
        name: String,
        /// The zone served.
        zone: String,
    },
    /// The zone refused the record (hickory's upsert returned false).
    #[error("the zone refused the record for {name}")]
    Rejected {
        /// The record's owner name.
        name: String,
    },
}

/// Errors of the testnet: CA, configuration, processes and readiness.
#[derive(Debug, thiserror::Error)]
pub enum TestnetError {
    /// A file or directory operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Generating or signing a certificate failed.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The DNS server failed.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// Building the HTTPS client failed.
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// A node name is not a lowercase DNS name under `.test`.
    #[error("invalid node name {0:?}: expected a lowercase DNS name ending in `.test`")]
    InvalidNodeName(String),
    /// The same node name was given twice.
    #[error("node {0} was added twice")]
    DuplicateNode(String),
    /// No node has this name.
    #[error("no node named {0}")]
    UnknownNode(String),
    /// The node's `extra_config` is not valid TOML (or not a table).
    #[error("extra configuration of node {node} is not valid TOML: {reason}")]
    ExtraConfig {
        /// The node.
        node: String,
        /// The parser's message.
        reason: String,
    },
    /// The kezd binary does not exist and could not be built.
    #[error("kezd binary {path}: {reason}")]
    KezdBinary {
        /// Where it was looked for.
        path: PathBuf,
        /// Why it is unusable.
        reason: String,
    },
    /// Spawning the kezd process failed.
    #[error("spawning kezd for node {node}: {source}")]
    Spawn {
        /// The node.
        node: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The node's process exited while it was expected to come up.
    #[error("node {node} exited during start-up ({status}); log tail:\n{log_tail}")]
    NodeExited {
        /// The node.
        node: String,
        /// The exit status.
        status: String,
        /// The last lines of its log.
        log_tail: String,
    },
    /// The node did not answer `GET /v1/healthz` in time.
    #[error(
        "node {node} did not answer GET /v1/healthz within {waited:?} (last error: {last_error}); \
         log tail:\n{log_tail}"
    )]
    NodeNotReady {
        /// The node.
        node: String,
        /// How long the testnet waited.
        waited: Duration,
        /// The last failure of the health check.
        last_error: String,
        /// The last lines of its log.
        log_tail: String,
    },
    /// The node is not running (killed or stopped) when a running node was needed.
    #[error("node {0} is not running")]
    NotRunning(String),
    /// The rogue peer could not be set up or could not do what was asked.
    #[error("rogue peer: {0}")]
    Rogue(String),
    /// Sending a signal to the node's process failed.
    #[error("signalling node {node}: {source}")]
    Signal {
        /// The node.
        node: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl TestnetError {
    /// An [`TestnetError::Io`] with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
