//! Graceful shutdown: in-flight requests finish, new connections are refused at once, streams
//! see the signal and end, and a request that never finishes cannot hold the daemon past the
//! drain timeout.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{TestServer, client, config};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::{Method, StatusCode};
use kezd::body;
use kezd::handlers::{HandlerResult, RequestContext};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// A route that signals `started`, then takes `delay` to answer.
fn slow_route(
    started: Arc<Notify>,
    delay: Duration,
) -> impl Fn(RequestContext) -> BoxFuture<'static, HandlerResult> + Send + Sync + 'static {
    move |_ctx| {
        let started = Arc::clone(&started);
        Box::pin(async move {
            started.notify_one();
            tokio::time::sleep(delay).await;
            body::json(StatusCode::OK, &serde_json::json!({ "done": true }))
        })
    }
}

async fn wait_until_refused(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect(server.addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn in_flight_requests_finish_and_new_connections_are_refused() {
    let started = Arc::new(Notify::new());
    let mut server = TestServer::start_with(config(|_| {}), {
        let started = Arc::clone(&started);
        move |router| {
            router.route(
                Method::GET,
                "/v1/slow",
                slow_route(started, Duration::from_millis(500)),
            )
        }
    })
    .await;
    let url = server.url("/v1/slow");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    started.notified().await;

    server.signal_stop();
    wait_until_refused(&server).await;
    assert!(server.state.shutdown().is_triggered());

    let response = in_flight
        .await
        .expect("task")
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.expect("json")["done"],
        true
    );
    server
        .join(Duration::from_secs(5))
        .await
        .expect("serve ends cleanly");
}

#[tokio::test]
async fn the_drain_timeout_bounds_a_request_that_never_ends() {
    let started = Arc::new(Notify::new());
    let mut server = TestServer::start_with(config(|raw| raw.http.drain_timeout_ms = 200), {
        let started = Arc::clone(&started);
        move |router| {
            router.route(
                Method::GET,
                "/v1/stuck",
                slow_route(started, Duration::from_secs(3600)),
            )
        }
    })
    .await;
    let url = server.url("/v1/stuck");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    started.notified().await;

    let stopping = Instant::now();
    server.signal_stop();
    server
        .join(Duration::from_secs(5))
        .await
        .expect("serve ends");
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopping.elapsed()
    );
    assert!(
        in_flight.await.expect("task").is_err(),
        "the stuck request is cut off"
    );
}

/// A stream that ticks every 20 ms until the daemon shuts down, like the SSE stream will.
async fn ticking_stream(ctx: RequestContext) -> HandlerResult {
    let stop = ctx.state().shutdown().signalled();
    let guard = ctx.state().metrics().live_stream();
    let ticks = futures_util::stream::unfold(
        (Box::pin(stop), guard),
        |(mut stop, guard)| async move {
            tokio::select! {
                () = &mut stop => None,
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    Some((Ok::<_, std::io::Error>(Bytes::from_static(b": tick\n\n")), (stop, guard)))
                }
            }
        },
    );
    Ok(body::response(
        StatusCode::OK,
        "text/event-stream",
        body::stream(ticks),
    ))
}

#[tokio::test]
async fn streams_see_the_signal_and_end() {
    let mut server = TestServer::start_with(config(|_| {}), |router| {
        router.route(Method::GET, "/v1/ticks", ticking_stream)
    })
    .await;
    let response = client()
        .get(server.url("/v1/ticks"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let mut chunks = response.bytes_stream();
    let first = chunks.next().await.expect("a tick").expect("bytes");
    assert!(first.starts_with(b": tick"));
    assert!(
        server
            .state
            .metrics()
            .render()
            .contains("kezd_live_streams 1")
    );

    let stopping = Instant::now();
    server.signal_stop();
    // The stream ends cleanly (no error) well before the 10 s drain timeout.
    let rest = tokio::time::timeout(Duration::from_secs(3), async {
        let mut outcome = Ok(());
        while let Some(chunk) = chunks.next().await {
            if let Err(error) = chunk {
                outcome = Err(error);
            }
        }
        outcome
    })
    .await
    .expect("the stream ends after the signal");
    assert!(rest.is_ok(), "{rest:?}");
    let state = server.state.clone();
    server
        .join(Duration::from_secs(3))
        .await
        .expect("serve ends");
    assert!(stopping.elapsed() < Duration::from_secs(3));
    assert!(state.metrics().render().contains("kezd_live_streams 0"));
}
