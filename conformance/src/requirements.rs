//! How each requirement of SPEC.md is checked: the one table from requirement id (`§9.2-3`,
//! written in the SPEC after each MUST sentence) to a server fault, client-side tests, or the
//! reason it cannot be observed. The coverage check (`crate::coverage`) reads it against the
//! ids in the SPEC text; the faults run (`crate::faults`) proves each server requirement's fault
//! is caught by a case and reports which cases caught it.

/// How a requirement is checked.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// A requirement on servers. Each fault of kezd's faults build (`kezd/src/faults.rs`) named
    /// here breaks it and nothing else a case looks at; the faults run requires every one to
    /// fail at least one case, and the cases that fail are the ones that check it.
    Server {
        /// The faults that break it (at least one).
        faults: &'static [&'static str],
    },
    /// A requirement on clients (or on every implementation, where only the client side can be
    /// driven into the edge): checked by these tests of the crates every KEZ client links,
    /// written `path/from/the/workspace.rs::test_function`.
    Client {
        /// The tests.
        tests: &'static [&'static str],
    },
    /// Not observable from outside a server, and why.
    Unobservable {
        /// Why no black-box case can check it.
        reason: &'static str,
    },
    /// Its fault and case are being written elsewhere; until then coverage is incomplete.
    Pending {
        /// Whose work fills it in.
        awaits: &'static str,
    },
}

impl Check {
    /// `server`, `client`, `unobservable` or `pending`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Server { .. } => "server",
            Check::Client { .. } => "client",
            Check::Unobservable { .. } => "unobservable",
            Check::Pending { .. } => "pending",
        }
    }
}

/// One requirement.
#[derive(Debug, Clone, Copy)]
pub struct Requirement {
    /// The id written in the SPEC: `§9.2-3`.
    pub id: &'static str,
    /// What it requires, in a few words.
    pub summary: &'static str,
    /// How it is checked.
    pub check: Check,
}

const fn server(
    id: &'static str,
    summary: &'static str,
    faults: &'static [&'static str],
) -> Requirement {
    Requirement {
        id,
        summary,
        check: Check::Server { faults },
    }
}

const fn client(
    id: &'static str,
    summary: &'static str,
    tests: &'static [&'static str],
) -> Requirement {
    Requirement {
        id,
        summary,
        check: Check::Client { tests },
    }
}

const fn unobservable(
    id: &'static str,
    summary: &'static str,
    reason: &'static str,
) -> Requirement {
    Requirement {
        id,
        summary,
        check: Check::Unobservable { reason },
    }
}

/// Every requirement of SPEC.md, in document order.
pub const REQUIREMENTS: &[Requirement] = &[
    server(
        "§1-1",
        "base64 is canonical: the unused trailing bits are zero",
        &["accept_noncanonical_base64"],
    ),
    server(
        "§2.1-1",
        "a handle with uppercase letters or breaking the grammar is invalid_handle",
        &["lowercase_handle_in_path"],
    ),
    server(
        "§2.1-2",
        "reserved handles are refused at registration with handle_reserved",
        &["accept_reserved_handle"],
    ),
    server(
        "§2.2-1",
        "a server name on the wire is already normalised",
        &["register_server_case_insensitive"],
    ),
    server(
        "§2.3-1",
        "a primary decodes to a curve point with y below p",
        &["accept_noncanonical_primary"],
    ),
    server(
        "§2.3-2",
        "a primary is not of small order",
        &["accept_small_order_primary"],
    ),
    server(
        "§3.1-1",
        "the signature object has no other member",
        &["signature_extra_member_ignored"],
    ),
    server(
        "§3.1-2",
        "each member of the signature object is a string",
        &["signature_nonstring_alg_unsupported"],
    ),
    server(
        "§3.2-1",
        "unknown members are not dropped, renamed or re-typed before canonicalising",
        &["verify_without_unknown_members"],
    ),
    server(
        "§3.2-2",
        "a stored signed object is served with unchanged JCS bytes",
        &["record_drops_unknown_members"],
    ),
    server(
        "§3.3-1",
        "numbers in signed objects are integers within ±(2^53 − 1), no fraction or exponent",
        &["accept_fractional_numbers"],
    ),
    client(
        "§3.4-1",
        "A and R are canonical encodings of curve points",
        &["spec/tests/vectors.rs::ed25519_strict_edges"],
    ),
    server(
        "§3.4-2",
        "S is below the group order L",
        &["accept_unreduced_s"],
    ),
    server(
        "§3.4-3",
        "the cofactorless equation holds",
        &["skip_envelope_signature_check"],
    ),
    client(
        "§3.4-4",
        "every implementation accepts exactly the strict set",
        &[
            "spec/tests/vectors.rs::ed25519_strict_edges",
            "spec/tests/vectors.rs::rfc8032_ed25519",
        ],
    ),
    unobservable(
        "§3.4-5",
        "a library with a wider default is configured or wrapped",
        "how an implementation reaches the rule is its own affair; only the set it accepts is \
         observable, which is §3.4-2, §3.4-3 and §3.4-4",
    ),
    server(
        "§3.6-1",
        "a verifier checks type before using an object",
        &["type_unchecked"],
    ),
    server(
        "§4.1-1",
        "registration applies §4.1's checks in order and answers the first failure",
        &["accept_stale_registration", "registration_window_narrow"],
    ),
    server(
        "§4.1-2",
        "a token or closed registration policy refuses new registrations with its 403 codes",
        &["registration_policy_ignored"],
    ),
    server(
        "§4.1-3",
        "a registration token's use is counted with the registration: n uses admit n",
        &["token_use_not_counted"],
    ),
    server(
        "§4.7-1",
        "account deletion applies §4.7's checks in order and answers the first failure",
        &[
            "accept_stale_deletion",
            "deletion_any_server",
            "deletion_accepts_registration_type",
        ],
    ),
    server(
        "§4.7-2",
        "a deleted account's handle is not registered again before released_at",
        &["handle_released_at_once"],
    ),
    server(
        "§4.7-3",
        "a deleted account's primary is never registered again on that server",
        &["deleted_primary_reusable"],
    ),
    server(
        "§4.7-4",
        "lookups of a deleted account's handle and primary answer 410 account_deleted",
        &["deleted_handle_unknown", "deleted_primary_unknown"],
    ),
    server(
        "§4.7-5",
        "messages to a deleted account are refused with account_deleted",
        &["send_to_deleted_unknown"],
    ),
    server(
        "§4.7-6",
        "a deleted account's live streams end",
        &["stream_outlives_deletion"],
    ),
    server("§6.1-1", "an envelope's v is 1", &["accept_any_version"]),
    server(
        "§6.1-2",
        "servers never modify an envelope: stored, forwarded and served with unchanged JCS",
        &["envelope_served_recanonicalised"],
    ),
    client(
        "§6.2-1",
        "the nonce comes from a cryptographically secure random source",
        &["kezctl/src/message.rs::fresh_nonce_for_every_message"],
    ),
    client(
        "§6.2-2",
        "an all-zero shared secret is rejected",
        &["spec/tests/vectors.rs::kez_identities"],
    ),
    client(
        "§6.3-1",
        "receivers ignore unknown plaintext members",
        &["spec/src/plaintext.rs::shape"],
    ),
    server(
        "§6.5-1",
        "a send body is at most 262,144 bytes",
        &["send_body_one_byte_over"],
    ),
    server(
        "§6.5-2",
        "a larger send body is 413 payload_too_large",
        &["send_body_too_large_400"],
    ),
    server(
        "§6.5-3",
        "no more than 262,145 bytes of a body are read",
        &["body_read_past_limit"],
    ),
    server(
        "§6.5-4",
        "a federated envelope's JCS is at most 262,144 bytes",
        &["txn_envelope_one_byte_over"],
    ),
    client(
        "§6.6-1",
        "a client verifies the envelope signature before opening",
        &["kezctl/src/message.rs::checks_before_opening"],
    ),
    client(
        "§6.6-2",
        "a client checks that to is its own address",
        &["kezctl/src/message.rs::checks_before_opening"],
    ),
    server(
        "§7.1-1",
        "every client authentication failure is the same 401 unauthorized",
        &[
            "inbox_unknown_handle_not_found",
            "poll_ignores_cursor_signature",
            "stream_accepts_live_credential_with_cursor",
            "status_skips_auth",
        ],
    ),
    server(
        "§7.4-1",
        "since and Last-Event-ID, when both present, are equal",
        &["stream_cursor_mismatch_allowed"],
    ),
    server(
        "§7.7-1",
        "path segments are never percent-decoded",
        &["percent_decode_paths"],
    ),
    server(
        "§8.1-1",
        "the body's to equals envelope.to or its local handle",
        &["send_ignores_body_to"],
    ),
    server(
        "§8.1-2",
        "sends apply §8.1's checks in order",
        &["accept_stale_envelope", "send_window_wide"],
    ),
    server(
        "§8.3-1",
        "through is an integer in 0 … 2^53 − 1",
        &["ack_through_unbounded"],
    ),
    server(
        "§8.4-1",
        "no inbox message is deleted but by acknowledgement or retention",
        &["ack_deletes_one_extra", "retention_early"],
    ),
    server(
        "§8.5-1",
        "no gap between replay and live",
        &["resume_drops_first_message"],
    ),
    server(
        "§8.5-2",
        "no duplicate between replay and live",
        &["duplicate_on_resume"],
    ),
    unobservable(
        "§8.5-3",
        "a subscriber whose fan-out overflows is resumed from storage",
        "a black-box suite cannot make a server's internal fan-out overflow: its buffer is the \
         server's own (kezd's holds 256 events per handle, more than spawned nodes let one \
         recipient receive in a minute); kezd's tests check it: \
         kezd/tests/broker_nats.rs::an_outage_lags_subscribers_and_the_store_fills_the_gap and \
         kezd/src/broker/local.rs::a_slow_subscriber_is_told_it_lagged",
    ),
    unobservable(
        "§8.6-1",
        "crash-only durability is documented as weaker",
        "a requirement on documentation: kezd documents `durability = \"crash_only\"` as \
         weaker in kezd/kezd.example.toml and deploy/README.md",
    ),
    server(
        "§8.7-1",
        "accepted message ids are remembered through ts + 7 days + 300 s, acknowledged or not",
        &["ack_forgets_message_ids"],
    ),
    server(
        "§9.1-1",
        "a peer's certificate is valid for its server name",
        &["accept_certificate_for_other_name"],
    ),
    server(
        "§9.1-2",
        "certificate verification is never disabled",
        &["accept_unknown_ca"],
    ),
    server(
        "§9.2-1",
        "verify_keys holds the document's signing key",
        &["document_signing_key_unlisted"],
    ),
    server(
        "§9.2-2",
        "a fetched document's type is server",
        &["accept_document_wrong_type"],
    ),
    server(
        "§9.2-3",
        "a fetched document names the server it was fetched for",
        &["accept_document_for_other_server"],
    ),
    server(
        "§9.2-4",
        "a fetched document's ts is not over 300 s ahead",
        &["accept_document_from_future"],
    ),
    server(
        "§9.2-5",
        "a fetched document's signature verifies",
        &["accept_document_bad_signature"],
    ),
    server(
        "§9.2-6",
        "a cached document is refetched after it expires",
        &["document_cached_past_valid_until"],
    ),
    server(
        "§9.2-7",
        "a key is not trusted after its valid_until",
        &["trust_expired_key"],
    ),
    server(
        "§9.2-8",
        "a retired key is not trusted for what was signed after expired_at",
        &["trust_retired_key"],
    ),
    server(
        "§9.2-9",
        "a document's registration member is the policy registration applies",
        &["document_registration_open"],
    ),
    server(
        "§9.2-10",
        "a server that answers POST /v1/account/delete lists account_deletion in capabilities",
        &["no_deletion_capability"],
    ),
    server(
        "§9.3-1",
        "Authorization parameters in any order, with spaces after commas",
        &["s2s_header_fixed_order"],
    ),
    server(
        "§9.3-2",
        "unknown Authorization parameters are ignored",
        &["s2s_header_rejects_unknown_params"],
    ),
    server(
        "§9.3-3",
        "a missing or repeated Authorization parameter is refused",
        &["s2s_header_repeat_allowed"],
    ),
    server(
        "§9.3-4",
        "the Authorization scheme and parameter names match in any case",
        &["s2s_header_case_sensitive"],
    ),
    server(
        "§9.3-5",
        "whitespace around the Authorization header's commas and = is accepted",
        &["s2s_header_no_whitespace"],
    ),
    server(
        "§9.4-1",
        "a transaction body is at most max_txn_bytes",
        &["txn_body_one_byte_over"],
    ),
    server(
        "§9.4-2",
        "a transaction holds at most max_txn_envelopes envelopes",
        &["txn_accepts_too_many_envelopes"],
    ),
    server(
        "§9.4-3",
        "an origin never reuses a txn id for a different body",
        &["outbox_reuses_txn_id"],
    ),
    server(
        "§9.4-4",
        "a deferred envelope is sent again in a later transaction",
        &["deferred_counts_as_delivered"],
    ),
    server(
        "§9.4-5",
        "a deferred envelope is not resent before retry_after",
        &["ignore_deferred_retry_after"],
    ),
    server(
        "§9.4-6",
        "a sender's later envelopes in a transaction are deferred with the first",
        &["defer_only_limited_envelope"],
    ),
    server(
        "§9.8-1",
        "no connection to the listed ranges unless allowed",
        &["skip_ssrf_guard"],
    ),
    server(
        "§9.8-2",
        "the connection uses the address that was checked",
        &["connect_to_unchecked_address"],
    ),
    server(
        "§9.8-3",
        "every address comes from the guarded resolver",
        &["connect_to_address_target"],
    ),
    server(
        "§9.8-4",
        "an SRV target that is not a host name is not connected to",
        &["connect_to_address_target"],
    ),
    server(
        "§9.8-5",
        "redirects are not followed",
        &["follow_redirects"],
    ),
    server(
        "§9.8-6",
        "outbound requests have connect and total timeouts",
        &["no_federation_timeout"],
    ),
    client(
        "§10-1",
        "clients act on the error code and the status",
        &["kezctl/tests/e2e.rs::registration_errors_are_friendly"],
    ),
    client(
        "§10-2",
        "clients do not parse message",
        &["kezctl/tests/e2e.rs::registration_errors_are_friendly"],
    ),
    server(
        "§10-3",
        "a query parameter a route reads is not repeated",
        &["repeated_query_first_wins"],
    ),
    unobservable(
        "§11-1",
        "conversations are remembered durably and shared by a cluster's instances",
        "it takes a restart of the server under test, or a second instance of it, which a \
         black-box suite cannot cause; kezd's store tests check it on SQLite and PostgreSQL",
    ),
    unobservable(
        "§13.1-1",
        "TLS on untrusted networks",
        "whether a network is trusted is the deployer's judgement (kezd behind a TLS proxy \
         serves plain HTTP and conforms); s13.tls checks a deployment is reached over HTTPS",
    ),
    client(
        "§13.4-1",
        "users compare primaries out of band",
        &["kezctl/tests/e2e.rs::whois_by_address_and_primary"],
    ),
    client(
        "§13.5-1",
        "nonces are random and 12 bytes long",
        &[
            "kezctl/src/message.rs::fresh_nonce_for_every_message",
            "spec/src/e2ee.rs::seal_open_round_trip",
        ],
    ),
    client(
        "§14-1",
        "implementations pass every vector",
        &[
            "spec/tests/vectors.rs::rfc8032_ed25519",
            "spec/tests/vectors.rs::ed25519_strict_edges",
            "spec/tests/vectors.rs::rfc7748_x25519",
            "spec/tests/vectors.rs::rfc5869_hkdf",
            "spec/tests/vectors.rs::rfc8785_jcs",
            "spec/tests/vectors.rs::aes256gcm",
        ],
    ),
    client(
        "§14-2",
        "implementations reproduce the KEZ vectors",
        &[
            "spec/tests/vectors.rs::kez_identities",
            "spec/tests/vectors.rs::kez_signed_objects",
            "spec/tests/vectors.rs::kez_registration",
            "spec/tests/vectors.rs::kez_deletion",
            "spec/tests/vectors.rs::kez_envelope",
            "spec/tests/vectors.rs::kez_auth",
            "spec/tests/vectors.rs::kez_seal",
            "spec/tests/vectors.rs::kez_s2s",
            "spec/tests/vectors.rs::kez_server_names",
        ],
    ),
];

/// Faults of kezd's faults build that break a normative statement without a MUST (a status, an
/// error code, an order the SPEC states plainly), with its section. They are checked like the
/// others — every one must be caught — but belong to no requirement id.
pub const OTHER_FAULTS: &[(&str, &str)] = &[
    ("register_wrong_status", "§4.1"),
    ("wrong_error_code_unknown_handle", "§4.2"),
    ("webfinger_wrong_content_type", "§4.4"),
    ("resend_not_marked_duplicate", "§8.1"),
    ("seq_gap", "§8.2"),
    ("poll_wrong_next_since", "§8.2"),
    ("stream_missing_auth_unauthorized", "§7.1"),
    ("ready_reports_zero", "§8.5"),
    ("no_keepalive", "§8.5"),
    ("skip_s2s_signature_check", "§9.3"),
    ("accept_wrong_destination", "§9.3"),
    ("accept_stale_s2s", "§9.3"),
    ("ignore_body_origin", "§9.4"),
    ("ignore_origin_mismatch", "§9.4"),
    ("txn_replay_reprocesses", "§9.4"),
    ("ignore_retry_after", "§9.6"),
    ("reverse_txn_order", "§9.5"),
    ("auth_window_wide", "§7.1"),
    ("s2s_window_narrow", "§9.3"),
    ("txn_envelope_past_narrow", "§9.4"),
    ("txn_envelope_future_wide", "§9.4"),
    ("envelope_limit_off_by_one", "§9.4"),
    ("page_cap_off_by_one", "§8.2"),
    ("seq_reused_after_ack", "§8.2"),
    ("seq_counter_not_persisted", "§8.2"),
    ("ready_reports_stored_max", "§8.5"),
    ("resend_refused_by_later_checks", "§8.1"),
    ("txn_duplicate_after_window", "§9.4"),
    ("accept_expired_document", "§9.2"),
    ("no_key_refetch", "§9.2"),
    ("key_refetch_storm", "§9.2"),
];

/// The requirement ids (or, for [`OTHER_FAULTS`], the section) a fault is listed under.
pub fn tags_of(fault: &str) -> Vec<&'static str> {
    let mut tags: Vec<&'static str> = REQUIREMENTS
        .iter()
        .filter(|r| matches!(r.check, Check::Server { faults } if faults.contains(&fault)))
        .map(|r| r.id)
        .collect();
    tags.extend(
        OTHER_FAULTS
            .iter()
            .filter(|(f, _)| *f == fault)
            .map(|(_, section)| *section),
    );
    tags
}

/// Every fault the tables name, in table order, without repeats.
pub fn listed_faults() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let named = REQUIREMENTS
        .iter()
        .flat_map(|r| match r.check {
            Check::Server { faults } => faults,
            _ => &[],
        })
        .copied()
        .chain(OTHER_FAULTS.iter().map(|(f, _)| *f));
    for fault in named {
        if !out.contains(&fault) {
            out.push(fault);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_well_formed() {
        for r in REQUIREMENTS {
            assert!(crate::coverage::id_section(r.id).is_some(), "{}", r.id);
            match r.check {
                Check::Server { faults } => assert!(!faults.is_empty(), "{}", r.id),
                Check::Client { tests } => {
                    assert!(!tests.is_empty(), "{}", r.id);
                    for test in tests {
                        assert!(test.split_once(".rs::").is_some(), "{}: {test}", r.id);
                    }
                }
                Check::Unobservable { reason } => assert!(!reason.is_empty(), "{}", r.id),
                Check::Pending { .. } => {}
            }
        }
        for (fault, section) in OTHER_FAULTS {
            assert!(section.starts_with('§'), "{fault}");
            assert_eq!(tags_of(fault).len(), 1, "{fault} is listed twice");
        }
    }
}
