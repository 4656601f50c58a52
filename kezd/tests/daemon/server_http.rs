//! The HTTP surface every route shares: health (SPEC §4.5), JSON errors for unknown paths and
//! wrong methods (SPEC §10), CORS, request ids, panics, path and query parameters, metrics.

use crate::common;

use common::{TestServer, client, config, json};
use http::{Method, StatusCode};
use kezd::body;
use kezd::handlers::{HandlerResult, RequestContext};

#[tokio::test]
async fn healthz_names_the_server_and_version() {
    let server = TestServer::start(config(|raw| raw.server_name = "kez.example".into())).await;
    let response = client()
        .get(server.url("/v1/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body = json(response).await;
    assert_eq!(
        body,
        serde_json::json!({
            "server": "kez.example",
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        })
    );
}

#[tokio::test]
async fn unknown_path_is_a_json_not_found() {
    let server = TestServer::start(config(|_| {})).await;
    // Outside the API, a path with an extension is a missing file (an extension-less one is
    // the browser app's route, web_app.rs).
    for path in [
        "/v1/nope",
        "/v1/healthz/",
        "/.well-known/nothing",
        "/nope.txt",
    ] {
        let response = client()
            .get(server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = json(response).await;
        assert_eq!(body["error"], "not_found", "{path}");
        assert!(body["message"].is_string());
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let server = TestServer::start(config(|_| {})).await;
    let response = client()
        .delete(server.url("/v1/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
    // SPEC §10: on an API path, Allow lists OPTIONS too.
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    assert_eq!(json(response).await["error"], "method_not_allowed");
}

#[tokio::test]
async fn head_is_served_by_get_without_a_body() {
    let server = TestServer::start(config(|_| {})).await;
    let response = client()
        .head(server.url("/v1/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn cors_preflight_and_headers() {
    let server = TestServer::start(config(|_| {})).await;
    let response = client()
        .request(Method::OPTIONS, server.url("/v1/healthz"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-kez-auth")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let h = response.headers();
    assert_eq!(h["allow"], "GET, HEAD, OPTIONS");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["access-control-allow-methods"], "GET, HEAD, OPTIONS");
    assert_eq!(
        h["access-control-allow-headers"],
        "Content-Type, X-KEZ-Auth, Last-Event-ID, KEZ-Registration-Token, X-Request-Id"
    );
    assert_eq!(h["access-control-max-age"], "86400");

    let unknown = client()
        .request(Method::OPTIONS, server.url("/v1/unknown"))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), 404);

    let error = client()
        .get(server.url("/v1/unknown"))
        .send()
        .await
        .expect("request");
    assert_eq!(error.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        error.headers()["access-control-expose-headers"],
        "Retry-After, X-Request-Id"
    );
}

#[tokio::test]
async fn request_ids_are_kept_when_sane_and_made_otherwise() {
    let server = TestServer::start(config(|_| {})).await;
    let kept = client()
        .get(server.url("/v1/healthz"))
        .header("x-request-id", "edge-42.a")
        .send()
        .await
        .expect("request");
    assert_eq!(kept.headers()["x-request-id"], "edge-42.a");
    let replaced = client()
        .get(server.url("/v1/healthz"))
        .header("x-request-id", "no spaces {allowed}")
        .send()
        .await
        .expect("request");
    let id = replaced.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 16);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
}

async fn panics(_ctx: RequestContext) -> HandlerResult {
    panic!("a handler bug");
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_server_lives_on() {
    let server = TestServer::start_with(config(|_| {}), |router| {
        router.route(Method::GET, "/v1/panic", panics)
    })
    .await;
    let response = client()
        .get(server.url("/v1/panic"))
        .send()
        .await
        .expect("a response, not a dropped connection");
    assert_eq!(response.status(), 500);
    let body = json(response).await;
    assert_eq!(body["error"], "internal");
    assert!(
        !body["message"].as_str().unwrap_or_default().contains("bug"),
        "panic text stays in the log"
    );
    let after = client()
        .get(server.url("/v1/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(after.status(), 200);
}

async fn echo_params(ctx: RequestContext) -> HandlerResult {
    let handle: String = ctx.param("handle")?;
    let since: Option<u64> = ctx.query("since")?;
    let auth: Option<String> = ctx.query("auth")?;
    body::json(
        StatusCode::OK,
        &serde_json::json!({ "handle": handle, "since": since, "auth": auth }),
    )
}

/// Query values are decoded; a path parameter is the segment as sent, escapes and all (SPEC
/// §7.7), for the handler's type to accept or refuse.
#[tokio::test]
async fn path_parameters_are_as_sent_and_query_parameters_decoded() {
    let server = TestServer::start_with(config(|_| {}), |router| {
        router.route(Method::GET, "/test/echo/{handle}", echo_params)
    })
    .await;
    let ok = client()
        .get(server.url("/test/echo/al%69ce?since=7&auth=1700000000%3Aab"))
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        json(ok).await,
        serde_json::json!({"handle": "al%69ce", "since": 7, "auth": "1700000000:ab"})
    );
    for bad in [
        "/test/echo/alice?since=x",
        "/test/echo/alice?since=1&since=2",
        "/test/echo/alice?auth=%zz",
    ] {
        let response = client().get(server.url(bad)).send().await.expect("request");
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(json(response).await["error"], "malformed_request", "{bad}");
    }
}

#[tokio::test]
async fn metrics_label_by_route_pattern_not_raw_path() {
    let server = TestServer::start_with(config(|_| {}), |router| {
        router.route(Method::GET, "/test/echo/{handle}", echo_params)
    })
    .await;
    for handle in ["alice", "bob"] {
        let path = format!("/test/echo/{handle}");
        let response = client()
            .get(server.url(&path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
    }
    let _ = client().get(server.url("/v1/secret-path")).send().await;
    let response = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.expect("text");
    assert!(
        text.contains("kezd_http_requests_total{route=\"/test/echo/{handle}\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(text.contains("kezd_http_requests_total{route=\"unmatched\",status=\"404\"} 1"));
    assert!(!text.contains("alice") && !text.contains("secret-path"));
    assert!(
        text.contains("kezd_http_request_duration_seconds_count{route=\"/test/echo/{handle}\"} 2")
    );
    assert!(text.contains("kezd_connections_open "));
}
