//! The browser app compiled into kezd: served at `/` with no web directory configured, its
//! security headers, revalidation by entity tag, and the fallback rule — client-side routes
//! get `index.html`, while nothing under `/v1/` or `/.well-known/` ever does (SPEC §10's JSON
//! 404 stays).

use crate::common;

use common::{TestServer, client, config};

/// Asserts the app's security headers on `response`.
fn assert_app_headers(response: &reqwest::Response) {
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    for directive in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn the_app_is_served_at_the_root_without_a_web_dir() {
    let server = TestServer::start(config(|_| {})).await;
    let index = client().get(server.url("/")).send().await.expect("request");
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert_app_headers(&index);
    let page = index.text().await.expect("text");
    assert!(page.contains("<script type=\"module\""), "{page}");
    assert!(!page.contains("<script>"), "inline script in {page}");

    let js = client()
        .get(server.url("/assets/app.js"))
        .send()
        .await
        .expect("request");
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_app_headers(&js);
    let etag = js.headers()["etag"].clone();
    assert!(!js.bytes().await.expect("body").is_empty());

    let again = client()
        .get(server.url("/assets/app.js"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
    assert!(again.bytes().await.expect("body").is_empty());

    let css = client()
        .get(server.url("/assets/style.css"))
        .send()
        .await
        .expect("request");
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");

    let head = client()
        .head(server.url("/"))
        .send()
        .await
        .expect("request");
    assert_eq!(head.status(), 200);
    assert_app_headers(&head);
}

#[tokio::test]
async fn app_routes_fall_back_to_the_index_but_api_paths_never_do() {
    let server = TestServer::start(config(|_| {})).await;
    let index = client()
        .get(server.url("/"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    for route in ["/chat", "/chat/bob", "/unlock/"] {
        let response = client()
            .get(server.url(route))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{route}");
        assert_app_headers(&response);
        assert_eq!(response.text().await.expect("text"), index, "{route}");
    }
    for path in [
        "/v1",
        "/v1/",
        "/v1/nothing",
        "/v1/u/alice/extra/segments",
        "/.well-known",
        "/.well-known/",
        "/.well-known/nothing",
        "/missing.js",
        "/assets/missing.css",
    ] {
        let response = client()
            .get(server.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        assert!(
            response.headers().get("content-security-policy").is_none(),
            "{path}"
        );
        let body: serde_json::Value = response.json().await.expect("JSON error body");
        assert_eq!(body["error"], "not_found", "{path}");
    }
}
