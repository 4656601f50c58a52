//! SPEC §10 (and §12.3): the error envelope — JSON with `error` and `message`, stable codes
//! and statuses — for unknown routes, removed prototype routes, and methods a route does not
//! allow (405 with `Allow`). Every other case checks the shape of the errors it provokes.

use reqwest::Method;

use super::expect_code;
use crate::case::{Case, CaseResult, Single};

/// The cases of this group.
pub fn cases() -> Vec<Case> {
    vec![
        Case::single(
            "s10.not_found",
            &["§10", "§12.3"],
            "an unknown route, and the removed POST /internal/nats/auth, are 404 not_found with \
             a JSON error body",
            |s| Box::pin(not_found(s)),
        ),
        Case::single(
            "s10.method_not_allowed",
            &["§10"],
            "another method on a known route is 405 method_not_allowed with an Allow header",
            |s| Box::pin(method_not_allowed(s)),
        ),
    ]
}

async fn not_found(s: Single) -> CaseResult {
    let resp = s.server.get("/v1/no-such-route").await?;
    expect_code(resp, 404, "not_found", "GET /v1/no-such-route")?;
    let resp = s
        .server
        .post("/internal/nats/auth", b"{}".to_vec(), &[])
        .await?;
    expect_code(resp, 404, "not_found", "POST /internal/nats/auth")?;
    Ok(())
}

async fn method_not_allowed(s: Single) -> CaseResult {
    for (method, path, allowed) in [
        (Method::DELETE, "/v1/healthz", "GET"),
        (Method::PUT, "/v1/register", "POST"),
        (Method::POST, "/v1/healthz", "GET"),
    ] {
        let resp = s.server.request(method.clone(), path, &[], None).await?;
        let allow = resp.header("allow").unwrap_or("").to_owned();
        expect_code(resp, 405, "method_not_allowed", &format!("{method} {path}"))?;
        check!(
            allow.split(',').any(|m| m.trim() == allowed),
            "{method} {path}: Allow must list {allowed}, got {allow:?}"
        );
    }
    Ok(())
}
