//! The cases, one file per SPEC section (group), and [`all`], the registry in report order.
//!
//! | file | SPEC | what |
//! | --- | --- | --- |
//! | [`s2_identifiers`] | §2 | handle and primary grammar at the lookup endpoints |
//! | [`s3_signed_objects`] | §3 | strict JSON, the signature member, strict verification, JCS |
//! | [`s4_users`] | §4 | registration (every check and its order), records, WebFinger, health |
//! | [`s4_1_policy`] | §4.1 check 10 | the registration policy on own nodes: closed, invitation tokens spent once per use |
//! | [`s4_7_deletion`] | §4.7 | account deletion: capability, checks, retry, stream, 410s, tombstone |
//! | [`s6_envelope`] | §1, §6 | envelope members and encodings, size limits, the E2EE round trip |
//! | [`s7_auth`] | §7 | credentials: window, failures, cursors, cross-endpoint replay, status |
//! | [`s8_inbox`] | §8.1–§8.4, §8.7 | send, poll, acknowledge, duplicates, id memory |
//! | [`s8_state`] | §8.1–§8.5 over time | seqs after acknowledgement and restart, retention's max_age, the page maximum, resends out of the window |
//! | [`s8_5_stream`] | §8.5 | the SSE stream: live, resume, ready, no gap/duplicate, keep-alive |
//! | [`s9_federation`] | §9 | server document, s2s header checks, delivery between every pair |
//! | [`s9_2_peer_documents`] | §9.2 | a rogue peer's flawed documents are not trusted; an unknown key id refetches once, at most once a minute |
//! | [`s9_3_rogue_sender`] | §9.2–§9.4 | a rogue peer sends forged, stale, misaddressed, oversized, replayed transactions |
//! | [`s9_4_windows`] | §9.4 | the envelope window's edges, and duplicates once out of it |
//! | [`s9_6_rogue_receiver`] | §9.5–§9.6 | a rogue peer receives: 5xx, 429 + Retry-After, slow, deferrals, order |
//! | [`s9_8_outbound`] | §9.1, §9.8 | where the server connects: certificates for another name or from an unknown CA, redirects, unlisted addresses |
//! | [`s10_errors`] | §10, §12.3 | error shape, unknown routes, 405 |
//! | [`s11_limits`] | §11 | published limits |
//! | [`s13_security`] | §13 | transport |

pub mod s10_errors;
pub mod s11_limits;
pub mod s13_security;
pub mod s2_identifiers;
pub mod s3_signed_objects;
pub mod s4_1_policy;
pub mod s4_7_deletion;
pub mod s4_users;
pub mod s6_envelope;
pub mod s7_auth;
pub mod s8_5_stream;
pub mod s8_inbox;
pub mod s8_state;
pub mod s9_2_peer_documents;
pub mod s9_3_rogue_sender;
pub mod s9_4_windows;
pub mod s9_6_rogue_receiver;
pub mod s9_8_outbound;
pub mod s9_federation;

use std::sync::Arc;

use crate::case::{Case, Fail};
use crate::server::{Resp, Server};
use crate::user::User;

/// How far inside and outside each edge of a time window the cases probe, in seconds: more
/// than a request takes on a busy machine, so the server's clock reading cannot move a probe
/// across the edge, and less than any window wrong by a few seconds would hide.
pub const EDGE_MARGIN_SECS: u64 = 2;

/// One probe of a time window: a timestamp just inside or just outside one of its edges.
#[derive(Debug, Clone)]
pub struct Edge {
    /// For failure messages: `58 s old, inside the past edge`.
    pub what: String,
    /// Whether the server must accept it.
    pub inside: bool,
    /// Where the probe sits relative to now, in milliseconds.
    offset_ms: i64,
    /// How many of the window's units make a second (1 or 1000).
    unit: u64,
}

impl Edge {
    /// The probe's timestamp now, in the window's unit: read from the clock right before the
    /// request, so that time spent on earlier probes cannot carry this one across the edge.
    pub fn ts(&self) -> u64 {
        self.ts_at(crate::user::now_ms())
    }

    /// The probe's timestamp when the clock reads `now_ms`. In seconds it is rounded away from
    /// the edge, so that the server's own rounding to whole seconds cannot eat the margin.
    pub fn ts_at(&self, now_ms: u64) -> u64 {
        let ms = now_ms.saturating_add_signed(self.offset_ms);
        let per_unit = 1000 / self.unit;
        // Past edge inside, or future edge outside: a later timestamp is further from it.
        if (self.offset_ms < 0) == self.inside {
            ms.div_ceil(per_unit)
        } else {
            ms / per_unit
        }
    }
}

/// The four probes of the window `now − past ≤ ts ≤ now + future`, [`EDGE_MARGIN_SECS`] inside
/// and outside each edge; `unit` is how many of the window's units make a second (1 for
/// seconds, 1000 for milliseconds).
pub fn edges(past: u64, future: u64, unit: u64) -> Vec<Edge> {
    let ms = |n: u64| i64::try_from(n * 1000 / unit).unwrap_or(i64::MAX);
    let margin = ms(EDGE_MARGIN_SECS * unit);
    let probe = |what: String, offset_ms: i64, inside: bool| Edge {
        what,
        inside,
        offset_ms,
        unit,
    };
    let secs = |offset: i64| offset.unsigned_abs() / 1000;
    let (past, future) = (ms(past), ms(future));
    vec![
        probe(
            format!("{} s old, inside the past edge", secs(past - margin)),
            -(past - margin),
            true,
        ),
        probe(
            format!("{} s old, outside the past edge", secs(past + margin)),
            -(past + margin),
            false,
        ),
        probe(
            format!("{} s ahead, inside the future edge", secs(future - margin)),
            future - margin,
            true,
        ),
        probe(
            format!("{} s ahead, outside the future edge", secs(future + margin)),
            future + margin,
            false,
        ),
    ]
}

/// Waits until this machine's clock reads `ts_ms`: for the cases whose event is time itself
/// carrying a timestamp across a window's edge.
pub async fn clock_passes(ts_ms: u64) {
    let now = crate::user::now_ms();
    if ts_ms > now {
        tokio::time::sleep(std::time::Duration::from_millis(ts_ms - now)).await;
    }
}

/// Two fresh registered accounts on `server`: a sender and a recipient.
pub async fn two_users(server: &Arc<Server>) -> Result<(User, User), Fail> {
    let (a, b) =
        futures_util::future::join(User::registered(server), User::registered(server)).await;
    Ok((a?, b?))
}

/// Fails unless `resp` is the error `status` `code`, naming `what` was sent.
pub fn expect_code(resp: Resp, status: u16, code: &str, what: &str) -> Result<Resp, Fail> {
    resp.expect_error(status, code)
        .map_err(|e| Fail::Fail(format!("{what}: {e}")))
}

/// Every case, in report order (by SPEC section).
pub fn all() -> Vec<Case> {
    [
        s2_identifiers::cases(),
        s3_signed_objects::cases(),
        s4_users::cases(),
        s4_1_policy::cases(),
        s4_7_deletion::cases(),
        s6_envelope::cases(),
        s7_auth::cases(),
        s8_inbox::cases(),
        s8_state::cases(),
        s8_5_stream::cases(),
        s9_federation::cases(),
        s9_2_peer_documents::cases(),
        s9_3_rogue_sender::cases(),
        s9_4_windows::cases(),
        s9_6_rogue_receiver::cases(),
        s9_8_outbound::cases(),
        s10_errors::cases(),
        s11_limits::cases(),
        s13_security::cases(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_straddle_both_ends_of_the_window() {
        let at = |probes: &[Edge], now_ms| -> Vec<(u64, bool)> {
            probes.iter().map(|e| (e.ts_at(now_ms), e.inside)).collect()
        };
        let secs = edges(60, 120, 1);
        let whole = vec![
            (9_942, true),
            (9_938, false),
            (10_118, true),
            (10_122, false),
        ];
        assert_eq!(at(&secs, 10_000_000), whole);
        // Within a second, rounded away from each edge: 58 s in and 62 s out, at least.
        let rounded = vec![
            (9_943, true),
            (9_938, false),
            (10_118, true),
            (10_123, false),
        ];
        assert_eq!(at(&secs, 10_000_400), rounded);
        let ms = edges(300_000, 300_000, 1000);
        assert_eq!(ms[0].ts_at(1_000_000), 702_000);
        assert_eq!(ms[0].what, "298 s old, inside the past edge");
        assert_eq!(ms[3].ts_at(1_000_000), 1_302_000);
        assert_eq!(ms[3].what, "302 s ahead, outside the future edge");
    }

    #[test]
    fn ids_are_unique_and_tagged() {
        let cases = all();
        let mut ids: Vec<_> = cases.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate case ids");
        for case in &cases {
            assert!(!case.sections.is_empty(), "{} names no section", case.id);
            assert!(
                case.sections.iter().all(|s| s.starts_with('§')),
                "{}",
                case.id
            );
            assert!(!case.description.is_empty(), "{}", case.id);
        }
    }
}
