//! Every error a client can receive, as one enum with structured fields, and the one mapping
//! of each to its stable code and HTTP status (SPEC §10). Clients match on the code, never on
//! the message; internal details stay in the log. The response itself is written by
//! [`crate::error_response`], so this module knows nothing of bodies.

use std::time::Duration;

use http::{Method, StatusCode};

use crate::budget::{OverBudget, Scope};
use crate::store::StoreError;

/// Who made a request whose signature or timestamp failed: SPEC §10 answers a client with 400
/// and a peer server with 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A client of this server.
    Client,
    /// Another server, over federation (SPEC §9.3).
    Server,
}

/// An error answered to a client. Each variant is one SPEC §10 code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is not what the endpoint accepts (syntax, fields, parameters).
    #[error("malformed request: {reason}")]
    MalformedRequest {
        /// What is wrong, for the client's developer.
        reason: String,
    },
    /// A JSON object repeats a member name (SPEC §3.3).
    #[error("duplicate JSON member {member:?}")]
    DuplicateMember {
        /// The repeated name.
        member: String,
    },
    /// A handle breaks the grammar of SPEC §2.1.
    #[error("invalid handle: {reason}")]
    InvalidHandle {
        /// Which rule.
        reason: String,
    },
    /// A handle on the reserved list (SPEC §2.1).
    #[error("handle {handle:?} is reserved")]
    HandleReserved {
        /// The handle.
        handle: String,
    },
    /// A server name breaks SPEC §2.2.
    #[error("invalid server name: {reason}")]
    InvalidServerName {
        /// Which rule.
        reason: String,
    },
    /// A primary key breaks SPEC §2.3.
    #[error("invalid primary: {reason}")]
    InvalidPrimary {
        /// Which rule.
        reason: String,
    },
    /// An address breaks SPEC §2.4.
    #[error("invalid address: {reason}")]
    InvalidAddress {
        /// Which rule.
        reason: String,
    },
    /// The `signature` object is not of the SPEC §3.1 shape.
    #[error("malformed signature: {reason}")]
    MalformedSignature {
        /// What is wrong.
        reason: String,
    },
    /// A signature algorithm other than ed25519 (SPEC §3.5).
    #[error("unsupported signature algorithm {alg:?}")]
    UnsupportedAlg {
        /// The algorithm named.
        alg: String,
    },
    /// The signature does not verify (SPEC §3.4).
    #[error("invalid signature")]
    InvalidSignature {
        /// Decides the status: 400 for clients, 401 for servers.
        caller: Caller,
    },
    /// A timestamp outside the accepted window.
    #[error("timestamp {ts} is outside the accepted window around {now}")]
    StaleTimestamp {
        /// Decides the status: 400 for clients, 401 for servers.
        caller: Caller,
        /// The timestamp received.
        ts: u64,
        /// This server's clock, same unit.
        now: u64,
    },
    /// A `server` or `from` that names another server.
    #[error("this is {this}, not {named}")]
    WrongServer {
        /// This server's name.
        this: String,
        /// The name in the request.
        named: String,
    },
    /// An envelope version other than 1 (SPEC §1.1).
    #[error("unsupported protocol version {version}")]
    UnsupportedVersion {
        /// The version given, as text (it may not even be a number).
        version: String,
    },
    /// The stream was opened without `auth` (SPEC §7.1).
    #[error("missing auth")]
    MissingAuth,
    /// Client request authentication failed. The message never says why (SPEC §7.1: no
    /// oracle); the reason is for the log only.
    #[error("unauthorized")]
    Unauthorized {
        /// Why, for the log.
        reason: &'static str,
    },
    /// A server-to-server request without a well-formed `Authorization` (SPEC §9.3).
    #[error("server authorization missing or malformed: {reason}")]
    S2sUnauthorized {
        /// What is wrong.
        reason: String,
    },
    /// A server-to-server request addressed to another server.
    #[error("request is for {destination}, not this server")]
    WrongDestination {
        /// The destination named.
        destination: String,
    },
    /// A server key that the origin does not publish (or no longer validly).
    #[error("unknown server key {key_id}")]
    UnknownKey {
        /// The key id named.
        key_id: String,
    },
    /// The sender is not registered with the primary the envelope names.
    #[error("unknown sender {sender}")]
    UnknownSender {
        /// The sender address.
        sender: String,
    },
    /// The account is suspended by this server's operator (SPEC §8.8): its own requests are
    /// refused until the suspension is lifted.
    #[error("account {handle} is suspended")]
    AccountSuspended {
        /// The suspended handle.
        handle: String,
    },
    /// The origin server is blocked by this server's operator.
    #[error("origin {origin} is blocked")]
    OriginBlocked {
        /// The origin.
        origin: String,
    },
    /// A federated envelope whose sender is not of the sending server.
    #[error("sender {sender} is not of origin {origin}")]
    SenderNotOfOrigin {
        /// The sender address.
        sender: String,
        /// The origin server.
        origin: String,
    },
    /// No route has this path.
    #[error("no such resource")]
    NotFound,
    /// No user has this handle.
    #[error("unknown handle {handle:?}")]
    UnknownHandle {
        /// The handle.
        handle: String,
    },
    /// No user has this primary.
    #[error("unknown primary {primary}")]
    UnknownPrimary {
        /// The primary.
        primary: String,
    },
    /// The recipient of a send does not exist.
    #[error("unknown recipient {recipient}")]
    UnknownRecipient {
        /// The recipient.
        recipient: String,
    },
    /// The account was deleted (SPEC §4.7): lookups of its handle while the handle is held,
    /// of its primary for good, and messages to it.
    #[error("the account {what} was deleted")]
    AccountDeleted {
        /// The handle, address or primary asked about.
        what: String,
    },
    /// A deletion was signed by a primary other than the handle's registered one (SPEC §4.7).
    #[error("handle {handle:?} is registered with another primary")]
    PrimaryMismatch {
        /// The handle.
        handle: String,
    },
    /// No message has this id.
    #[error("unknown message {id}")]
    UnknownMessage {
        /// The id.
        id: String,
    },
    /// The path exists, the method does not. The response carries `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the path accepts.
        allow: Vec<Method>,
    },
    /// This server registers nobody new (SPEC §4.1 check 10).
    #[error("this server is closed to new registrations")]
    RegistrationClosed,
    /// This server registers only with an invitation token, and none was sent (SPEC §4.1
    /// check 10).
    #[error("this server needs an invitation token (header KEZ-Registration-Token)")]
    RegistrationTokenRequired,
    /// The invitation token sent is not one this server can accept now (SPEC §4.1 check 10).
    #[error("the registration token is not valid (unknown, revoked, expired or used up)")]
    RegistrationTokenInvalid,
    /// The handle is registered already.
    #[error("handle {handle:?} is taken")]
    HandleTaken {
        /// The handle.
        handle: String,
    },
    /// The primary is registered already.
    #[error("primary {primary} is taken")]
    PrimaryTaken {
        /// The primary.
        primary: String,
    },
    /// The body exceeds the route's limit; reading stopped at the limit.
    #[error("body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The route's limit in bytes.
        limit: usize,
    },
    /// The body did not arrive by its deadline or fell under the minimum rate
    /// ([`crate::request_body`]). The connection is closed after the answer: its unread rest
    /// cannot be skipped.
    #[error("the request body did not arrive in time: {received} bytes in {waited:?}")]
    RequestTimeout {
        /// Body bytes received before the deadline.
        received: usize,
        /// Time spent waiting for them.
        waited: Duration,
    },
    /// A rate limit was reached. The response carries `Retry-After`.
    #[error("rate limited by the {limit} limit; retry after {retry_after:?}")]
    RateLimited {
        /// Which limit, for the log and the message.
        limit: &'static str,
        /// How long until a request can succeed.
        retry_after: Duration,
    },
    /// This server has as much of this kind of work in flight as it takes on (SPEC §13.6);
    /// the response carries `Retry-After`.
    #[error("overloaded: {what}; retry after {retry_after:?}")]
    Overloaded {
        /// What is full, for the log and the message.
        what: &'static str,
        /// When to come back.
        retry_after: Duration,
    },
    /// This server failed; the details are logged, the client sees none.
    #[error("internal error: {detail}")]
    Internal {
        /// What failed, for the log.
        detail: String,
    },
    /// The store failed; mapped by variant in [`From<StoreError>`].
    #[error("store failed")]
    Store(#[source] StoreError),
    /// This server cannot serve now (shutting down, store closed); retrying later may work.
    #[error("service unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl ApiError {
    /// Shorthand for [`ApiError::MalformedRequest`].
    pub fn malformed(reason: impl Into<String>) -> Self {
        ApiError::MalformedRequest {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`ApiError::Internal`].
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::Internal {
            detail: detail.into(),
        }
    }

    /// The stable machine-readable code (SPEC §10).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedRequest { .. } => "malformed_request",
            ApiError::DuplicateMember { .. } => "duplicate_member",
            ApiError::InvalidHandle { .. } => "invalid_handle",
            ApiError::HandleReserved { .. } => "handle_reserved",
            ApiError::InvalidServerName { .. } => "invalid_server_name",
            ApiError::InvalidPrimary { .. } => "invalid_primary",
            ApiError::InvalidAddress { .. } => "invalid_address",
            ApiError::MalformedSignature { .. } => "malformed_signature",
            ApiError::UnsupportedAlg { .. } => "unsupported_alg",
            ApiError::InvalidSignature { .. } => "invalid_signature",
            ApiError::StaleTimestamp { .. } => "stale_timestamp",
            ApiError::WrongServer { .. } => "wrong_server",
            ApiError::UnsupportedVersion { .. } => "unsupported_version",
            ApiError::MissingAuth => "missing_auth",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::S2sUnauthorized { .. } => "s2s_unauthorized",
            ApiError::WrongDestination { .. } => "wrong_destination",
            ApiError::UnknownKey { .. } => "unknown_key",
            ApiError::UnknownSender { .. } => "unknown_sender",
            ApiError::AccountSuspended { .. } => "account_suspended",
            ApiError::OriginBlocked { .. } => "origin_blocked",
            ApiError::SenderNotOfOrigin { .. } => "sender_not_of_origin",
            ApiError::NotFound => "not_found",
            ApiError::UnknownHandle { .. } => "unknown_handle",
            ApiError::UnknownPrimary { .. } => "unknown_primary",
            ApiError::UnknownRecipient { .. } => "unknown_recipient",
            ApiError::UnknownMessage { .. } => "unknown_message",
            ApiError::AccountDeleted { .. } => "account_deleted",
            ApiError::PrimaryMismatch { .. } => "primary_mismatch",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::RegistrationClosed => "registration_closed",
            ApiError::RegistrationTokenRequired => "registration_token_required",
            ApiError::RegistrationTokenInvalid => "registration_token_invalid",
            ApiError::HandleTaken { .. } => "handle_taken",
            ApiError::PrimaryTaken { .. } => "primary_taken",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::Internal { .. } => "internal",
            ApiError::Store(e) => match e {
                StoreError::HandleTaken { .. } => "handle_taken",
                StoreError::PrimaryTaken { .. } => "primary_taken",
                StoreError::UnknownRecipient { .. } => "unknown_recipient",
                StoreError::NotRegistered { .. } => "unknown_handle",
                StoreError::PrimaryMismatch { .. } => "primary_mismatch",
                // A closed store or a failed group commit stored nothing: retrying may work.
                StoreError::Closed | StoreError::BatchFailed(_) => "unavailable",
                _ => "internal",
            },
            ApiError::Unavailable { .. } => "unavailable",
        }
    }

    /// The HTTP status of [`code`](Self::code).
    pub fn status(&self) -> StatusCode {
        match self.code() {
            "invalid_signature" | "stale_timestamp" => match self {
                ApiError::InvalidSignature {
                    caller: Caller::Server,
                }
                | ApiError::StaleTimestamp {
                    caller: Caller::Server,
                    ..
                } => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            },
            "unauthorized" | "s2s_unauthorized" | "wrong_destination" | "unknown_key" => {
                StatusCode::UNAUTHORIZED
            }
            "unknown_sender"
            | "account_suspended"
            | "origin_blocked"
            | "sender_not_of_origin"
            | "primary_mismatch"
            | "registration_closed"
            | "registration_token_required"
            | "registration_token_invalid" => StatusCode::FORBIDDEN,
            "account_deleted" => StatusCode::GONE,
            "not_found" | "unknown_handle" | "unknown_primary" | "unknown_recipient"
            | "unknown_message" => StatusCode::NOT_FOUND,
            "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
            "handle_taken" | "primary_taken" => StatusCode::CONFLICT,
            "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "request_timeout" => StatusCode::REQUEST_TIMEOUT,
            "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
            "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            "unavailable" | "overloaded" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The text for the client: the error's display, except for server failures, whose
    /// details are for the log only.
    pub fn public_message(&self) -> String {
        match self.code() {
            "internal" => "internal server error".to_owned(),
            "unavailable" => "service unavailable, retry later".to_owned(),
            _ => match self {
                ApiError::Store(e) => e.to_string(),
                other => other.to_string(),
            },
        }
    }
}

impl From<OverBudget> for ApiError {
    fn from(refused: OverBudget) -> Self {
        match refused.scope {
            Scope::Total => ApiError::Unavailable {
                reason: refused.to_string(),
            },
            // The client's own requests in flight fill its share; they end within the body
            // deadline or as they are written.
            Scope::Client => ApiError::RateLimited {
                limit: "in-flight bytes per address",
                retry_after: UNAVAILABLE_RETRY_AFTER,
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Refused(refusal) => ApiError::RateLimited {
                limit: refusal.limit,
                retry_after: refusal.retry_after,
            },
            // One code for every reason, so a guesser learns nothing; the log has the reason.
            StoreError::TokenRefused(refusal) => {
                tracing::info!(%refusal, "registration token refused");
                ApiError::RegistrationTokenInvalid
            }
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    /// A protocol rejection from kez-spec, answered to `caller` (which decides the status of
    /// signature and timestamp failures, SPEC §10).
    pub fn from_spec(error: kez_spec::Error, caller: Caller) -> Self {
        use kez_spec::Error as E;
        match error {
            E::Malformed(reason) => ApiError::MalformedRequest { reason },
            E::DuplicateMember(member) => ApiError::DuplicateMember { member },
            E::InvalidHandle(reason) => ApiError::InvalidHandle {
                reason: reason.into(),
            },
            E::HandleReserved(handle) => ApiError::HandleReserved { handle },
            E::InvalidServerName(reason) => ApiError::InvalidServerName {
                reason: reason.into(),
            },
            E::InvalidPrimary(reason) => ApiError::InvalidPrimary {
                reason: reason.into(),
            },
            E::InvalidAddress(reason) => ApiError::InvalidAddress {
                reason: reason.into(),
            },
            e @ (E::InvalidKeyId | E::InvalidMessageId) => ApiError::malformed(e.to_string()),
            E::MalformedSignature(reason) => ApiError::MalformedSignature {
                reason: reason.into(),
            },
            E::UnsupportedAlg(alg) => ApiError::UnsupportedAlg { alg },
            E::InvalidSignature => ApiError::InvalidSignature { caller },
            E::StaleTimestamp { ts, now } => ApiError::StaleTimestamp { caller, ts, now },
            E::WrongServer { expected, got } => ApiError::WrongServer {
                this: expected,
                named: got,
            },
            E::UnsupportedVersion(v) => ApiError::UnsupportedVersion {
                version: v.to_string(),
            },
            E::Unauthorized => ApiError::Unauthorized {
                reason: "credential rejected",
            },
            E::S2sUnauthorized(reason) => ApiError::S2sUnauthorized {
                reason: reason.into(),
            },
            E::WrongDestination { got } => ApiError::WrongDestination { destination: got },
            // Servers never open envelopes; if this reaches a response it is a bug.
            E::DecryptFailed => ApiError::internal("decryption attempted on the server"),
        }
    }
}

/// Client-facing conversion: handlers serve clients unless they say otherwise.
impl From<kez_spec::Error> for ApiError {
    fn from(error: kez_spec::Error) -> Self {
        ApiError::from_spec(error, Caller::Client)
    }
}

impl From<std::convert::Infallible> for ApiError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// What every 503 asks a client to wait (SPEC §10): a full store, a budget or a shutdown
/// clears in seconds, and a client of a cluster reaches another instance at once.
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(2);

/// Whole seconds for `Retry-After`, rounded up and at least 1: a client that waits exactly
/// this long must not be refused again for a fraction of a second.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
pub(crate) mod tests;
