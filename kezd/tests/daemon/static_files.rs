//! The browser app from the web directory: content types and caching, the SPA fallback, and
//! that no path — `..`, encoded `..`, a symlink — reaches a file outside the directory.

use crate::common;

use std::path::Path;

use common::{TestServer, client, config, raw_exchange};

const SECRET: &str = "outside-the-web-dir";

/// `root/web` with an app, and `root/secret.txt` beside it (plus a symlink to it inside).
fn web_dir(root: &Path) -> String {
    let web = root.join("web");
    std::fs::create_dir_all(web.join("assets")).expect("mkdir");
    std::fs::write(web.join("index.html"), "<!doctype html><title>app</title>").expect("write");
    std::fs::write(web.join("assets/app.js"), "console.log(1)").expect("write");
    std::fs::write(web.join("assets/style.css"), "body{}").expect("write");
    std::fs::write(web.join(".env"), SECRET).expect("write");
    std::fs::write(root.join("secret.txt"), SECRET).expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("secret.txt"), web.join("link.txt")).expect("symlink");
    web.display().to_string()
}

#[tokio::test]
async fn files_have_their_types_and_cache_policy() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = web_dir(root.path());
    let server = TestServer::start(config(|raw| raw.web_dir = Some(dir))).await;

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
    assert_eq!(js.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    assert_eq!(js.text().await.expect("text"), "console.log(1)");

    let css = client()
        .get(server.url("/assets/style.css"))
        .send()
        .await
        .expect("request");
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");

    let index = client().get(server.url("/")).send().await.expect("request");
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn app_routes_fall_back_to_index_but_api_and_files_do_not() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = web_dir(root.path());
    let server = TestServer::start(config(|raw| raw.web_dir = Some(dir))).await;

    let app_route = client()
        .get(server.url("/chat/alice"))
        .send()
        .await
        .expect("request");
    assert_eq!(app_route.status(), 200);
    assert_eq!(app_route.headers()["cache-control"], "no-cache");
    assert!(
        app_route
            .text()
            .await
            .expect("text")
            .contains("<title>app</title>")
    );

    for path in ["/missing.png", "/v1/unknown", "/.well-known/unknown"] {
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
    }
}

#[tokio::test]
async fn no_path_escapes_the_web_dir() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = web_dir(root.path());
    let server = TestServer::start(config(|raw| raw.web_dir = Some(dir))).await;
    // Raw requests: a client library would normalise these paths before sending them.
    for path in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/link.txt",
        "/.env",
        "/assets/..%5c..%5csecret.txt",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let response = raw_exchange(server.addr, &request).await;
        let body = String::from_utf8_lossy(&response.body);
        assert!(!body.contains(SECRET), "{path} leaked the file");
        assert_eq!(response.status, 404, "{path}");
    }
}
