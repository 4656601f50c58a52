//! Every SPEC §10 code kezd answers, each with the status §10's table gives it: the table other
//! modules' tests reuse (`every_code`), and the checks that codes and statuses agree.

use super::*;

/// One error per SPEC §10 row, with the status the table gives it.
pub(crate) fn every_code() -> Vec<(ApiError, &'static str, u16)> {
    [
        malformed_requests(),
        refused_credentials(),
        missing_things(),
        conflicts_and_failures(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The 400s of malformed requests and signatures.
fn malformed_requests() -> Vec<(ApiError, &'static str, u16)> {
    let s = String::new;
    vec![
        (ApiError::malformed("x"), "malformed_request", 400),
        (
            ApiError::DuplicateMember { member: s() },
            "duplicate_member",
            400,
        ),
        (
            ApiError::InvalidHandle { reason: s() },
            "invalid_handle",
            400,
        ),
        (
            ApiError::HandleReserved { handle: s() },
            "handle_reserved",
            400,
        ),
        (
            ApiError::InvalidServerName { reason: s() },
            "invalid_server_name",
            400,
        ),
        (
            ApiError::InvalidPrimary { reason: s() },
            "invalid_primary",
            400,
        ),
        (
            ApiError::InvalidAddress { reason: s() },
            "invalid_address",
            400,
        ),
        (
            ApiError::MalformedSignature { reason: s() },
            "malformed_signature",
            400,
        ),
        (
            ApiError::UnsupportedAlg { alg: s() },
            "unsupported_alg",
            400,
        ),
        (
            ApiError::InvalidSignature {
                caller: Caller::Client,
            },
            "invalid_signature",
            400,
        ),
        (
            ApiError::InvalidSignature {
                caller: Caller::Server,
            },
            "invalid_signature",
            401,
        ),
        (
            ApiError::StaleTimestamp {
                caller: Caller::Client,
                ts: 0,
                now: 0,
            },
            "stale_timestamp",
            400,
        ),
        (
            ApiError::StaleTimestamp {
                caller: Caller::Server,
                ts: 0,
                now: 0,
            },
            "stale_timestamp",
            401,
        ),
        (
            ApiError::WrongServer {
                this: s(),
                named: s(),
            },
            "wrong_server",
            400,
        ),
        (
            ApiError::UnsupportedVersion { version: s() },
            "unsupported_version",
            400,
        ),
    ]
}

/// Refused credentials and senders.
fn refused_credentials() -> Vec<(ApiError, &'static str, u16)> {
    let s = String::new;
    vec![
        (ApiError::MissingAuth, "missing_auth", 400),
        (ApiError::Unauthorized { reason: "x" }, "unauthorized", 401),
        (
            ApiError::S2sUnauthorized { reason: s() },
            "s2s_unauthorized",
            401,
        ),
        (
            ApiError::WrongDestination { destination: s() },
            "wrong_destination",
            401,
        ),
        (ApiError::UnknownKey { key_id: s() }, "unknown_key", 401),
        (
            ApiError::UnknownSender { sender: s() },
            "unknown_sender",
            403,
        ),
        (
            ApiError::AccountSuspended { handle: s() },
            "account_suspended",
            403,
        ),
        (
            ApiError::OriginBlocked { origin: s() },
            "origin_blocked",
            403,
        ),
        (
            ApiError::SenderNotOfOrigin {
                sender: s(),
                origin: s(),
            },
            "sender_not_of_origin",
            403,
        ),
        (ApiError::RegistrationClosed, "registration_closed", 403),
        (
            ApiError::RegistrationTokenRequired,
            "registration_token_required",
            403,
        ),
        (
            ApiError::RegistrationTokenInvalid,
            "registration_token_invalid",
            403,
        ),
        (
            StoreError::TokenRefused(crate::store::TokenRefusal::Expired).into(),
            "registration_token_invalid",
            403,
        ),
    ]
}

/// What does not exist or is not allowed.
fn missing_things() -> Vec<(ApiError, &'static str, u16)> {
    let s = String::new;
    vec![
        (ApiError::NotFound, "not_found", 404),
        (
            ApiError::UnknownHandle { handle: s() },
            "unknown_handle",
            404,
        ),
        (
            ApiError::UnknownPrimary { primary: s() },
            "unknown_primary",
            404,
        ),
        (
            ApiError::UnknownRecipient { recipient: s() },
            "unknown_recipient",
            404,
        ),
        (ApiError::UnknownMessage { id: s() }, "unknown_message", 404),
        (
            ApiError::AccountDeleted { what: s() },
            "account_deleted",
            410,
        ),
        (
            ApiError::from(StoreError::NotRegistered { handle: s() }),
            "unknown_handle",
            404,
        ),
        (
            ApiError::from(StoreError::PrimaryMismatch { handle: s() }),
            "primary_mismatch",
            403,
        ),
        (
            ApiError::MethodNotAllowed {
                allow: vec![Method::GET],
            },
            "method_not_allowed",
            405,
        ),
    ]
}

/// Conflicts, limits and server failures.
fn conflicts_and_failures() -> Vec<(ApiError, &'static str, u16)> {
    let s = String::new;
    vec![
        (ApiError::HandleTaken { handle: s() }, "handle_taken", 409),
        (
            ApiError::PrimaryTaken { primary: s() },
            "primary_taken",
            409,
        ),
        (
            ApiError::PayloadTooLarge { limit: 1 },
            "payload_too_large",
            413,
        ),
        (
            ApiError::RequestTimeout {
                received: 1,
                waited: Duration::from_secs(1),
            },
            "request_timeout",
            408,
        ),
        (
            ApiError::RateLimited {
                limit: "client",
                retry_after: Duration::from_millis(1),
            },
            "rate_limited",
            429,
        ),
        (
            ApiError::Overloaded {
                what: "transactions in flight",
                retry_after: Duration::from_millis(1),
            },
            "overloaded",
            503,
        ),
        (ApiError::internal("x"), "internal", 500),
        (ApiError::Unavailable { reason: s() }, "unavailable", 503),
        (
            ApiError::from(StoreError::HandleTaken { handle: s() }),
            "handle_taken",
            409,
        ),
        (
            ApiError::from(StoreError::PrimaryTaken { primary: s() }),
            "primary_taken",
            409,
        ),
        (
            ApiError::from(StoreError::UnknownRecipient { handle: s() }),
            "unknown_recipient",
            404,
        ),
        (ApiError::from(StoreError::Closed), "unavailable", 503),
        (
            ApiError::from(StoreError::Corrupt { what: "seq" }),
            "internal",
            500,
        ),
    ]
}

#[test]
fn every_code_has_its_spec_status() {
    for (error, code, status) in every_code() {
        assert_eq!(error.code(), code, "{error:?}");
        assert_eq!(error.status().as_u16(), status, "{error:?}");
    }
}

#[test]
fn internal_details_stay_out_of_the_message() {
    let error = ApiError::internal("disk /var/secret full");
    assert_eq!(error.public_message(), "internal server error");
    assert!(error.to_string().contains("disk"), "the log still has it");
}

#[test]
fn retry_after_rounds_up_to_at_least_one_second() {
    assert_eq!(retry_after_secs(Duration::ZERO), 1);
    assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
    assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
    assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
}
