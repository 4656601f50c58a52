//! One error enum for everything the protocol can reject (SPEC §10), each variant with a stable
//! machine-readable code. Callers match on variants or `code()`, never on display text.

/// A protocol-level rejection. `code()` is the stable SPEC §10 code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not the JSON (or text) the spec requires: syntax, types, missing members,
    /// trailing bytes, out-of-range numbers.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// A JSON object repeats a member name (SPEC §3.3).
    #[error("duplicate member {0:?}")]
    DuplicateMember(String),
    /// A handle breaks the grammar of SPEC §2.1.
    #[error("invalid handle: {0}")]
    InvalidHandle(&'static str),
    /// A handle is on the reserved list of SPEC §2.1.
    #[error("the handle {0:?} is reserved")]
    HandleReserved(String),
    /// A server name breaks SPEC §2.2.
    #[error("invalid server name: {0}")]
    InvalidServerName(&'static str),
    /// A primary breaks SPEC §2.3.
    #[error("invalid primary: {0}")]
    InvalidPrimary(&'static str),
    /// An address breaks SPEC §2.4.
    #[error("invalid address: {0}")]
    InvalidAddress(&'static str),
    /// A server key id breaks SPEC §2.5.
    #[error("invalid key id")]
    InvalidKeyId,
    /// A message id is not 64 lowercase hex characters (SPEC §2.6).
    #[error("invalid message id")]
    InvalidMessageId,
    /// The `signature` member is missing or has the wrong shape (SPEC §3.1).
    #[error("malformed signature: {0}")]
    MalformedSignature(&'static str),
    /// `signature.alg` names a suite v1 does not support (SPEC §3.5).
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlg(String),
    /// The signature does not verify under SPEC §3.4's rule.
    #[error("signature does not verify")]
    InvalidSignature,
    /// A timestamp is outside its window (SPEC §4.1, §6.1, §9.3).
    #[error("timestamp {ts} is outside the allowed window around {now}")]
    StaleTimestamp {
        /// The timestamp received.
        ts: u64,
        /// The receiver's clock, same unit.
        now: u64,
    },
    /// An object names a server other than the one checking it.
    #[error("wrong server: expected {expected}, got {got}")]
    WrongServer {
        /// This server's name.
        expected: String,
        /// The name found in the object.
        got: String,
    },
    /// An envelope's `v` is not a version this implementation speaks (SPEC §1.1).
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u64),
    /// A client credential failed (SPEC §7.1). Deliberately carries no detail for the client.
    #[error("unauthorized")]
    Unauthorized,
    /// A server-to-server Authorization header is missing or malformed (SPEC §9.3).
    #[error("malformed server authorization: {0}")]
    S2sUnauthorized(&'static str),
    /// A server-to-server request was addressed to another server (SPEC §9.3).
    #[error("request addressed to {got}, not to this server")]
    WrongDestination {
        /// The destination the request named.
        got: String,
    },
    /// A ciphertext cannot be opened: truncated, tampered, wrong key or wrong nonce (SPEC §6.2).
    #[error("ciphertext cannot be decrypted")]
    DecryptFailed,
}

impl Error {
    /// The stable SPEC §10 code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed_request",
            Error::DuplicateMember(_) => "duplicate_member",
            Error::InvalidHandle(_) => "invalid_handle",
            Error::HandleReserved(_) => "handle_reserved",
            Error::InvalidServerName(_) => "invalid_server_name",
            Error::InvalidPrimary(_) => "invalid_primary",
            Error::InvalidAddress(_) => "invalid_address",
            Error::InvalidKeyId => "malformed_request",
            Error::InvalidMessageId => "malformed_request",
            Error::MalformedSignature(_) => "malformed_signature",
            Error::UnsupportedAlg(_) => "unsupported_alg",
            Error::InvalidSignature => "invalid_signature",
            Error::StaleTimestamp { .. } => "stale_timestamp",
            Error::WrongServer { .. } => "wrong_server",
            Error::UnsupportedVersion(_) => "unsupported_version",
            Error::Unauthorized => "unauthorized",
            Error::S2sUnauthorized(_) => "s2s_unauthorized",
            Error::WrongDestination { .. } => "wrong_destination",
            Error::DecryptFailed => "decrypt_failed",
        }
    }

    /// Shorthand for [`Error::Malformed`].
    pub fn malformed(what: impl Into<String>) -> Self {
        Error::Malformed(what.into())
    }
}
