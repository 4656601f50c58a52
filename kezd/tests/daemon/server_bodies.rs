//! Request bodies against hostile senders (SPEC §10, §13.6): a body that arrives too slowly
//! gets 408 `request_timeout` and its connection is closed, a body that does not fit the memory
//! budget gets 503 `unavailable` with `Retry-After`, one address past its share of the budget
//! gets 429 while others still fit, the budget's gauges on `/metrics` follow what is held, a
//! shutdown answers a body still arriving instead of waiting for it, HTTP/2's small
//! flow-control window still carries large bodies, and an HTTP/2 response stalled by a window
//! that never opens is cut off.

use crate::common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::kez::{Api, User, now_secs};
use common::{RawResponse, TestServer, client, config, read_response};
use http::{Method, StatusCode};
use kezd::body;
use kezd::config::RawConfig;
use kezd::handlers::{HandlerResult, RequestContext};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The smallest budget a configuration accepts: the largest body a route takes (a federation
/// transaction).
const BUDGET: u64 = 8 * 1024 * 1024;

/// Reads the whole body and answers its length.
async fn count_body(mut ctx: RequestContext) -> HandlerResult {
    let bytes = ctx.body_bytes().await?;
    body::json(StatusCode::OK, &serde_json::json!({ "len": bytes.len() }))
}

/// Answers [`BIG_RESPONSE`] bytes built in memory and held against the budget until written,
/// as a poll page is.
async fn big_response(ctx: RequestContext) -> HandlerResult {
    let held = ctx.budget().try_reserve(BIG_RESPONSE as u64)?;
    let bytes = body::reserved(vec![b'a'; BIG_RESPONSE], held);
    Ok(body::response(
        StatusCode::OK,
        "application/octet-stream",
        body::full(bytes),
    ))
}

/// Far more than an HTTP/2 flow-control window.
const BIG_RESPONSE: usize = 1024 * 1024;

/// A server with `POST /test/body`, which reads up to 8 MiB, and `GET /test/big`.
async fn server(edit: impl FnOnce(&mut RawConfig)) -> TestServer {
    TestServer::start_with(config(edit), |router| {
        router
            .route_with_body_limit(
                Method::POST,
                "/test/body",
                std::num::NonZeroUsize::new(BUDGET as usize).expect("non-zero"),
                count_body,
            )
            .route(Method::GET, "/test/big", big_response)
    })
    .await
}

/// Opens a connection and sends a request head with `framing` and the first body bytes.
async fn start_body(server: &TestServer, framing: &str, first: &[u8]) -> TcpStream {
    start_body_from(server, Ipv4Addr::LOCALHOST, framing, first).await
}

/// [`start_body`] from the client address `source` (any 127.x address reaches the server).
async fn start_body_from(
    server: &TestServer,
    source: Ipv4Addr,
    framing: &str,
    first: &[u8],
) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(source.into(), 0))
        .expect("bind the client address");
    let mut stream = socket.connect(server.addr).await.expect("connect");
    let head = format!("POST /test/body HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(first).await.expect("first bytes");
    stream
}

/// The response, waited for (not slept for), within `within`.
async fn answer(stream: &mut TcpStream, within: Duration) -> RawResponse {
    tokio::time::timeout(within, read_response(stream))
        .await
        .expect("answered in time")
        .expect("a response")
}

fn error_code(response: &RawResponse) -> String {
    let json: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON body");
    assert_eq!(response.header("content-type"), Some("application/json"));
    json["error"].as_str().expect("code").to_owned()
}

/// A body of 1,000 bytes is read and answered.
async fn small_body_fits(server: &TestServer) {
    let small = client()
        .post(server.url("/test/body"))
        .body(vec![b'a'; 1000])
        .send()
        .await
        .expect("request");
    assert_eq!(small.status(), 200);
}

/// Waits until the connection is closed by the server (EOF or reset).
async fn closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection");
    assert!(read.is_err() || rest.is_empty(), "more after the answer");
}

/// The value of an unlabelled series on `/metrics`.
async fn gauge(server: &TestServer, name: &str) -> u64 {
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Scrapes until `name` is `value`: the gauge follows events the test cannot observe directly.
async fn gauge_reaches(server: &TestServer, name: &str, value: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = gauge(server, name).await;
        if now == value {
            return;
        }
        assert!(Instant::now() < deadline, "{name} stays {now}, not {value}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_body_stalled_past_its_deadline_gets_408_json_and_the_connection_closes() {
    let server = server(|raw| {
        raw.http.body_timeout_ms = 500;
        raw.http.body_min_bytes_per_sec = 0;
    })
    .await;
    for (framing, first) in [
        ("Content-Length: 1000", &b"{\"a\":"[..]),
        ("Transfer-Encoding: chunked", &b"5\r\n{\"a\":\r\n"[..]),
    ] {
        let mut stream = start_body(&server, framing, first).await;
        let started = Instant::now();
        let response = answer(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(response.status, 408, "{framing}: {}", response.head);
        assert_eq!(error_code(&response), "request_timeout");
        assert!(started.elapsed() >= Duration::from_millis(400), "{framing}");
        closed(&mut stream).await;
    }
    assert_eq!(server.state.budget().in_use(), 0);
}

#[tokio::test]
async fn a_trickle_under_the_minimum_rate_gets_408() {
    // The whole-body deadline is far away: only the rate can end this body. It is cut off when
    // the grace and the time its few bytes bought run out.
    let server = server(|raw| {
        raw.http.body_timeout_ms = 60_000;
        raw.http.body_min_bytes_per_sec = 1024;
    })
    .await;
    let stream = start_body(&server, "Transfer-Encoding: chunked", b"").await;
    let started = Instant::now();
    // Ten bytes a second, until the server stops reading; its answer is read meanwhile.
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        while started.elapsed() < Duration::from_secs(20) {
            if writer.write_all(b"1\r\na\r\n").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let got = tokio::time::timeout(Duration::from_secs(15), async {
        while !head.ends_with(b"\r\n\r\n") && reader.read(&mut byte).await.unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
    })
    .await;
    writing.abort();
    assert!(got.is_ok(), "answered within the grace and its credit");
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(10),
        "cut off after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_budget_gets_503_with_retry_after_and_the_gauges_follow() {
    let server = server(|raw| raw.http.max_inflight_bytes = BUDGET).await;
    assert_eq!(gauge(&server, "kezd_inflight_bytes_budget").await, BUDGET);
    assert_eq!(gauge(&server, "kezd_inflight_bytes").await, 0);

    // One body of 6 MiB held open: its declared length is reserved before it arrives.
    let held_len: u64 = 6 * 1024 * 1024;
    let held = start_body(&server, &format!("Content-Length: {held_len}"), b"x").await;
    gauge_reaches(&server, "kezd_inflight_bytes", held_len).await;

    // A second one does not fit: refused before a byte of it is read.
    let mut refused = start_body(&server, &format!("Content-Length: {held_len}"), b"").await;
    let response = answer(&mut refused, Duration::from_secs(5)).await;
    assert_eq!(response.status, 503, "{}", response.head);
    assert_eq!(error_code(&response), "unavailable");
    let retry_after: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);

    // A small body still fits beside the held one.
    small_body_fits(&server).await;

    // The sender gives up: the bytes come back.
    drop(held);
    gauge_reaches(&server, "kezd_inflight_bytes", 0).await;
    let big = client()
        .post(server.url("/test/body"))
        .body(vec![b'a'; held_len as usize])
        .send()
        .await
        .expect("request");
    assert_eq!(big.status(), 200);
    gauge_reaches(&server, "kezd_inflight_bytes", 0).await;
}

#[tokio::test]
async fn one_address_holds_only_its_share_of_the_budget_and_gets_429_past_it() {
    let server = server(|raw| {
        // Three addresses holding 6 MiB each fit; a fourth does not.
        raw.http.max_inflight_bytes = 20 * 1024 * 1024;
        raw.http.max_inflight_bytes_per_address = BUDGET;
    })
    .await;
    let held_len: u64 = 6 * 1024 * 1024;
    let framing = format!("Content-Length: {held_len}");
    let first = Ipv4Addr::LOCALHOST;
    let _held = start_body_from(&server, first, &framing, b"x").await;
    gauge_reaches(&server, "kezd_inflight_bytes", held_len).await;

    // The same address again: over its share, refused before a byte is read, with 429.
    let mut refused = start_body_from(&server, first, &framing, b"").await;
    let response = answer(&mut refused, Duration::from_secs(5)).await;
    assert_eq!(response.status, 429, "{}", response.head);
    assert_eq!(error_code(&response), "rate_limited");
    assert!(response.header("retry-after").is_some());

    // Two other addresses each hold as much: the total has room for them.
    let _second = start_body_from(&server, Ipv4Addr::new(127, 0, 0, 2), &framing, b"x").await;
    let _third = start_body_from(&server, Ipv4Addr::new(127, 0, 0, 3), &framing, b"x").await;
    gauge_reaches(&server, "kezd_inflight_bytes", 3 * held_len).await;
    assert_eq!(gauge(&server, "kezd_inflight_clients").await, 3);

    // A small body from the first address still fits what is left of its share.
    small_body_fits(&server).await;

    // A fourth address: its share is free, but the total is not.
    let mut full = start_body_from(&server, Ipv4Addr::new(127, 0, 0, 4), &framing, b"").await;
    let response = answer(&mut full, Duration::from_secs(5)).await;
    assert_eq!(response.status, 503, "{}", response.head);
    assert_eq!(error_code(&response), "unavailable");
}

#[tokio::test]
async fn a_chunked_body_growing_past_the_budget_gets_503() {
    let server = server(|raw| raw.http.max_inflight_bytes = BUDGET).await;
    let held_len: u64 = 6 * 1024 * 1024;
    let _held = start_body(&server, &format!("Content-Length: {held_len}"), b"x").await;
    gauge_reaches(&server, "kezd_inflight_bytes", held_len).await;

    let mut stream = start_body(&server, "Transfer-Encoding: chunked", b"").await;
    let chunk = vec![b'a'; 64 * 1024];
    let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
    frame.extend_from_slice(&chunk);
    frame.extend_from_slice(b"\r\n");
    // 4 MiB would fit the route's limit but not what is left of the budget. The server may
    // stop reading before everything is written; its answer is what counts.
    for _ in 0..64 {
        if stream.write_all(&frame).await.is_err() {
            break;
        }
    }
    let response = answer(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(response.status, 503, "{}", response.head);
    assert_eq!(error_code(&response), "unavailable");
    assert!(response.header("retry-after").is_some());
    gauge_reaches(&server, "kezd_inflight_bytes", held_len).await;
}

#[tokio::test]
async fn a_shutdown_answers_a_body_still_arriving() {
    // The drain would wait 30 s for this body; the answer must come at once instead.
    let mut server = server(|raw| raw.http.drain_timeout_ms = 30_000).await;
    let mut stream = start_body(&server, "Content-Length: 1000", b"{\"a\":").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.state.budget().in_use() == 0 {
        assert!(Instant::now() < deadline, "the body was never read");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let stopping = Instant::now();
    server.signal_stop();
    let response = answer(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(response.status, 503, "{}", response.head);
    assert_eq!(error_code(&response), "unavailable");
    assert!(response.header("retry-after").is_some());
    closed(&mut stream).await;
    server
        .join(Duration::from_secs(5))
        .await
        .expect("serve ends");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn large_bodies_flow_through_the_small_http2_window() {
    // The window is 64 KiB per connection and stream: kezd must keep reading (and so granting
    // window) for bodies far larger, several at once on one connection.
    let server = server(|_| {}).await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let sizes = [262_144_usize, 1_000_000, 3 * 1024 * 1024];
    let sends = sizes.map(|len| {
        let request = h2.post(server.url("/test/body")).body(vec![b'a'; len]);
        async move { (len, request.send().await.expect("request")) }
    });
    for (len, response) in futures_util::future::join_all(sends).await {
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        assert_eq!(common::json(response).await["len"], len);
    }
    gauge_reaches(&server, "kezd_inflight_bytes", 0).await;
}

/// An HTTP/2 client that answers pings but never opens its window for a response: once the
/// response is buffered nothing is in progress, the idle GOAWAY comes, and the connection is
/// dropped the write timeout after it, giving back the bytes held for the response.
#[tokio::test]
async fn an_http2_stream_stalled_by_its_window_is_cut_off_and_its_bytes_come_back() {
    let server = server(|raw| {
        raw.http.idle_timeout_ms = 300;
        raw.http.write_timeout_ms = 300;
    })
    .await;
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let (mut h2, connection) = h2::client::Builder::new()
        .initial_window_size(1024)
        .handshake::<_, bytes::Bytes>(tcp)
        .await
        .expect("HTTP/2 handshake");
    // Driven in its own task, which answers the server's pings: a live peer.
    let connection = tokio::spawn(connection);
    let request = http::Request::get(server.url("/test/big"))
        .body(())
        .expect("request");
    let (response, _) = h2.send_request(request, true).expect("stream");
    let response = response.await.expect("response head");
    assert_eq!(response.status(), 200);
    // The body is never read, so its window never opens past the first KiB.
    let _stalled = response.into_body();
    gauge_reaches(&server, "kezd_inflight_bytes", BIG_RESPONSE as u64).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(ended.is_ok(), "the server closed the stalled connection");
    gauge_reaches(&server, "kezd_inflight_bytes", 0).await;
}

/// SPEC §8.2, §13.6: a poll holds its envelopes and its page against the same budget as
/// bodies. With the budget just large enough for one poll (twice `page_max_bytes`), a poll is
/// answered while nothing else is held, refused 503 with `Retry-After` while a body holds a
/// little of the budget, and answered again once that body is gone.
#[tokio::test]
async fn a_poll_is_held_against_the_budget() {
    let server = server(|raw| {
        raw.http.max_inflight_bytes = BUDGET;
        raw.inbox.page_max_bytes = BUDGET / 2;
    })
    .await;
    let bob = User::new("bob", 2);
    Api::of(&server).register_ok(&bob).await;
    let poll = || async {
        client()
            .get(server.url(&format!("/v1/inbox/{}", bob.handle)))
            .header("x-kez-auth", bob.poll_credential(0, now_secs()))
            .send()
            .await
            .expect("poll")
    };
    assert_eq!(poll().await.status(), 200);

    let held = start_body(&server, "Content-Length: 1000", b"x").await;
    gauge_reaches(&server, "kezd_inflight_bytes", 1000).await;
    let refused = poll().await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));

    drop(held);
    gauge_reaches(&server, "kezd_inflight_bytes", 0).await;
    assert_eq!(poll().await.status(), 200);
}
