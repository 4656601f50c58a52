//! The live stream over every transport (SPEC §8.5, crate::detach): over HTTP/1.1 the daemon
//! writes a stream's events to the socket itself, over HTTP/2 hyper does; the events are the
//! same either way, through TLS too, and a client that goes away is noticed without waiting
//! for the next keep-alive.

use crate::common;

use std::time::{Duration, Instant};

use common::kez::{Api, SseStream, User, now_ms, now_secs, start};

/// Alice and bob on a daemon over TLS (a self-signed certificate for `localhost`); returns
/// the certificate to trust.
async fn tls_daemon(dir: &std::path::Path) -> (common::TestServer, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_pem = certified.cert.pem();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let server = start(|raw| {
        raw.tls.cert = Some(cert.display().to_string());
        raw.tls.key = Some(key.display().to_string());
    })
    .await;
    (server, cert_pem)
}

/// Opens bob's live stream with `api`, sends him a message from alice, and checks the stream
/// carries it; returns the HTTP version the stream was served with.
async fn stream_carries_a_message(api: &Api, alice: &User, bob: &User) -> http::Version {
    let auth = bob.stream_credential(None, now_secs());
    let response = api
        .stream_raw(bob.handle.as_str(), &format!("?auth={auth}"), None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers().contains_key("x-request-id"));
    let version = response.version();
    // The daemon writes an HTTP/1.1 stream itself, and says the connection ends with it;
    // hyper serves HTTP/2 streams, which have no connection header.
    let closes = response
        .headers()
        .get("connection")
        .is_some_and(|v| v == "close");
    assert_eq!(closes, version == http::Version::HTTP_11, "{version:?}");
    let mut stream = SseStream::new(response);
    stream.expect_retry().await;
    let ready = stream.expect_ready().await;
    let sent = api
        .send_ok(&alice.envelope(bob, now_ms(), "over any transport"))
        .await;
    let item = stream.expect_message().await;
    assert_eq!(item["id"], sent["id"]);
    assert_eq!(item["seq"].as_u64(), Some(ready + 1));
    assert_eq!(bob.open(&item["envelope"]), "over any transport");
    version
}

#[tokio::test]
async fn a_stream_carries_the_same_events_over_http1_and_http2_with_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, cert_pem) = tls_daemon(dir.path()).await;
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    let client = |http1_only: bool| {
        let certificate = reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("pem");
        let builder = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([certificate])
            .resolve("localhost", server.addr);
        let builder = if http1_only {
            builder.http1_only()
        } else {
            builder
        };
        Api {
            base: format!("https://localhost:{}", server.addr.port()),
            http: builder.build().expect("client"),
        }
    };
    let http1 = client(true);
    http1.register_ok(&alice).await;
    http1.register_ok(&bob).await;

    assert_eq!(
        stream_carries_a_message(&http1, &alice, &bob).await,
        http::Version::HTTP_11
    );
    assert_eq!(
        stream_carries_a_message(&client(false), &alice, &bob).await,
        http::Version::HTTP_2
    );
}

/// The number of open live streams, from `/metrics`.
async fn live_streams(api: &Api) -> i64 {
    let text = api.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix("kezd_live_streams "))
        .and_then(|n| n.parse().ok())
        .expect("the live stream gauge")
}

#[tokio::test]
async fn a_client_that_leaves_is_noticed_before_the_next_keep_alive() {
    // A keep-alive an hour away: only reading the socket can notice the client left.
    let server = start(|raw| raw.stream.keep_alive_secs = 3600).await;
    let api = Api::of(&server);
    let bob = User::new("bob", 2);
    api.register_ok(&bob).await;

    let mut stream = api.stream(&bob, None, false).await;
    stream.expect_retry().await;
    stream.expect_ready().await;
    assert_eq!(live_streams(&api).await, 1);

    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while live_streams(&api).await != 0 {
        assert!(
            Instant::now() < deadline,
            "the stream outlived its client by 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
