//! Limits against hostile peers: body limits enforced while reading (SPEC §6.5), the header
//! timeout against slowloris, the connection cap, the per-client rate limit with Retry-After
//! (SPEC §11), and forwarded addresses believed only from trusted proxies.

use crate::common;

use std::time::{Duration, Instant};

use common::{TestServer, client, config, json, raw_exchange, read_response};
use http::{Method, StatusCode};
use kezd::body;
use kezd::handlers::{HandlerResult, RequestContext};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads the whole body and answers its length.
async fn count_body(mut ctx: RequestContext) -> HandlerResult {
    let bytes = ctx.body_bytes().await?;
    body::json(StatusCode::OK, &serde_json::json!({ "len": bytes.len() }))
}

/// A server with `POST /test/messages` at the message limit and `POST /v1/small` at the
/// default limit, set to 64 KiB, both counting their body.
async fn server_with_body_routes() -> TestServer {
    let config = config(|raw| raw.http.max_body_bytes = 65_536);
    let message_limit = config.http.max_message_bytes;
    TestServer::start_with(config, move |router| {
        router
            .route_with_body_limit(Method::POST, "/test/messages", message_limit, count_body)
            .route(Method::POST, "/v1/small", count_body)
    })
    .await
}

#[tokio::test]
async fn body_limits_are_per_route_and_exact() {
    let server = server_with_body_routes().await;
    let limit = 262_144;
    let at_limit = client()
        .post(server.url("/test/messages"))
        .body(vec![b'a'; limit])
        .send()
        .await
        .expect("request");
    assert_eq!(at_limit.status(), 200);
    assert_eq!(json(at_limit).await["len"], limit);

    let over = client()
        .post(server.url("/test/messages"))
        .body(vec![b'a'; limit + 1])
        .send()
        .await
        .expect("request");
    assert_eq!(over.status(), 413);
    assert_eq!(json(over).await["error"], "payload_too_large");

    // 100 KB fits the message route but not the default limit, set to 64 KiB.
    let small = client()
        .post(server.url("/v1/small"))
        .body(vec![b'a'; 100_000])
        .send()
        .await
        .expect("request");
    assert_eq!(small.status(), 413);
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_sent() {
    let server = server_with_body_routes().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"POST /test/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n")
        .await
        .expect("write head");
    // Not one body byte is sent: the answer must come from the header alone.
    let response = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
        .await
        .expect("answered without the body")
        .expect("response");
    assert_eq!(response.status, 413);
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_at_the_limit_not_buffered() {
    let server = server_with_body_routes().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"POST /test/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .expect("write head");
    // Send 320 KiB of a body that would be 10 MB, then stop sending without ending it: a
    // server that buffered the whole body would wait here forever.
    let chunk = vec![b'a'; 16 * 1024];
    for _ in 0..20 {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(&chunk);
        frame.extend_from_slice(b"\r\n");
        stream.write_all(&frame).await.expect("write chunk");
    }
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
        .await
        .expect("answered before the body ended")
        .expect("response");
    assert_eq!(response.status, 413);
    assert!(String::from_utf8_lossy(&response.body).contains("payload_too_large"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let server = TestServer::start(config(|raw| raw.http.header_read_timeout_ms = 300)).await;
    for partial in [
        &b"GET /v1/healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "[..],
        &b""[..],
    ] {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(partial).await.expect("write");
        let started = Instant::now();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("the server closes the connection");
        let elapsed = started.elapsed();
        // Closed (EOF or reset), possibly after a 408; never a real answer.
        if closed.is_ok() && !rest.is_empty() {
            assert!(
                rest.starts_with(b"HTTP/1.1 408"),
                "{:?}",
                String::from_utf8_lossy(&rest)
            );
        }
        assert!(
            elapsed >= timeout.mul_f32(0.8),
            "closed too early: {elapsed:?}"
        );
        assert!(elapsed < timeout * 5, "closed too late: {elapsed:?}");
    }
}

#[tokio::test]
async fn connections_over_the_limit_are_closed() {
    let server = TestServer::start(config(|raw| raw.http.max_connections = 2)).await;
    let request = "GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let response = read_response(&mut stream).await.expect("served");
        assert_eq!(response.status, 200);
        held.push(stream);
    }

    let mut third = TcpStream::connect(server.addr).await.expect("TCP connect");
    let _ = third.write_all(request.as_bytes()).await;
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buffer))
        .await
        .expect("the third connection is closed");
    assert!(
        read.is_err() || buffer.is_empty(),
        "the third connection was served"
    );
    assert!(
        server
            .state
            .metrics()
            .render()
            .contains("kezd_connections_refused_total 1")
    );

    // Freeing a slot lets a new connection in.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        let _ = stream.write_all(request.as_bytes()).await;
        if let Ok(Ok(response)) =
            tokio::time::timeout(Duration::from_secs(1), read_response(&mut stream)).await
        {
            assert_eq!(response.status, 200);
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_flood_gets_429_with_retry_after_held_until_it_may_retry() {
    let server = TestServer::start(config(|raw| raw.rate.client_per_minute = 3)).await;
    for _ in 0..3 {
        let ok = client()
            .get(server.url("/v1/healthz"))
            .send()
            .await
            .expect("request");
        assert_eq!(ok.status(), 200);
    }
    let asked = Instant::now();
    let limited = client()
        .get(server.url("/v1/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(limited.status(), 429);
    // Held until the moment its Retry-After names, at most a second (refusal_hold.rs): a flood
    // that asks again at once gets one answer per connection per second, not one per request
    // kezd could write.
    let held = asked.elapsed();
    assert!(
        held >= kezd::refusal_hold::MAX_HOLD,
        "answered after {held:?}"
    );
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.headers()["access-control-allow-origin"], "*");
    assert_eq!(json(limited).await["error"], "rate_limited");
}

fn forwarded_request(client_addr: &str) -> String {
    format!(
        "GET /v1/healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client_addr}\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Trusted: each forwarded client has its own budget of 2.
    let trusted = TestServer::start(config(|raw| {
        raw.rate.client_per_minute = 2;
        raw.trusted_proxies = vec!["127.0.0.0/8".into()];
    }))
    .await;
    for _ in 0..2 {
        assert_eq!(
            raw_exchange(trusted.addr, &forwarded_request("203.0.113.1"))
                .await
                .status,
            200
        );
    }
    assert_eq!(
        raw_exchange(trusted.addr, &forwarded_request("203.0.113.1"))
            .await
            .status,
        429
    );
    assert_eq!(
        raw_exchange(trusted.addr, &forwarded_request("203.0.113.2"))
            .await
            .status,
        200
    );
    // A spoofed leftmost hop does not help: the proxy appended the real client last.
    let spoofed = forwarded_request("198.51.100.9, 203.0.113.1");
    assert_eq!(raw_exchange(trusted.addr, &spoofed).await.status, 429);

    // Untrusted: the header is ignored and every request counts against the peer.
    let untrusted = TestServer::start(config(|raw| {
        raw.rate.client_per_minute = 2;
        raw.trusted_proxies = vec!["10.0.0.0/8".into()];
    }))
    .await;
    let statuses = [
        raw_exchange(untrusted.addr, &forwarded_request("203.0.113.1"))
            .await
            .status,
        raw_exchange(untrusted.addr, &forwarded_request("203.0.113.2"))
            .await
            .status,
        raw_exchange(untrusted.addr, &forwarded_request("203.0.113.3"))
            .await
            .status,
    ];
    assert_eq!(statuses, [200, 200, 429]);
}
