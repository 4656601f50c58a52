//! The cases, one file per SPEC section (group), and [`all`], the registry in report order.
//!
//! | file | SPEC | what |
//! | --- | --- | --- |
//! | [`s2_identifiers`] | §2 | handle and primary grammar at the lookup endpoints |
//! | [`s3_signed_objects`] | §3 | strict JSON, the signature member, strict verification, JCS |
//! | [`s4_users`] | §4 | registration (every check and its order), records, WebFinger, health |
//! | [`s6_envelope`] | §1, §6 | envelope members and encodings, size limits, the E2EE round trip |
//! | [`s7_auth`] | §7 | credentials: window, failures, cursors, cross-endpoint replay, status |
//! | [`s8_inbox`] | §8.1–§8.4, §8.7 | send, poll, acknowledge, duplicates, id memory |
//! | [`s8_5_stream`] | §8.5 | the SSE stream: live, resume, ready, no gap/duplicate, keep-alive |
//! | [`s9_federation`] | §9 | server document, s2s header checks, delivery between every pair |
//! | [`s9_2_peer_documents`] | §9.2 | a rogue peer's flawed documents are not trusted; an unknown key id refetches once, at most once a minute |
//! | [`s9_3_rogue_sender`] | §9.2–§9.4 | a rogue peer sends forged, stale, misaddressed, oversized, replayed transactions |
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
pub mod s4_users;
pub mod s6_envelope;
pub mod s7_auth;
pub mod s8_5_stream;
pub mod s8_inbox;
pub mod s9_2_peer_documents;
pub mod s9_3_rogue_sender;
pub mod s9_6_rogue_receiver;
pub mod s9_8_outbound;
pub mod s9_federation;

use std::sync::Arc;

use crate::case::{Case, Fail};
use crate::server::{Resp, Server};
use crate::user::User;

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
        s6_envelope::cases(),
        s7_auth::cases(),
        s8_inbox::cases(),
        s8_5_stream::cases(),
        s9_federation::cases(),
        s9_2_peer_documents::cases(),
        s9_3_rogue_sender::cases(),
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
