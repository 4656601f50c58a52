//! Slow heads and idle connections: a slowloris client sends its request head one byte at a
//! time; an HTTP/1.1 client keeps its connection open after one answer and sends nothing; an
//! HTTP/2 client (h2c, prior knowledge) does the same with no stream open, answering kezd's
//! pings so that only an idle timeout can drop it. Each must be closed once `[http]
//! header_read_timeout_ms` (HTTP/1) or `idle_timeout_ms` (HTTP/2) has passed, so none of them
//! holds a connection slot for ever.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "slow_heads",
    proves: "a head trickled byte by byte, an idle HTTP/1.1 keep-alive connection and an idle \
             HTTP/2 connection are closed after header_read_timeout_ms / idle_timeout_ms",
    timeout: Duration::from_secs(60),
    run,
};

/// The configured header and idle timeouts.
const TIMEOUT: Duration = Duration::from_millis(1500);

/// How long after the timeout the close may come on a busy machine.
const GRACE: Duration = Duration::from_secs(5);

/// The slowloris pace: one byte of a header value this often, at most this many bytes.
const EVERY: Duration = Duration::from_millis(100);
const PIECES: usize = 300;

const SETTINGS: &[(&str, &str)] = &[
    ("http.header_read_timeout_ms", "1500"),
    ("http.idle_timeout_ms", "1500"),
];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let (slowloris, h1, h2) =
        tokio::join!(slowloris(&daemon), idle_http1(&daemon), idle_http2(&daemon));
    let figures = vec![slowloris?, h1?, h2?];
    daemon.check_alive().await?;
    Ok(figures)
}

/// A head that never ends, one byte at a time.
async fn slowloris(daemon: &Daemon) -> Result<String, Fail> {
    let stream = connect(daemon).await?;
    let head = format!(
        "GET /v1/healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
        daemon.host()
    );
    let started = Instant::now();
    let pieces = vec![b"a".to_vec(); PIECES];
    let (reply, _) = wire::trickle(
        stream,
        head.as_bytes(),
        pieces,
        EVERY,
        started + TIMEOUT + GRACE,
    )
    .await;
    let took = started.elapsed();
    match reply {
        Reply::Closed => Ok(format!("slowloris head: closed after {took:?}")),
        Reply::Answer(answer) if answer.status == 408 || answer.status == 400 => {
            Ok(format!("slowloris head: {} after {took:?}", answer.status))
        }
        other => fail!(
            "a head trickled one byte per {EVERY:?}: {} after {took:?} (header timeout \
             {TIMEOUT:?})",
            other.describe()
        ),
    }
}

/// One request on HTTP/1.1 keep-alive, then silence.
async fn idle_http1(daemon: &Daemon) -> Result<String, Fail> {
    let mut stream = connect(daemon).await?;
    let request = format!(
        "GET /v1/healthz HTTP/1.1\r\nHost: {}\r\n\r\n",
        daemon.host()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| Fail::Fail(format!("writing: {e}")))?;
    let first = wire::read_reply(&mut stream, Instant::now() + GRACE).await;
    if !matches!(&first, Reply::Answer(a) if a.status == 200) {
        fail!(
            "GET /v1/healthz on a keep-alive connection: {}",
            first.describe()
        );
    }
    let idle_since = Instant::now();
    if !wire::closed_by(&mut stream, idle_since + TIMEOUT + GRACE, 0).await {
        fail!(
            "an idle HTTP/1.1 keep-alive connection was still open {:?} after its answer",
            idle_since.elapsed()
        );
    }
    Ok(format!(
        "idle HTTP/1.1 keep-alive: closed after {:?}",
        idle_since.elapsed()
    ))
}

/// HTTP/2 with prior knowledge: one request, then no stream open, pings answered.
async fn idle_http2(daemon: &Daemon) -> Result<String, Fail> {
    let stream = connect(daemon).await?;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| Fail::Fail(format!("HTTP/2 handshake: {e}")))?;
    // The connection task ends when the server closes the connection.
    let mut connection = tokio::spawn(connection);
    let request = http::Request::get(format!("http://{}/v1/healthz", daemon.host()))
        .body(Empty::<Bytes>::new())
        .map_err(|e| Fail::Fail(format!("building the request: {e}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Fail::Fail(format!("GET /v1/healthz over HTTP/2: {e}")))?;
    if response.status() != 200 {
        fail!("GET /v1/healthz over HTTP/2: {}", response.status());
    }
    let _ = response.into_body().collect().await;
    let idle_since = Instant::now();
    // `sender` stays alive: dropping it would make the client itself close the connection.
    let closed = tokio::time::timeout(TIMEOUT + GRACE, &mut connection).await;
    drop(sender);
    connection.abort();
    if closed.is_err() {
        fail!(
            "an idle HTTP/2 connection was still open {:?} after its last stream",
            idle_since.elapsed()
        );
    }
    Ok(format!(
        "idle HTTP/2: closed after {:?}",
        idle_since.elapsed()
    ))
}

async fn connect(daemon: &Daemon) -> Result<tokio::net::TcpStream, Fail> {
    wire::connect_from(ATTACKER, daemon.addr(), None)
        .await
        .map_err(|e| Fail::Fail(format!("connecting: {e}")))
}
