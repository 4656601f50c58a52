//! A KEZ client for the API tests. Every signed object — registration, envelope, credential —
//! is built by kez-spec, the same code real clients use, so a test that passes here proves the
//! daemon interoperates with the specification's own implementation, not with a hand-rolled
//! copy of it. Identities come from fixed seeds so failures are reproducible; timestamps are
//! parameters so tests can move them out of their windows.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use kez_spec::auth::AuthRequest;
use kez_spec::deletion::Deletion;
use kez_spec::envelope::{Envelope, SignedEnvelope};
use kez_spec::registration::Registration;
use kez_spec::{Address, Handle, Primary, ServerName, SigningKey};
use kezd::config::{Config, RawConfig};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

use super::{TestServer, client};

/// How long a test waits for something that must happen (a response, an event, the end of a
/// stream). Only a bound on liveness, never a measurement: generous, for loaded CI machines.
pub const LIVENESS: Duration = Duration::from_secs(10);

/// The server name of every test daemon (the default of `server_name`).
pub const SERVER: &str = "localhost:6969";

/// A config for API tests: the defaults, with the per-address limits raised because every
/// test client shares 127.0.0.1, then `edit` applied.
pub fn api_config(edit: impl FnOnce(&mut RawConfig)) -> Config {
    super::config(|raw| {
        raw.server_name = SERVER.into();
        raw.rate.client_per_minute = 1_000_000;
        raw.rate.register_per_hour = 1_000_000;
        edit(raw);
    })
}

/// Starts a daemon with [`api_config`].
pub async fn start(edit: impl FnOnce(&mut RawConfig)) -> TestServer {
    TestServer::start(api_config(edit)).await
}

pub use kez_spec::clock::now_ms;

/// Unix seconds now.
pub fn now_secs() -> u64 {
    kezd::clock::now_secs()
}

/// A user: a handle on the test server and the ed25519 seed that owns it.
#[derive(Debug)]
pub struct User {
    /// The handle.
    pub handle: Handle,
    /// The primary's secret key.
    pub key: SigningKey,
    /// The server the handle lives on.
    pub server: ServerName,
}

impl User {
    /// `handle@SERVER` with the key of seed number `seed` (distinct numbers, distinct keys).
    pub fn new(handle: &str, seed: u32) -> User {
        let mut bytes = [0x4b; 32];
        bytes[..4].copy_from_slice(&seed.to_be_bytes());
        User {
            handle: Handle::parse(handle).expect("test handle is valid"),
            key: SigningKey::from_bytes(&bytes),
            server: ServerName::parse(SERVER).expect("test server name is valid"),
        }
    }

    /// The primary (SPEC §2.3).
    pub fn primary(&self) -> Primary {
        Primary::from(&self.key)
    }

    /// `handle@server` (SPEC §2.4).
    pub fn address(&self) -> Address {
        Address::new(self.handle.clone(), self.server.clone())
    }

    /// A registration of this handle on `server`, signed at `ts_ms` (SPEC §4.1).
    pub fn registration_on(&self, server: &str, ts_ms: u64) -> Value {
        Registration {
            handle: self.handle.clone(),
            server: ServerName::parse(server).expect("valid server name"),
            primary: self.primary(),
            ts_ms,
        }
        .sign(&self.key)
    }

    /// A deletion of this account on `server`, signed at `ts_ms` (SPEC §4.7).
    pub fn deletion_on(&self, server: &str, ts_ms: u64) -> Value {
        Deletion {
            handle: self.handle.clone(),
            server: ServerName::parse(server).expect("valid server name"),
            primary: self.primary(),
            ts_ms,
        }
        .sign(&self.key)
    }

    /// A registration on the test server, signed at `ts_ms`.
    pub fn registration(&self, ts_ms: u64) -> Value {
        self.registration_on(SERVER, ts_ms)
    }

    /// An envelope to `to`, sealing `{"text": text}` with a fresh random nonce (SPEC §6.2)
    /// and signed at `ts_ms` (SPEC §6.1).
    pub fn envelope(&self, to: &User, ts_ms: u64, text: &str) -> Value {
        self.envelope_to(&to.address(), &to.primary(), ts_ms, text)
    }

    /// An envelope to any address, sealed to `to_primary`.
    pub fn envelope_to(&self, to: &Address, to_primary: &Primary, ts_ms: u64, text: &str) -> Value {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let plaintext = serde_json::to_vec(&json!({ "text": text })).expect("plaintext");
        Envelope::seal(
            &self.key,
            self.address(),
            to.clone(),
            to_primary,
            ts_ms,
            nonce,
            &plaintext,
        )
        .expect("seal")
        .sign(&self.key)
    }

    /// The poll credential for `since` at `ts` (SPEC §7.2).
    pub fn poll_credential(&self, since: u64, ts: u64) -> String {
        AuthRequest::Poll {
            handle: &self.handle,
            since,
        }
        .sign(&self.key, ts)
        .to_string()
    }

    /// The stream credential: live-only without a cursor (SPEC §7.3), resumed with one (§7.4).
    pub fn stream_credential(&self, cursor: Option<u64>, ts: u64) -> String {
        let request = match cursor {
            None => AuthRequest::StreamLive {
                handle: &self.handle,
            },
            Some(since) => AuthRequest::StreamCursor {
                handle: &self.handle,
                since,
            },
        };
        request.sign(&self.key, ts).to_string()
    }

    /// The acknowledgement credential for `through` at `ts` (SPEC §7.5).
    pub fn ack_credential(&self, through: u64, ts: u64) -> String {
        AuthRequest::Ack {
            handle: &self.handle,
            through,
        }
        .sign(&self.key, ts)
        .to_string()
    }

    /// What a client does with a received envelope (SPEC §6.6): verify the signature, check
    /// it is addressed here, open it. Returns the plaintext's `text`.
    pub fn open(&self, envelope: &Value) -> String {
        let bytes = serde_json::to_vec(envelope).expect("envelope serialises");
        let signed = SignedEnvelope::parse(&bytes).expect("served envelope parses");
        signed
            .verify()
            .expect("served envelope's signature verifies");
        assert_eq!(signed.envelope.to, self.address(), "addressed to this user");
        let plaintext = signed.envelope.open(&self.key).expect("envelope opens");
        let value: Value = serde_json::from_slice(&plaintext).expect("plaintext is JSON");
        value["text"].as_str().expect("text member").to_owned()
    }
}

/// The message id of a signed envelope (SPEC §6.4), computed by kez-spec.
pub fn message_id(envelope: &Value) -> String {
    let bytes = serde_json::to_vec(envelope).expect("envelope serialises");
    SignedEnvelope::parse(&bytes)
        .expect("envelope parses")
        .id
        .to_string()
}

/// The send body of SPEC §8.1 for `envelope`, `to` being the envelope's own `to`.
pub fn send_body(envelope: &Value) -> Value {
    json!({ "to": envelope["to"], "envelope": envelope })
}

/// An HTTP client bound to one daemon's base URL.
#[derive(Debug, Clone)]
pub struct Api {
    /// `http://host:port`.
    pub base: String,
    /// The shared connection pool.
    pub http: reqwest::Client,
}

impl Api {
    /// A client for a test daemon.
    pub fn of(server: &TestServer) -> Api {
        Api::new(format!("http://{}", server.addr))
    }

    /// A client for any base URL (the durability test's child process).
    pub fn new(base: String) -> Api {
        Api {
            base,
            http: client(),
        }
    }

    /// The URL of `path` (with its query, if any).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        send(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        send(self.http.post(self.url(path)).json(body)).await
    }

    /// `POST /v1/register` with `user`'s registration signed now.
    pub async fn register(&self, user: &User) -> reqwest::Response {
        self.post_json("/v1/register", &user.registration(now_ms()))
            .await
    }

    /// Registers `user` and checks the 201; returns the handle record.
    pub async fn register_ok(&self, user: &User) -> Value {
        let response = self.register(user).await;
        assert_eq!(response.status(), 201, "registering {}", user.handle);
        response.json().await.expect("record")
    }

    /// `POST /v1/messages` with `envelope`.
    pub async fn send(&self, envelope: &Value) -> reqwest::Response {
        self.post_json("/v1/messages", &send_body(envelope)).await
    }

    /// Sends and checks the 201 of a local delivery; returns `{id, seq, status}`.
    pub async fn send_ok(&self, envelope: &Value) -> Value {
        let response = self.send(envelope).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON answer");
        assert_eq!(status, 201, "send answered {body}");
        body
    }

    /// `GET /v1/inbox/<handle>` with a raw query and credential.
    pub async fn poll_raw(
        &self,
        handle: &str,
        query: &str,
        credential: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .get(self.url(&format!("/v1/inbox/{handle}{query}")));
        if let Some(credential) = credential {
            request = request.header("x-kez-auth", credential);
        }
        send(request).await
    }

    /// Polls `user`'s inbox after `since`, signed now; checks the 200 and returns the page.
    pub async fn poll(&self, user: &User, since: u64) -> Value {
        let credential = user.poll_credential(since, now_secs());
        let response = self
            .poll_raw(
                user.handle.as_str(),
                &format!("?since={since}"),
                Some(&credential),
            )
            .await;
        assert_eq!(response.status(), 200, "polling {}", user.handle);
        response.json().await.expect("page")
    }

    /// Every message of `user`'s inbox, page after page.
    pub async fn poll_all(&self, user: &User) -> Vec<Value> {
        let mut items = Vec::new();
        let mut since = 0;
        loop {
            let page = self.poll(user, since).await;
            let messages = page["messages"].as_array().expect("messages").clone();
            if messages.is_empty() {
                return items;
            }
            since = page["next_since"].as_u64().expect("next_since");
            items.extend(messages);
        }
    }

    /// `POST /v1/inbox/<handle>/ack` with a raw body and credential.
    pub async fn ack_raw(
        &self,
        handle: &str,
        body: impl Into<reqwest::Body>,
        credential: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url(&format!("/v1/inbox/{handle}/ack")))
            .header("content-type", "application/json")
            .body(body);
        if let Some(credential) = credential {
            request = request.header("x-kez-auth", credential);
        }
        send(request).await
    }

    /// Acknowledges through `through`, signed now; checks the 200 and returns `deleted`.
    pub async fn ack(&self, user: &User, through: u64) -> u64 {
        let credential = user.ack_credential(through, now_secs());
        let body = json!({ "through": through }).to_string();
        let response = self
            .ack_raw(user.handle.as_str(), body, Some(&credential))
            .await;
        assert_eq!(response.status(), 200, "ack through {through}");
        let answer: Value = response.json().await.expect("ack answer");
        answer["deleted"].as_u64().expect("deleted count")
    }

    /// `GET /v1/inbox/<handle>/stream` with a raw query and optional `Last-Event-ID`.
    pub async fn stream_raw(
        &self,
        handle: &str,
        query: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .get(self.url(&format!("/v1/inbox/{handle}/stream{query}")));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        send(request).await
    }

    /// Opens `user`'s stream, signed now: live-only without a cursor, otherwise resumed with
    /// `since=` (or, with `by_header`, with `Last-Event-ID`). Checks the 200 and the headers.
    pub async fn stream(&self, user: &User, cursor: Option<u64>, by_header: bool) -> SseStream {
        let auth = user.stream_credential(cursor, now_secs());
        let (query, header) = match cursor {
            Some(n) if by_header => (format!("?auth={auth}"), Some(n.to_string())),
            Some(n) => (format!("?since={n}&auth={auth}"), None),
            None => (format!("?auth={auth}"), None),
        };
        let response = self
            .stream_raw(user.handle.as_str(), &query, header.as_deref())
            .await;
        assert_eq!(response.status(), 200, "opening the stream");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-store");
        SseStream::new(response)
    }
}

/// Sends a request within [`LIVENESS`].
async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    tokio::time::timeout(LIVENESS, request.send())
        .await
        .expect("answer in time")
        .expect("request")
}

/// Checks an error response (SPEC §10): the status, a JSON body with exactly the stable `code`
/// and a message.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) {
    let got = response.status();
    let content_type = response.headers().get("content-type").cloned();
    // An event stream never ends: report its status without reading it.
    assert_ne!(
        content_type.as_ref().map(|v| v.as_bytes()),
        Some(&b"text/event-stream"[..]),
        "expected {status} {code}, got a {got} stream"
    );
    let text = response.text().await.expect("error body");
    assert_eq!(got, status, "expected {status} {code}, got {text}");
    assert_eq!(
        content_type.as_ref().map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let body: Value = serde_json::from_str(&text).expect("error body is JSON");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
}

/// One SSE event block: the fields between two blank lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseFrame {
    /// `id:`.
    pub id: Option<String>,
    /// `event:`.
    pub event: Option<String>,
    /// `data:` lines, joined with LF.
    pub data: Option<String>,
    /// `retry:`.
    pub retry: Option<String>,
    /// Comment lines (`: text`), without the colon and one space.
    pub comments: Vec<String>,
}

impl SseFrame {
    fn parse(block: &str) -> SseFrame {
        let mut frame = SseFrame::default();
        for line in block.split('\n') {
            if let Some(comment) = line.strip_prefix(':') {
                frame.comments.push(comment.trim_start().to_owned());
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
            match field {
                "id" => frame.id = Some(value),
                "event" => frame.event = Some(value),
                "retry" => frame.retry = Some(value),
                "data" => {
                    frame.data = Some(match frame.data.take() {
                        Some(before) => format!("{before}\n{value}"),
                        None => value,
                    });
                }
                other => panic!("unexpected SSE field {other:?} in {block:?}"),
            }
        }
        frame
    }

    /// Whether the frame is only a keep-alive comment.
    pub fn is_keep_alive(&self) -> bool {
        self.comments == ["keep-alive"] && self.id.is_none() && self.event.is_none()
    }
}

/// A Server-Sent Events reader over a streaming response body.
pub struct SseStream {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: String,
}

impl SseStream {
    /// Reads events from `response`'s body.
    pub fn new(response: reqwest::Response) -> SseStream {
        SseStream {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next frame, or `None` when the server ended the body cleanly. Panics on a
    /// transport error, a body cut mid-event, or nothing within [`LIVENESS`].
    pub async fn next_frame(&mut self) -> Option<SseFrame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(SseFrame::parse(&block[..end]));
            }
            let chunk = tokio::time::timeout(LIVENESS, self.body.next())
                .await
                .expect("an SSE event in time");
            match chunk {
                Some(chunk) => {
                    let chunk = chunk.expect("the stream body reads without error");
                    self.buffer
                        .push_str(std::str::from_utf8(&chunk).expect("SSE is UTF-8"));
                }
                None => {
                    assert!(self.buffer.is_empty(), "stream ended mid-event");
                    return None;
                }
            }
        }
    }

    /// The next frame that is not a keep-alive; panics if the stream ends.
    pub async fn next_event(&mut self) -> SseFrame {
        loop {
            let frame = self.next_frame().await.expect("the stream is still open");
            if !frame.is_keep_alive() {
                return frame;
            }
        }
    }

    /// The `retry: 3000` that opens every stream (SPEC §8.5 step 1).
    pub async fn expect_retry(&mut self) {
        let frame = self.next_frame().await.expect("the stream opens");
        assert_eq!(
            frame,
            SseFrame {
                retry: Some("3000".into()),
                ..SseFrame::default()
            }
        );
    }

    /// The next event, which must be a `message` (SPEC §8.5): checks `id:` equals the item's
    /// seq and returns the item.
    pub async fn expect_message(&mut self) -> Value {
        let frame = self.next_event().await;
        assert_eq!(frame.event.as_deref(), Some("message"), "{frame:?}");
        let data = frame.data.as_deref().expect("message data");
        assert!(!data.contains('\n'), "data is one line of JSON");
        let item: Value = serde_json::from_str(data).expect("data is JSON");
        assert_eq!(
            frame.id.as_deref(),
            Some(item["seq"].to_string().as_str()),
            "id: is the seq"
        );
        item
    }

    /// The next event, which must be `ready` (SPEC §8.5 step 3); returns its seq.
    pub async fn expect_ready(&mut self) -> u64 {
        let frame = self.next_event().await;
        assert_eq!(frame.event.as_deref(), Some("ready"), "{frame:?}");
        assert_eq!(frame.id, None, "ready carries no id");
        let data: Value =
            serde_json::from_str(frame.data.as_deref().expect("ready data")).expect("JSON");
        assert_eq!(data.as_object().map(|o| o.len()), Some(1), "{data}");
        data["seq"].as_u64().expect("ready seq")
    }

    /// Opens like every stream: `retry`, then (after any replay, returned) `ready` with
    /// `ready_seq`.
    pub async fn expect_open(&mut self, ready_seq: u64) -> Vec<Value> {
        self.expect_retry().await;
        let mut replayed = Vec::new();
        loop {
            let frame = self.next_event().await;
            match frame.event.as_deref() {
                Some("ready") => {
                    let data: Value =
                        serde_json::from_str(frame.data.as_deref().expect("data")).expect("JSON");
                    assert_eq!(data, json!({ "seq": ready_seq }));
                    return replayed;
                }
                Some("message") => {
                    let item: Value =
                        serde_json::from_str(frame.data.as_deref().expect("data")).expect("JSON");
                    assert_eq!(frame.id, Some(item["seq"].to_string()));
                    replayed.push(item);
                }
                _ => panic!("unexpected frame {frame:?}"),
            }
        }
    }
}
