//! SPEC §13, security considerations with a MUST for servers: credentials travel over TLS on
//! untrusted networks (§13.1). The suite checks the transport it was given; plain HTTP is
//! accepted only on a loopback address (a development server).

use crate::case::{Case, CaseResult, Single};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![Case::single(
        "s13.tls",
        &["§13.1"],
        "the server is reached over HTTPS (plain HTTP only on loopback, skipped there)",
        |s| Box::pin(tls(s)),
    )]
}

async fn tls(s: Single) -> CaseResult {
    let base = s.server.base.to_ascii_lowercase();
    if base.starts_with("https://") {
        return Ok(());
    }
    let host = base
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("")
        .to_owned();
    if matches!(host.as_str(), "localhost" | "127.0.0.1" | "[") || host.starts_with("127.") {
        skip!("plain HTTP on loopback ({host}): a development server");
    }
    fail!(
        "{} is plain HTTP: credentials would cross the network unencrypted",
        s.server.base
    )
}
