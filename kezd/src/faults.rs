//! Fault injection for the conformance suite's self-test (`kez-conformance faults`): named,
//! deliberate protocol violations that a test build of kezd can switch on one at a time, so
//! that CI proves each one is caught by at least one conformance case.
//!
//! # Never in a release
//! This module exists only with the cargo feature `faults`, which no release build enables
//! (a release profile with the feature does not compile, see the `compile_error!` in
//! `lib.rs`). Without the feature, `crate::faults::on` is a `const fn` that returns `false`,
//! so every guarded line is dead code the compiler removes and release code is unchanged.
//!
//! A faults build also refuses to start unless `KEZ_FAULTS` names the faults to enable
//! (comma-separated names from [`FAULTS`], or `none`), so it cannot be deployed by mistake and
//! silently misbehave: `KEZ_FAULTS=list kezd` prints the names and exits.
//!
//! # Adding a fault
//! Add its name and a one-line description to [`FAULTS`], put one
//! `crate::faults::on("name")` guard at the place it breaks, and add the name with the cases
//! that catch it to the conformance crate's fault table (`conformance/src/faults.rs`); the
//! faults check fails for a fault no case catches.

use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The environment variable naming the enabled faults.
pub const VARIABLE: &str = "KEZ_FAULTS";

/// Every fault: its name and what it breaks (SPEC section in brackets).
pub const FAULTS: &[(&str, &str)] = &[
    (
        "register_wrong_status",
        "a new registration is answered 200 instead of 201 (§4.1)",
    ),
    (
        "accept_stale_registration",
        "registrations skip the ±300 s timestamp window (§4.1 check 9)",
    ),
    (
        "wrong_error_code_unknown_handle",
        "an unknown handle record is 404 not_found instead of unknown_handle (§4.2)",
    ),
    (
        "webfinger_wrong_content_type",
        "WebFinger answers application/json instead of application/jrd+json (§4.4)",
    ),
    (
        "skip_envelope_signature_check",
        "sends are stored without verifying the envelope signature (§8.1 check 8)",
    ),
    (
        "accept_stale_envelope",
        "sends skip the ±300 s timestamp window (§8.1 check 9)",
    ),
    (
        "resend_not_marked_duplicate",
        "a resent envelope is answered like a new one, without duplicate:true (§8.1)",
    ),
    (
        "seq_gap",
        "inbox sequence numbers skip one on every message (§8.2)",
    ),
    (
        "poll_ignores_cursor_signature",
        "poll credentials are checked as if signed for since=0 (§7.2)",
    ),
    (
        "poll_wrong_next_since",
        "a poll's next_since is always the request's since (§8.2)",
    ),
    (
        "ack_deletes_one_extra",
        "an acknowledgement deletes through n+1 (§8.3)",
    ),
    (
        "stream_missing_auth_unauthorized",
        "a stream without auth is 401 instead of 400 missing_auth (§7.1, §8.5)",
    ),
    (
        "stream_accepts_live_credential_with_cursor",
        "a resumed stream accepts the live-only credential (§7.4)",
    ),
    (
        "resume_drops_first_message",
        "a resumed stream skips the first stored message after the cursor (§8.5)",
    ),
    (
        "duplicate_on_resume",
        "a resumed stream sends its last replayed message again after ready (§8.5)",
    ),
    (
        "ready_reports_zero",
        "a live-only stream's ready event reports seq 0 (§8.5)",
    ),
    (
        "no_keepalive",
        "streams write no keep-alive comments (§8.5)",
    ),
    (
        "status_skips_auth",
        "delivery status answers without checking the credential (§7.6, §9.7)",
    ),
    (
        "skip_s2s_signature_check",
        "transactions are processed without verifying the Authorization signature (§9.3)",
    ),
    (
        "accept_wrong_destination",
        "transactions addressed to another server are accepted (§9.3)",
    ),
    (
        "accept_stale_s2s",
        "transactions skip the ±120 s Authorization window (§9.3)",
    ),
    (
        "ignore_body_origin",
        "a transaction body's origin may differ from the Authorization origin (§9.4)",
    ),
    (
        "txn_accepts_too_many_envelopes",
        "transactions with more than max_txn_envelopes envelopes are processed (§9.4)",
    ),
    (
        "ignore_origin_mismatch",
        "envelopes from users of other servers are not rejected sender_not_of_origin (§9.4)",
    ),
    (
        "txn_replay_reprocesses",
        "a repeated transaction id is processed again instead of answered as stored (§9.4)",
    ),
    (
        "ignore_retry_after",
        "the outbox ignores a peer's Retry-After (§9.6)",
    ),
    (
        "reverse_txn_order",
        "the outbox puts a transaction's envelopes in reverse order (§9.5)",
    ),
    (
        "auth_window_wide",
        "client credentials are accepted up to 65 s off, not 60 (§7.1)",
    ),
    (
        "registration_window_narrow",
        "registrations are accepted only within 295 s, not 300 (§4.1 check 9)",
    ),
    (
        "send_window_wide",
        "sends are accepted up to 305 s off, not 300 (§8.1 check 9)",
    ),
    (
        "s2s_window_narrow",
        "transactions are accepted only within 115 s of their Authorization ts, not 120 (§9.3)",
    ),
    (
        "txn_envelope_past_narrow",
        "transactions reject envelopes older than 7 days − 5 s, not 7 days (§9.4 check 8)",
    ),
    (
        "txn_envelope_future_wide",
        "transactions accept envelopes up to 305 s ahead, not 300 (§9.4 check 8)",
    ),
    (
        "envelope_limit_off_by_one",
        "transactions reject an envelope of exactly 262,144 JCS bytes (§6.5, §9.4 check 1)",
    ),
    (
        "page_cap_off_by_one",
        "a poll limit above the page maximum is capped at the maximum + 1 (§8.2)",
    ),
    (
        "seq_reused_after_ack",
        "the next seq is the highest stored one + 1, so acknowledged seqs are reused (§8.2)",
    ),
    (
        "seq_counter_not_persisted",
        "inbox counters live in memory only, so seqs start again after a restart (§8.2)",
    ),
    (
        "ready_reports_stored_max",
        "a live-only stream's ready reports the highest stored seq, not the highest assigned (§8.5)",
    ),
    (
        "retention_early",
        "retention deletes messages at half their max_age (§8.4)",
    ),
    (
        "resend_refused_by_later_checks",
        "a resend that now fails checks 5–10 (e.g. its ts left the window) is refused, not a duplicate (§8.1)",
    ),
    (
        "txn_duplicate_after_window",
        "a transaction's envelope already accepted is judged by the window before the duplicate check (§9.4)",
    ),
    (
        "accept_document_bad_signature",
        "a peer's server document is used though its signature does not verify (§9.2)",
    ),
    (
        "accept_document_for_other_server",
        "a peer's server document is used though it names another server (§9.2)",
    ),
    (
        "accept_expired_document",
        "a peer's server document is used after its valid_until (§9.2)",
    ),
    (
        "no_key_refetch",
        "an unknown key id is refused without refetching the origin's document (§9.2)",
    ),
    (
        "key_refetch_storm",
        "every unknown key id refetches the origin's document, with no per-minute limit (§9.2)",
    ),
    (
        "follow_redirects",
        "outbound requests follow 3xx redirects (§9.8)",
    ),
    (
        "accept_certificate_for_other_name",
        "a peer's certificate is accepted though it is not valid for the server name (§9.1)",
    ),
    (
        "accept_unknown_ca",
        "a peer's certificate is accepted though no trusted CA signed it (§9.1)",
    ),
    (
        "skip_ssrf_guard",
        "outbound connections go to any address, forbidden ranges included (§9.8)",
    ),
];

/// The faults enabled in this process, read once from [`VARIABLE`] by [`init_from_env`].
static ENABLED: OnceLock<BTreeSet<&'static str>> = OnceLock::new();

/// What [`init_from_env`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Startup {
    /// Serve with these faults enabled (possibly none, after `KEZ_FAULTS=none`).
    Run(Vec<&'static str>),
    /// `KEZ_FAULTS=list`: print [`FAULTS`] and exit.
    List,
}

/// Reads `KEZ_FAULTS`: a comma-separated list of fault names, `none`, or `list`. An unset or
/// empty variable or an unknown name is an error: a faults build never starts by accident.
pub fn init_from_env() -> Result<Startup, String> {
    let value = std::env::var(VARIABLE).unwrap_or_default();
    let startup = parse(&value)?;
    if let Startup::Run(names) = &startup {
        // Set once, before any request; a second call keeps the first set. The federation
        // crate guards the outbound checks and learns the same names (before kezd builds its
        // federation client, which reads some of them once).
        let _ = ENABLED.set(names.iter().copied().collect());
        kez_federation::faults::enable(names.iter().copied());
    }
    Ok(startup)
}

/// Parses the value of `KEZ_FAULTS`.
pub fn parse(value: &str) -> Result<Startup, String> {
    let value = value.trim();
    match value {
        "" => Err(format!(
            "this kezd is a fault-injection build (cargo feature `faults`) for testing only; \
             it refuses to start unless {VARIABLE} names the faults to enable \
             (comma-separated, `none`, or `list` to print them)"
        )),
        "list" => Ok(Startup::List),
        "none" => Ok(Startup::Run(Vec::new())),
        _ => value
            .split(',')
            .map(str::trim)
            .map(|name| {
                FAULTS
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(known, _)| *known)
                    .ok_or_else(|| format!("{VARIABLE}: unknown fault {name:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Startup::Run),
    }
}

/// Whether the fault `name` is enabled. Names must be listed in [`FAULTS`] (checked in debug
/// builds, so a typo at a guard cannot go unnoticed).
pub fn on(name: &str) -> bool {
    debug_assert!(
        FAULTS.iter().any(|(known, _)| *known == name),
        "fault {name:?} is not listed in FAULTS"
    );
    ENABLED.get().is_some_and(|enabled| enabled.contains(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_none_and_list() {
        assert!(parse("").is_err());
        assert!(parse("no_such_fault").is_err());
        assert_eq!(parse("none"), Ok(Startup::Run(Vec::new())));
        assert_eq!(parse("list"), Ok(Startup::List));
        assert_eq!(
            parse("seq_gap, no_keepalive"),
            Ok(Startup::Run(vec!["seq_gap", "no_keepalive"]))
        );
    }

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<_> = FAULTS.iter().map(|(name, _)| name).collect();
        assert_eq!(names.len(), FAULTS.len());
    }
}
