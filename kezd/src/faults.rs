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
//! Add its name and a one-line description naming the requirement id it violates to
//! [`FAULTS`], put one `crate::faults::on("name")` guard at the place it breaks (in kezd, or in
//! kez-spec, where most checks live: its `faults` module asks this one), and list the fault
//! under that id in the conformance crate's `src/requirements.rs`. `kez-conformance faults`
//! runs the whole suite with it enabled and fails unless a case catches it.

use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The environment variable naming the enabled faults.
pub const VARIABLE: &str = "KEZ_FAULTS";

/// Every fault: its name and what it breaks, naming the SPEC requirement id (`§8.5-2`) it
/// violates, or the section of a statement without a MUST; conformance/src/requirements.rs
/// lists each under the same id.
pub const FAULTS: &[(&str, &str)] = &[
    (
        "accept_noncanonical_base64",
        "envelope ciphertext base64 with nonzero trailing bits is accepted (§1-1)",
    ),
    (
        "lowercase_handle_in_path",
        "GET /v1/u/ lowercases the handle before checking it (§2.1-1)",
    ),
    (
        "accept_reserved_handle",
        "reserved handles can be registered (§2.1-2)",
    ),
    (
        "register_server_case_insensitive",
        "a registration's server matches this server's name in any case (§2.2-1)",
    ),
    (
        "accept_noncanonical_primary",
        "a primary whose encoding is not canonical (y ≥ p) is accepted (§2.3-1)",
    ),
    (
        "accept_small_order_primary",
        "small-order primaries are accepted (§2.3-2)",
    ),
    (
        "signature_extra_member_ignored",
        "a signature object with extra members is accepted (§3.1-1)",
    ),
    (
        "signature_nonstring_alg_unsupported",
        "a non-string alg is unsupported_alg instead of malformed_signature (§3.1-2)",
    ),
    (
        "verify_without_unknown_members",
        "signatures are verified over the known members only (§3.2-1)",
    ),
    (
        "record_drops_unknown_members",
        "handle records serve the registration without its unknown members (§3.2-2)",
    ),
    (
        "accept_fractional_numbers",
        "numbers in signed objects are not limited to safe integers (§3.3-1)",
    ),
    (
        "accept_unreduced_s",
        "a signature's S is reduced mod L before verifying (§3.4-2)",
    ),
    (
        "skip_envelope_signature_check",
        "sends are stored without verifying the envelope signature (§3.4-3)",
    ),
    (
        "type_unchecked",
        "a signed object's type is not checked (§3.6-1)",
    ),
    (
        "accept_stale_registration",
        "registrations skip the ±300 s timestamp window, check 9 (§4.1-1)",
    ),
    (
        "accept_any_version",
        "envelopes of any version v are accepted (§6.1-1)",
    ),
    (
        "envelope_served_recanonicalised",
        "polls serve envelopes without their unknown members (§6.1-2)",
    ),
    (
        "inbox_unknown_handle_not_found",
        "an inbox request for an unknown handle is 404 unknown_handle, not 401 (§7.1-1)",
    ),
    (
        "poll_ignores_cursor_signature",
        "poll credentials are checked as if signed for since=0 (§7.1-1)",
    ),
    (
        "stream_accepts_live_credential_with_cursor",
        "a resumed stream accepts the live-only credential (§7.1-1)",
    ),
    (
        "status_skips_auth",
        "delivery status answers without checking the credential (§7.1-1)",
    ),
    (
        "stream_cursor_mismatch_allowed",
        "a stream with since and a different Last-Event-ID is served (§7.4-1)",
    ),
    (
        "percent_decode_paths",
        "path parameters are percent-decoded (§7.7-1)",
    ),
    (
        "send_ignores_body_to",
        "a send's body to need not match envelope.to (§8.1-1)",
    ),
    (
        "accept_stale_envelope",
        "sends skip the ±300 s timestamp window, check 9 (§8.1-2)",
    ),
    (
        "ack_through_unbounded",
        "an acknowledgement's through may exceed 2^53 − 1 (§8.3-1)",
    ),
    (
        "ack_deletes_one_extra",
        "an acknowledgement deletes through n+1 (§8.4-1)",
    ),
    (
        "resume_drops_first_message",
        "a resumed stream skips the first stored message after the cursor (§8.5-1)",
    ),
    (
        "duplicate_on_resume",
        "a resumed stream sends its last replayed message again after ready (§8.5-2)",
    ),
    (
        "ack_forgets_message_ids",
        "acknowledged messages' ids are forgotten, so a resend is stored again (§8.7-1)",
    ),
    (
        "document_signing_key_unlisted",
        "the server document's verify_keys omits the signing key (§9.2-1)",
    ),
    (
        "s2s_header_fixed_order",
        "Authorization parameters are accepted only in the senders' order, without spaces (§9.3-1)",
    ),
    (
        "s2s_header_rejects_unknown_params",
        "an Authorization header with an unknown parameter is refused (§9.3-2)",
    ),
    (
        "s2s_header_repeat_allowed",
        "a repeated Authorization parameter is accepted, the last one winning (§9.3-3)",
    ),
    (
        "txn_accepts_too_many_envelopes",
        "transactions with more than max_txn_envelopes envelopes are processed (§9.4-2)",
    ),
    (
        "outbox_reuses_txn_id",
        "the outbox sends every transaction with the same txn id (§9.4-3)",
    ),
    (
        "deferred_counts_as_delivered",
        "the outbox takes a deferred result for delivered and never resends (§9.4-4)",
    ),
    (
        "ignore_deferred_retry_after",
        "the outbox resends a deferred envelope at once, ignoring retry_after (§9.4-5)",
    ),
    (
        "defer_only_limited_envelope",
        "a transaction's later envelopes of a deferred sender are judged on their own (§9.4-6)",
    ),
    (
        "no_federation_timeout",
        "federation requests have no timeout (§9.8-6)",
    ),
    (
        "register_wrong_status",
        "a new registration is answered 200 instead of 201 (§4.1)",
    ),
    (
        "registration_policy_ignored",
        "a server whose registration policy is token or closed registers anyone (§4.1-2)",
    ),
    (
        "token_use_not_counted",
        "a registration token's uses are not counted, so it admits more than it allows (§4.1-3)",
    ),
    (
        "document_registration_open",
        "the server document publishes registration \"open\" whatever the policy (§9.2-9)",
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
        "resend_not_marked_duplicate",
        "a resent envelope is answered like a new one, without duplicate:true (§8.1)",
    ),
    (
        "seq_gap",
        "inbox sequence numbers skip one on every message (§8.2)",
    ),
    (
        "poll_wrong_next_since",
        "a poll's next_since is always the request's since (§8.2)",
    ),
    (
        "stream_missing_auth_unauthorized",
        "a stream without auth is 401 instead of 400 missing_auth (§7.1)",
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
        "registrations are accepted only within 295 s, not 300 (§4.1-1, check 9)",
    ),
    (
        "send_window_wide",
        "sends are accepted up to 305 s off, not 300 (§8.1-2, check 9)",
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
        "retention deletes messages at half their max_age (§8.4-1)",
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
        "a peer's server document is used though its signature does not verify (§9.2-5)",
    ),
    (
        "accept_document_for_other_server",
        "a peer's server document is used though it names another server (§9.2-3)",
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
        "outbound requests follow 3xx redirects (§9.8-5)",
    ),
    (
        "accept_certificate_for_other_name",
        "a peer's certificate is accepted though it is not valid for the server name (§9.1-1)",
    ),
    (
        "accept_unknown_ca",
        "a peer's certificate is accepted though no trusted CA signed it: verification is off (§9.1-2)",
    ),
    (
        "skip_ssrf_guard",
        "outbound connections go to any address, forbidden ranges included (§9.8-1)",
    ),
    (
        "send_body_one_byte_over",
        "sends accept a body of 262,145 bytes, one over the limit (§6.5-1)",
    ),
    (
        "send_body_too_large_400",
        "a send body over the limit is 400 malformed_request, not 413 payload_too_large (§6.5-2)",
    ),
    (
        "body_read_past_limit",
        "a body over its limit is read on, up to 1 MiB or its end, before the 413 (§6.5-3)",
    ),
    (
        "txn_envelope_one_byte_over",
        "transactions accept an envelope of 262,145 JCS bytes, one over the limit (§6.5-4)",
    ),
    (
        "accept_document_wrong_type",
        "a peer's server document is used though its type is not \"server\" (§9.2-2)",
    ),
    (
        "accept_document_from_future",
        "a peer's server document is used though its ts is over 300 s ahead (§9.2-4)",
    ),
    (
        "document_cached_past_valid_until",
        "a peer's server document is cached for 24 h whatever its valid_until (§9.2-6)",
    ),
    (
        "trust_expired_key",
        "a peer's current key is trusted after its valid_until (§9.2-7)",
    ),
    (
        "trust_retired_key",
        "a peer's retired key is trusted for requests signed after its expired_at (§9.2-8)",
    ),
    (
        "s2s_header_case_sensitive",
        "the Authorization scheme and parameter names are matched case-sensitively (§9.3-4)",
    ),
    (
        "s2s_header_no_whitespace",
        "whitespace around the Authorization header's commas and '=' is refused (§9.3-5)",
    ),
    (
        "txn_body_one_byte_over",
        "transactions accept a body one byte over max_txn_bytes (§9.4-1)",
    ),
    (
        "connect_to_address_target",
        "an SRV target that is an IP literal is connected to, not looked up (§9.8-3, §9.8-4)",
    ),
    (
        "connect_to_unchecked_address",
        "after the SSRF check the SRV target is looked up again and that answer connected to (§9.8-2)",
    ),
    (
        "repeated_query_first_wins",
        "a repeated query parameter is read as its first value (§10-3)",
    ),
    (
        "accept_stale_deletion",
        "an account deletion outside the ±300 s window is accepted (§4.7-1)",
    ),
    (
        "deletion_any_server",
        "an account deletion naming another server is accepted (§4.7-1)",
    ),
    (
        "deletion_accepts_registration_type",
        "a registration object is accepted as an account deletion (§4.7-1)",
    ),
    (
        "handle_released_at_once",
        "a deleted account's handle can be registered again at once (§4.7-2)",
    ),
    (
        "deleted_primary_reusable",
        "a deleted account's primary can be registered again (§4.7-3)",
    ),
    (
        "deleted_handle_unknown",
        "lookups of a deleted account's handle answer 404 unknown_handle, not 410 (§4.7-4)",
    ),
    (
        "deleted_primary_unknown",
        "a reverse lookup of a deleted account's primary answers 404, not 410 (§4.7-4)",
    ),
    (
        "send_to_deleted_unknown",
        "a send to a deleted account is 404 unknown_recipient, not 410 account_deleted (§4.7-5)",
    ),
    (
        "stream_outlives_deletion",
        "a deleted account's live stream stays open (§4.7-6)",
    ),
    (
        "no_deletion_capability",
        "the server document omits account_deletion from capabilities (§9.2-10)",
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
        // Set once, before any request; a second call keeps the first set. The guards in
        // kez-spec, where most checks live, and in kez-federation (the outbound checks, some
        // read once when kezd builds its federation client) ask the same switch.
        let _ = ENABLED.set(names.iter().copied().collect());
        kez_spec::faults::install(on);
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

    /// Every guard in kezd's, kez-spec's and kez-federation's sources names a fault of
    /// [`FAULTS`] (a typo would make a guard that never fires), and every fault has a guard.
    #[test]
    fn every_guard_names_a_fault_and_every_fault_is_guarded() {
        fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("a source directory") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(std::fs::read_to_string(&path).expect("a source file"));
                }
            }
        }
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        sources(&manifest.join("src"), &mut texts);
        sources(&manifest.join("../spec/src"), &mut texts);
        sources(&manifest.join("../federation/src"), &mut texts);
        let mut guarded = BTreeSet::new();
        let code = texts
            .iter()
            .flat_map(|text| text.lines())
            .filter(|line| !line.trim_start().starts_with("//"));
        for line in code {
            for (at, _) in line.match_indices("faults::on(\"") {
                let rest = &line[at + "faults::on(\"".len()..];
                let name = &rest[..rest.find('"').expect("a closing quote")];
                guarded.insert(name.to_owned());
            }
        }
        for name in &guarded {
            assert!(
                FAULTS.iter().any(|(known, _)| known == name),
                "a guard names {name:?}, which FAULTS lacks"
            );
        }
        for (name, _) in FAULTS {
            assert!(guarded.contains(*name), "no guard for the fault {name}");
        }
    }

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<_> = FAULTS.iter().map(|(name, _)| name).collect();
        assert_eq!(names.len(), FAULTS.len());
    }
}
