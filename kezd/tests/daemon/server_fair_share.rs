//! Connections shared fairly (crate::server, crate::idle, crate::write_deadline): one client
//! address cannot hold more than its share of connections while another still connects, a
//! trusted proxy is not capped by its own address, an idle HTTP/2 connection is closed with
//! GOAWAY, and a live stream whose client stopped reading is cut off at the write deadline.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::kez::{Api, User, now_ms, start};
use common::{TestServer, config, read_response};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const HEALTHZ: &str = "GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// A connection to `server` from `local` (any 127.x address: all of 127/8 is loopback).
async fn connect_from(local: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{local}:0").parse().expect("address"))
        .expect("bind the client address");
    socket.connect(server).await.expect("TCP connect")
}

/// Whether a request on `stream` is answered; false when the server closed it unanswered.
async fn answered(stream: &mut TcpStream) -> bool {
    let _ = stream.write_all(HEALTHZ.as_bytes()).await;
    match tokio::time::timeout(Duration::from_secs(5), read_response(stream)).await {
        Ok(Ok(response)) => response.status == 200,
        Ok(Err(_)) => false,
        Err(_) => panic!("neither answered nor closed within 5 s"),
    }
}

/// A counter's value from the daemon's metrics.
fn metric(server: &TestServer, name: &str) -> u64 {
    let text = server.state.metrics().render();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not in the metrics"))
}

/// Waits until `done` holds, for at most `within`.
async fn until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn one_address_over_its_share_is_refused_while_another_connects() {
    let server = TestServer::start(config(|raw| raw.http.max_connections_per_address = 3)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect_from("127.0.0.1", server.addr).await;
        assert!(answered(&mut stream).await);
        held.push(stream);
    }

    let mut fourth = connect_from("127.0.0.1", server.addr).await;
    assert!(!answered(&mut fourth).await, "the fourth was served");
    assert_eq!(
        metric(&server, "kezd_connections_refused_per_address_total"),
        1
    );
    assert_eq!(metric(&server, "kezd_connections_refused_total"), 0);

    // Another address has its own share.
    let mut other = connect_from("127.0.0.2", server.addr).await;
    assert!(answered(&mut other).await, "another address was refused");

    // A freed slot is given back once the daemon sees the connection close.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = connect_from("127.0.0.1", server.addr).await;
        if answered(&mut stream).await {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_trusted_proxy_is_not_capped_by_its_own_address() {
    let server = TestServer::start(config(|raw| {
        raw.http.max_connections_per_address = 1;
        raw.trusted_proxies = vec!["127.0.0.3".into()];
    }))
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from("127.0.0.3", server.addr).await;
        assert!(answered(&mut stream).await, "the proxy was capped");
        held.push(stream);
    }
    assert_eq!(
        metric(&server, "kezd_connections_refused_per_address_total"),
        0
    );
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_with_goaway() {
    let idle = Duration::from_millis(300);
    let server = TestServer::start(config(|raw| {
        raw.http.idle_timeout_ms = u64::try_from(idle.as_millis()).expect("ms");
    }))
    .await;
    // HTTP/2 with prior knowledge over plain TCP (h2c).
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2 handshake");
    let closed = tokio::spawn(connection);

    let request = http::Request::get(format!("http://{}/v1/healthz", server.addr))
        .body(Empty::<bytes::Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("answered");
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.expect("body");
    let answered_at = Instant::now();

    // The connection ends by itself, gracefully, once idle for the timeout.
    let ended = tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the idle connection was closed")
        .expect("joined");
    let after = answered_at.elapsed();
    assert!(ended.is_ok(), "not a graceful close: {ended:?}");
    assert!(after >= idle.mul_f32(0.9), "closed too early: {after:?}");
    assert_eq!(metric(&server, "kezd_connections_idle_closed_total"), 1);
}

#[tokio::test]
async fn an_http2_connection_with_an_open_stream_is_not_idle() {
    let server = start(|raw| {
        raw.http.idle_timeout_ms = 200;
        raw.stream.keep_alive_secs = 1;
    })
    .await;
    let api = Api {
        base: format!("http://{}", server.addr),
        http: reqwest::Client::builder()
            .no_proxy()
            .http2_prior_knowledge()
            .build()
            .expect("client"),
    };
    let bob = User::new("bob", 2);
    api.register_ok(&bob).await;
    let mut stream = api.stream(&bob, None, false).await;
    stream.expect_retry().await;
    stream.expect_ready().await;
    // Two keep-alives a second apart: the stream outlives many idle timeouts.
    for _ in 0..2 {
        let frame = stream.next_frame().await.expect("the stream is open");
        assert!(frame.is_keep_alive(), "{frame:?}");
    }
    assert_eq!(metric(&server, "kezd_connections_idle_closed_total"), 0);
}

/// A daemon with a short write deadline, and bob's inbox filled with about 7 MB of
/// near-limit envelopes from alice: more than the socket buffers on both sides of a
/// connection hold (the daemon's send buffer grows to 4 MiB at most on Linux).
async fn full_inbox(edit: impl FnOnce(&mut kezd::config::RawConfig)) -> (TestServer, User) {
    let server = start(|raw| {
        raw.http.write_timeout_ms = 500;
        raw.rate.sender_per_minute = 1_000;
        edit(raw);
    })
    .await;
    let api = Api::of(&server);
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    let text = "k".repeat(STALLED_TEXT);
    for _ in 0..STALLED_MESSAGES {
        api.send_ok(&alice.envelope(&bob, now_ms(), &text)).await;
    }
    (server, bob)
}

/// Messages in [`full_inbox`], and the text in each.
const STALLED_MESSAGES: usize = 30;
const STALLED_TEXT: usize = 180_000;

/// Sends `request` from a client with a small receive buffer that then reads nothing; waits
/// for the daemon to cut it off at the write deadline, then checks the connection is closed
/// short of the whole answer.
async fn stalled_reader_is_cut_off(server: &TestServer, request: &str) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut client = socket.connect(server.addr).await.expect("connect");
    client.write_all(request.as_bytes()).await.expect("write");
    // What waits to be written is held against the memory budget meanwhile.
    until(
        Duration::from_secs(20),
        "the answer held in the budget",
        || server.state.budget().in_use() > 0,
    )
    .await;

    until(Duration::from_secs(20), "the write deadline", || {
        metric(server, "kezd_write_timeouts_total") == 1
    })
    .await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut received))
        .await
        .expect("the connection is closed");
    assert!(
        read.is_err() || received.len() < STALLED_MESSAGES * STALLED_TEXT,
        "the whole answer arrived: {} bytes",
        received.len()
    );
    until(Duration::from_secs(10), "the budget given back", || {
        server.state.budget().in_use() == 0
    })
    .await;
}

#[tokio::test]
async fn a_stream_whose_client_stopped_reading_is_cut_off() {
    let (server, bob) = full_inbox(|_| {}).await;
    let auth = bob.stream_credential(Some(0), common::kez::now_secs());
    let request = format!(
        "GET /v1/inbox/{}/stream?since=0&auth={auth} HTTP/1.1\r\nHost: x\r\n\r\n",
        bob.handle
    );
    stalled_reader_is_cut_off(&server, &request).await;
    until(Duration::from_secs(5), "the stream ends", || {
        server
            .state
            .metrics()
            .render()
            .contains("kezd_live_streams 0")
    })
    .await;
}

#[tokio::test]
async fn a_page_hyper_writes_to_a_client_that_stopped_reading_is_cut_off() {
    // One page holding the whole inbox, so the answer is larger than the socket buffers.
    // A page larger than socket buffers can absorb; twice it must fit one address's share.
    let (server, bob) = full_inbox(|raw| {
        raw.inbox.page_max_bytes = 64 << 20;
        raw.http.max_inflight_bytes_per_address = raw.http.max_inflight_bytes;
    })
    .await;
    let auth = bob.poll_credential(0, common::kez::now_secs());
    let request = format!(
        "GET /v1/inbox/{}?limit=500 HTTP/1.1\r\nHost: x\r\nX-Kez-Auth: {auth}\r\n\r\n",
        bob.handle
    );
    stalled_reader_is_cut_off(&server, &request).await;
}
