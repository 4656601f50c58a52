//! What one party can make the daemon hold for it is bounded: live streams per handle and per
//! client address (SPEC §8.5: 429 `rate_limited` over the cap), and a poll page in bytes as
//! well as in count (SPEC §8.2: a short page, `next_since` after its last message, so paging
//! on reads every message once).

use crate::common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::kez::{Api, User, expect_error, now_ms, now_secs, start};

/// Opens `user`'s live-only stream and returns the response, whatever its status.
async fn open_stream(api: &Api, user: &User) -> reqwest::Response {
    let auth = user.stream_credential(None, now_secs());
    api.stream_raw(user.handle.as_str(), &format!("?auth={auth}"), None)
        .await
}

#[tokio::test]
async fn a_ninth_stream_for_one_handle_is_refused_until_one_closes() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let bob = User::new("bob", 2);
    api.register_ok(&bob).await;

    let mut open = Vec::new();
    for _ in 0..8 {
        let response = open_stream(&api, &bob).await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    let ninth = open_stream(&api, &bob).await;
    let retry_after: u64 = ninth.headers()["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    expect_error(ninth, 429, "rate_limited").await;
    let metrics = api.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics.contains("kezd_streams_refused_total 1"),
        "{metrics}"
    );

    // Closing one gives its place back once the daemon notices.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = open_stream(&api, &bob).await;
        if response.status() == 200 {
            break;
        }
        expect_error(response, 429, "rate_limited").await;
        assert!(
            Instant::now() < deadline,
            "the closed stream's place was kept"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn streams_are_capped_per_client_address_across_handles() {
    let server = start(|raw| raw.stream.max_per_address = 3).await;
    let api = Api::of(&server);
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;

    let mut open = Vec::new();
    for user in [&alice, &bob, &bob] {
        let response = open_stream(&api, user).await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    expect_error(open_stream(&api, &alice).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_streams_are_counted_by_the_forwarded_address() {
    let server = start(|raw| {
        raw.trusted_proxies = vec!["127.0.0.1".into()];
        raw.stream.max_per_address = 1;
    })
    .await;
    let api = Api::of(&server);
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    let forwarded = |user: &User, client: &str| {
        let auth = user.stream_credential(None, now_secs());
        api.http
            .get(api.url(&format!("/v1/inbox/{}/stream?auth={auth}", user.handle)))
            .header("x-forwarded-for", client)
            .send()
    };

    // Two clients behind the one proxy each get their own share…
    let first = forwarded(&alice, "198.51.100.1").await.expect("answered");
    assert_eq!(first.status(), 200);
    let second = forwarded(&bob, "198.51.100.2").await.expect("answered");
    assert_eq!(second.status(), 200);
    // …and one of them is still held to it.
    let third = forwarded(&bob, "198.51.100.1").await.expect("answered");
    expect_error(third, 429, "rate_limited").await;
}

#[tokio::test]
async fn a_page_of_large_envelopes_is_bounded_in_bytes_and_paging_reads_each_once() {
    let page_max_bytes = 600_000;
    let server = start(|raw| {
        raw.inbox.page_max_bytes = page_max_bytes;
        raw.rate.sender_per_minute = 1_000;
    })
    .await;
    let api = Api::of(&server);
    let (alice, bob) = (User::new("alice", 1), User::new("bob", 2));
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    // Near-limit envelopes (about 240 KB each, SPEC §6.5 allows 256 KiB).
    let text = "p".repeat(180_000);
    let mut sent = HashSet::new();
    for _ in 0..7 {
        let answer = api.send_ok(&alice.envelope(&bob, now_ms(), &text)).await;
        sent.insert(answer["id"].as_str().expect("id").to_owned());
    }

    let mut since = 0;
    let mut received = Vec::new();
    let mut pages = 0;
    loop {
        let credential = bob.poll_credential(since, now_secs());
        let response = api
            .poll_raw(
                bob.handle.as_str(),
                &format!("?since={since}&limit=500"),
                Some(&credential),
            )
            .await;
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.expect("page");
        let page: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let messages = page["messages"].as_array().expect("messages");
        if messages.is_empty() {
            assert_eq!(page["next_since"], since);
            break;
        }
        pages += 1;
        assert!(
            body.len() <= page_max_bytes as usize,
            "a page of {} bytes",
            body.len()
        );
        let last = messages.last().expect("a message")["seq"].clone();
        assert_eq!(page["next_since"], last, "next_since is the last included");
        since = last.as_u64().expect("seq");
        received.extend(
            messages
                .iter()
                .map(|m| m["id"].as_str().expect("id").to_owned()),
        );
    }
    assert!(pages >= 3, "{pages} pages for 7 envelopes of 240 KB");
    assert_eq!(received.len(), 7, "each message once");
    assert_eq!(received.into_iter().collect::<HashSet<_>>(), sent);
}
