//! Transaction ids as the path carries them (SPEC §9.4): `.` and `..` are refused like every
//! id outside the grammar, before the request's signature is looked at, because URL handling
//! (a client's, a proxy's) would normalise them away from the path the origin signed. The
//! rule is kez-spec's `is_valid_txn_id`, the one the federation client applies when it sends.

use std::time::Duration;

use kez_testnet::Testnet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::net;

/// `PUT /v1/federation/txn/<id>` written byte for byte (no URL library in between to
/// normalise the path), without an `Authorization` header: the status and the body.
async fn put_unsigned(net: &Testnet, id: &str) -> (u16, serde_json::Value) {
    let node = net.node("b.test").expect("b.test runs");
    let mut stream = TcpStream::connect(node.addr()).await.expect("connect");
    let body = r#"{"origin":"a.test","envelopes":[]}"#;
    let request = format!(
        "PUT /v1/federation/txn/{id} HTTP/1.1\r\nHost: b.test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, serde_json::from_str(body).unwrap_or_default())
}

/// SPEC §9.4: `.` and `..` are 400 `malformed_request`, as a 65-character id is; an id of
/// the grammar reaches the signature check (401 without one), `...` included.
#[tokio::test]
async fn dot_and_dot_dot_are_refused_as_txn_ids() {
    let net = Testnet::builder(env!("CARGO_BIN_EXE_kezd"))
        .tls(false)
        .node_with("b.test", net::options(""))
        .start()
        .await
        .expect("testnet starts");
    for id in [".", "..", &"x".repeat(65)] {
        let (status, body) = put_unsigned(&net, id).await;
        assert_eq!(status, 400, "{id}: {body}");
        assert_eq!(body["error"], "malformed_request", "{id}: {body}");
    }
    for id in ["t1", "..."] {
        let (status, body) = put_unsigned(&net, id).await;
        assert_eq!(status, 401, "{id}: {body}");
    }
    net.shutdown().await.expect("testnet stops");
}
