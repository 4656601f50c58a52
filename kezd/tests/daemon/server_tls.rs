//! HTTPS with a certificate from PEM files, and HTTP/2 negotiated by ALPN (not assumed by
//! prior knowledge), with a test CA made here and verification left on.

use crate::common;

use std::path::Path;

use common::{TestServer, config};
use kezd::server::ServeError;

/// A self-signed certificate for `localhost`, written as PEM files into `dir`; returns the
/// certificate PEM for clients to trust.
fn write_certificate(dir: &Path) -> String {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_pem = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).expect("write cert");
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).expect("write key");
    cert_pem
}

async fn tls_server(dir: &Path) -> TestServer {
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    TestServer::start(config(move |raw| {
        raw.tls.cert = Some(cert);
        raw.tls.key = Some(key);
    }))
    .await
}

#[tokio::test]
async fn https_serves_http2_negotiated_by_alpn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_pem = write_certificate(dir.path());
    let server = tls_server(dir.path()).await;

    let certificate = reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("pem");
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([certificate])
        .resolve("localhost", server.addr)
        .build()
        .expect("client");
    let response = client
        .get(format!(
            "https://localhost:{}/v1/healthz",
            server.addr.port()
        ))
        .send()
        .await
        .expect("HTTPS request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json")["status"],
        "ok"
    );
}

async fn negotiated(server: &TestServer, cert_pem: &str, offer: &[&[u8]]) -> Option<Vec<u8>> {
    let stream = common::tls_connect(server.addr, &[cert_pem], offer).await;
    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

#[tokio::test]
async fn alpn_prefers_h2_and_falls_back_to_http1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert_pem = write_certificate(dir.path());
    let server = tls_server(dir.path()).await;
    assert_eq!(
        negotiated(&server, &cert_pem, &[b"http/1.1", b"h2"]).await,
        Some(b"h2".to_vec())
    );
    assert_eq!(
        negotiated(&server, &cert_pem, &[b"http/1.1"]).await,
        Some(b"http/1.1".to_vec())
    );
}

#[tokio::test]
async fn an_unusable_certificate_fails_serve_before_accepting() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").expect("write");
    std::fs::write(dir.path().join("key.pem"), "not a key").expect("write");
    let server = tls_server(dir.path()).await;
    let result = server.join(std::time::Duration::from_secs(5)).await;
    assert!(matches!(result, Err(ServeError::Tls(_))), "{result:?}");
}
