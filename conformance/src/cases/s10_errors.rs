//! SPEC §10 (and §12.3): the error envelope — JSON with `error` and `message`, stable codes
//! and statuses — for unknown routes, removed prototype routes, and methods a route does not
//! allow (405 with `Allow`); and the rules for routes, methods and query parameters: empty
//! segments, `HEAD`, `OPTIONS`, repeated parameters. Every other case checks the shape of the
//! errors it provokes.

use reqwest::Method;

use kez_spec::auth::AuthRequest;

use super::expect_code;
use crate::case::{Case, CaseResult, Single};
use crate::user::User;

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
            "another method on a known route is 405 method_not_allowed with an Allow header \
             that lists the route's methods and OPTIONS",
            |s| Box::pin(method_not_allowed(s)),
        ),
        Case::single(
            "s10.routes.empty_segment",
            &["§10", "§4.2", "§4.3"],
            "a path with an empty segment (/v1/u/, /v1/by-primary/, /v1/u/<handle>/) matches no \
             route: 404 not_found",
            |s| Box::pin(empty_segment(s)),
        ),
        Case::single(
            "s10.routes.head",
            &["§10"],
            "HEAD on a GET route has GET's status and content type and no body",
            |s| Box::pin(head(s)),
        ),
        Case::single(
            "s10.routes.options",
            &["§10"],
            "OPTIONS on an API path is 204 with Allow (the route's methods and OPTIONS) and the \
             CORS preflight headers",
            |s| Box::pin(options(s)),
        ),
        Case::single(
            "s10.query.repeated",
            &["§10", "§7.1", "§4.4"],
            "a query parameter a route reads, given twice, is 400 malformed_request (the \
             stream's auth included); WebFinger's rel may repeat",
            |s| Box::pin(repeated_query(s)),
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
        for listed in [allowed, "OPTIONS"] {
            check!(
                allow.split(',').any(|m| m.trim() == listed),
                "{method} {path}: Allow must list {listed}, got {allow:?}"
            );
        }
    }
    Ok(())
}

async fn empty_segment(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    for path in [
        "/v1/u/".to_owned(),
        "/v1/by-primary/".to_owned(),
        format!("/v1/u/{}/", user.handle),
        "/v1/inbox//ack".to_owned(),
    ] {
        let resp = s.server.get(&path).await?;
        expect_code(resp, 404, "not_found", &format!("GET {path}"))?;
    }
    Ok(())
}

async fn head(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    for (path, status) in [
        ("/v1/healthz".to_owned(), 200),
        (format!("/v1/u/{}", user.handle), 200),
        ("/v1/u/Not-A-Handle".to_owned(), 400),
        ("/v1/no-such-route".to_owned(), 404),
    ] {
        let resp = s.server.request(Method::HEAD, &path, &[], None).await?;
        check_eq!(resp.status, status, "HEAD {path}: the status GET has");
        check_eq!(
            resp.media_type(),
            "application/json",
            "HEAD {path}: GET's content type"
        );
        check!(resp.body.is_empty(), "HEAD {path}: a body was sent");
    }
    Ok(())
}

async fn options(s: Single) -> CaseResult {
    for (path, methods) in [
        ("/v1/healthz", &["GET", "HEAD", "OPTIONS"][..]),
        ("/v1/messages", &["POST", "OPTIONS"][..]),
        ("/v1/inbox/alice/stream", &["GET", "HEAD", "OPTIONS"][..]),
        ("/.well-known/webfinger", &["GET", "HEAD", "OPTIONS"][..]),
    ] {
        let resp = s.server.request(Method::OPTIONS, path, &[], None).await?;
        check_eq!(resp.status, 204, "OPTIONS {path}");
        for header in ["allow", "access-control-allow-methods"] {
            let value = resp.header(header).unwrap_or("").to_owned();
            for method in methods {
                check!(
                    value.split(',').any(|m| m.trim() == *method),
                    "OPTIONS {path}: {header} must list {method}, got {value:?}"
                );
            }
        }
        check_eq!(
            resp.header("access-control-allow-origin"),
            Some("*"),
            "OPTIONS {path}: Access-Control-Allow-Origin"
        );
        let headers = resp
            .header("access-control-allow-headers")
            .unwrap_or("")
            .to_ascii_lowercase();
        for needed in ["content-type", "x-kez-auth", "last-event-id"] {
            check!(
                headers.split(',').any(|h| h.trim() == needed),
                "OPTIONS {path}: Access-Control-Allow-Headers must name {needed}, got {headers:?}"
            );
        }
    }
    Ok(())
}

async fn repeated_query(s: Single) -> CaseResult {
    let user = User::registered(&s.server).await?;
    let poll = user.credential(AuthRequest::Poll {
        handle: &user.handle,
        since: 0,
    });
    let resp = user.poll_with("?since=0&since=0", Some(&poll)).await?;
    expect_code(resp, 400, "malformed_request", "since twice")?;
    let resp = user.poll_with("?limit=1&limit=2", Some(&poll)).await?;
    expect_code(resp, 400, "malformed_request", "limit twice")?;
    let live = user.credential(AuthRequest::StreamLive {
        handle: &user.handle,
    });
    let path = format!("/v1/inbox/{}/stream?auth={live}&auth={live}", user.handle);
    let resp = s.server.get(&path).await?;
    expect_code(resp, 400, "malformed_request", "auth twice")?;
    let resource = format!("acct:{}", user.address);
    let path = format!("/.well-known/webfinger?resource={resource}&resource={resource}");
    let resp = s.server.get(&path).await?;
    expect_code(resp, 400, "malformed_request", "resource twice")?;
    let path = format!("/.well-known/webfinger?resource={resource}&rel=self&rel=x");
    s.server.get(&path).await?.expect(200)?;
    Ok(())
}
