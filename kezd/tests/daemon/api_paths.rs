//! Paths as sent (SPEC §7.7): a path segment is never percent-decoded into a handle, address,
//! primary or message id. A credential signs the path exactly as the client wrote it, so
//! `/v1/inbox/%61lice` is not alice's inbox: it names no valid handle and is refused like any
//! invalid handle — 401 where a credential is checked (§7.1), 400 elsewhere.

use crate::common;

use common::kez::{Api, SERVER, User, expect_error, message_id, now_ms, now_secs, start};

/// SPEC §7.1, §7.7: alice's valid poll, stream and acknowledgement credentials, sent to her
/// inbox's path with one letter escaped, are 401 `unauthorized`; the same credentials on the
/// path as signed succeed, and nothing was deleted by the refused acknowledgement.
#[tokio::test]
async fn an_escaped_handle_in_an_inbox_path_is_unauthorized() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    api.send_ok(&bob.envelope(&alice, now_ms(), "hi")).await;
    let now = now_secs();
    let poll = alice.poll_credential(0, now);
    for handle in ["%61lice", "alic%65", "%61%6c%69%63%65", "%61lice%00"] {
        expect_error(
            api.poll_raw(handle, "", Some(&poll)).await,
            401,
            "unauthorized",
        )
        .await;
        let live = format!("?auth={}", alice.stream_credential(None, now));
        expect_error(
            api.stream_raw(handle, &live, None).await,
            401,
            "unauthorized",
        )
        .await;
        let ack = alice.ack_credential(1, now);
        expect_error(
            api.ack_raw(handle, r#"{"through":1}"#, Some(&ack)).await,
            401,
            "unauthorized",
        )
        .await;
    }
    // The same credential on the path it signs is good: only the path was wrong.
    let page = api.poll_raw("alice", "", Some(&poll)).await;
    assert_eq!(page.status(), 200);
    assert_eq!(api.poll_all(&alice).await.len(), 1, "nothing deleted");
}

/// SPEC §2.1, §2.3, §4.2, §4.3, §7.7: `/v1/u/` and `/v1/by-primary/` take the handle, address
/// or primary as written, unescaped (`@` and `:` are legal in a path segment); an escaped one
/// is 400 `invalid_handle` (handle or address alike, §4.2) / `invalid_primary`, and a status
/// request with
/// an escaped message id is 400 `malformed_request`.
#[tokio::test]
async fn escaped_values_in_lookup_and_status_paths_are_invalid() {
    let server = start(|_| {}).await;
    let api = Api::of(&server);
    let alice = User::new("alice", 1);
    let bob = User::new("bob", 2);
    api.register_ok(&alice).await;
    api.register_ok(&bob).await;
    // As sent by kezctl, the conformance suite and the SPEC's examples: found.
    for path in [
        "/v1/u/alice".to_owned(),
        format!("/v1/u/alice@{SERVER}"),
        format!("/v1/by-primary/{}", alice.primary()),
    ] {
        assert_eq!(api.get(&path).await.status(), 200, "{path}");
    }
    let (host, port) = SERVER.split_once(':').expect("a port");
    let primary = alice.primary().to_string();
    let cases = [
        ("/v1/u/%61lice".to_owned(), "invalid_handle"),
        ("/v1/u/al%zzice".to_owned(), "invalid_handle"),
        (format!("/v1/u/alice%40{SERVER}"), "invalid_handle"),
        (format!("/v1/u/%61lice@{SERVER}"), "invalid_handle"),
        (format!("/v1/u/alice@{host}%3A{port}"), "invalid_handle"),
        (
            format!("/v1/by-primary/{}", primary.replacen(':', "%3A", 1)),
            "invalid_primary",
        ),
    ];
    for (path, code) in cases {
        expect_error(api.get(&path).await, 400, code).await;
    }
    let envelope = alice.envelope(&bob, now_ms(), "status");
    let id = message_id(&envelope);
    api.send_ok(&envelope).await;
    let escaped = format!("/v1/messages/%{:x}{}/status", id.as_bytes()[0], &id[1..]);
    let response = common::client()
        .get(server.url(&escaped))
        .header("x-kez-auth", status_credential(&alice, &id))
        .send()
        .await
        .expect("request");
    expect_error(response, 400, "malformed_request").await;
    let response = common::client()
        .get(server.url(&format!("/v1/messages/{id}/status")))
        .header("x-kez-auth", status_credential(&alice, &id))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

/// `user`'s credential for the status of message `id`, now (SPEC §7.6).
fn status_credential(user: &User, id: &str) -> String {
    let id = kez_spec::MessageId::parse(id).expect("a message id");
    kez_spec::auth::AuthRequest::Status { id: &id }
        .sign(&user.key, now_secs())
        .to_string()
}
