//! A client account on a server under test: a fresh ed25519 key and a random handle, and the
//! requests a KEZ client makes — registration (SPEC §4.1), sealed and signed envelopes (§6),
//! sends (§8.1), credentials (§7), polls, acknowledgements, delivery status and streams (§8) —
//! built with kez-spec, so the suite signs exactly what the SPEC says and nothing from kezd.

use std::sync::Arc;
use std::time::Duration;

use kez_spec::api::ack::AckRequest;
use kez_spec::auth::AuthRequest;
use kez_spec::envelope::Envelope;
use kez_spec::registration::Registration;
use kez_spec::{Address, Handle, MessageId, Primary, SigningKey};
use rand_core::{OsRng, RngCore};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::fail::Fail;
use crate::server::{Resp, Server};
use crate::sse::Sse;

pub use kez_spec::clock::now_ms;

/// Now, Unix seconds.
pub fn now_s() -> u64 {
    now_ms() / 1000
}

/// A fresh random signing key.
pub fn random_key() -> SigningKey {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

/// A random valid handle: `kc` and 12 hex digits.
pub fn random_handle() -> String {
    let mut raw = [0u8; 6];
    OsRng.fill_bytes(&mut raw);
    format!("kc{}", hex::encode(raw))
}

/// The message id of a signed envelope (SPEC §6.4): SHA-256 of its JCS bytes.
pub fn message_id(envelope: &Value) -> String {
    MessageId::of_canonical(&kez_spec::json::canonical(envelope)).to_string()
}

/// Whom an envelope is for: an address and the primary to seal to.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The recipient's address.
    pub address: Address,
    /// The recipient's primary.
    pub primary: Primary,
}

/// An account of the suite on a server under test.
#[derive(Debug, Clone)]
pub struct User {
    /// The identity key (the primary's secret).
    pub key: SigningKey,
    /// The handle.
    pub handle: Handle,
    /// `handle@server`.
    pub address: Address,
    /// The primary.
    pub primary: Primary,
    /// Where it is registered.
    pub server: Arc<Server>,
}

impl User {
    /// A new key and random handle for `server`, not yet registered.
    pub fn generate(server: &Arc<Server>) -> User {
        User::with_handle(server, &random_handle())
    }

    /// A fresh account with a random handle, registered on `server` (201 expected).
    pub async fn registered(server: &Arc<Server>) -> Result<User, Fail> {
        let user = User::generate(server);
        let resp = user.register().await?;
        if resp.status == 429 {
            return Err(Fail::Fail(format!(
                "registering a test account was refused with 429 rate_limited (Retry-After: \
                 {:?}): the server's register_per_hour ({}) is below what the suite needs from \
                 one address; raise it for the suite's address (conformance/README.md)",
                resp.header("retry-after"),
                server
                    .limit("/rate/register_per_hour")
                    .map_or("unpublished".into(), |n| n.to_string())
            )));
        }
        resp.expect(201)?;
        Ok(user)
    }

    /// A new key with this handle (which must be valid).
    pub fn with_handle(server: &Arc<Server>, handle: &str) -> User {
        let key = random_key();
        // Invariant: callers pass valid handles (random ones are valid by construction).
        let handle = Handle::parse(handle).expect("a valid handle");
        let address = Address::new(handle.clone(), server.name.clone());
        User {
            primary: Primary::from(&key),
            key,
            handle,
            address,
            server: server.clone(),
        }
    }

    /// The same account reached through `server`: the same node, connected anew after a
    /// restart.
    pub fn via(&self, server: &Arc<Server>) -> User {
        User {
            server: server.clone(),
            ..self.clone()
        }
    }

    /// This user as a recipient.
    pub fn peer(&self) -> Peer {
        Peer {
            address: self.address.clone(),
            primary: self.primary,
        }
    }

    /// The signed registration of this handle and key on its server at `ts_ms`.
    pub fn registration(&self, ts_ms: u64) -> Value {
        Registration {
            handle: self.handle.clone(),
            server: self.server.name.clone(),
            primary: self.primary,
            ts_ms,
        }
        .sign(&self.key)
    }

    /// The unsigned members of a registration, to alter before [`User::sign`].
    pub fn registration_fields(&self, ts_ms: u64) -> Map<String, Value> {
        let mut map = match self.registration(ts_ms) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        map.remove("signature");
        map
    }

    /// `POST /v1/register` with this user's registration, signed now.
    pub async fn register(&self) -> Result<Resp, Fail> {
        self.register_raw(json_bytes(&self.registration(now_ms())))
            .await
    }

    /// `POST /v1/register` with these bytes.
    pub async fn register_raw(&self, body: Vec<u8>) -> Result<Resp, Fail> {
        self.server.post("/v1/register", body, &[]).await
    }

    /// Signs `fields` (SPEC §3.8) with this user's key.
    pub fn sign(&self, fields: Map<String, Value>) -> Value {
        kez_spec::signed::sign(fields, &self.key, None)
    }

    /// The unsigned members of an envelope sealing `{"text": text}` to `to`, timestamped now,
    /// to alter before [`User::sign`].
    pub fn envelope_fields(&self, to: &Peer, text: &str) -> Map<String, Value> {
        self.envelope_fields_at(to, text, now_ms())
    }

    /// As [`User::envelope_fields`] at `ts_ms`.
    pub fn envelope_fields_at(&self, to: &Peer, text: &str, ts_ms: u64) -> Map<String, Value> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let plaintext = json!({ "text": text }).to_string();
        let signed = Envelope::seal(
            &self.key,
            self.address.clone(),
            to.address.clone(),
            &to.primary,
            ts_ms,
            nonce,
            plaintext.as_bytes(),
        )
        // Invariant: sealing fails only for an invalid recipient key, and a Primary is valid.
        .expect("sealing to a valid primary")
        .sign(&self.key);
        match signed {
            Value::Object(mut map) => {
                map.remove("signature");
                map
            }
            _ => Map::new(),
        }
    }

    /// A signed envelope sealing `{"text": text}` to `to`, timestamped now.
    pub fn envelope(&self, to: &Peer, text: &str) -> Value {
        self.sign(self.envelope_fields(to, text))
    }

    /// `POST /v1/messages` with `{"to": envelope.to, "envelope": envelope}`.
    pub async fn send(&self, envelope: &Value) -> Result<Resp, Fail> {
        let to = envelope.get("to").cloned().unwrap_or(Value::Null);
        // `to` as the envelope has it, whatever that is: cases send malformed envelopes too.
        self.send_raw(json_bytes(&json!({ "to": to, "envelope": envelope })))
            .await
    }

    /// `POST /v1/messages` with these bytes.
    pub async fn send_raw(&self, body: Vec<u8>) -> Result<Resp, Fail> {
        self.server.post("/v1/messages", body, &[]).await
    }

    /// Sends a new message to `to` and expects it stored (201, local) or queued (202,
    /// remote); returns the answer's JSON and the envelope.
    pub async fn send_ok(&self, to: &Peer, text: &str) -> Result<(Value, Value), Fail> {
        let envelope = self.envelope(to, text);
        let local = to.address.server() == &self.server.name;
        let answer = self
            .send(&envelope)
            .await?
            .expect_json(if local { 201 } else { 202 })?;
        Ok((answer, envelope))
    }

    /// The credential `<ts>:<sig>` for `request` at `ts` (seconds).
    pub fn credential_at(&self, request: AuthRequest<'_>, ts: u64) -> String {
        request.sign(&self.key, ts).to_string()
    }

    /// The credential for `request`, now.
    pub fn credential(&self, request: AuthRequest<'_>) -> String {
        self.credential_at(request, now_s())
    }

    /// `GET /v1/inbox/<handle><query>` with `X-KEZ-Auth: credential` (when given).
    pub async fn poll_with(&self, query: &str, credential: Option<&str>) -> Result<Resp, Fail> {
        let path = format!("/v1/inbox/{}{query}", self.handle);
        match credential {
            Some(c) => self.server.get_with(&path, &[("x-kez-auth", c)]).await,
            None => self.server.get(&path).await,
        }
    }

    /// A correctly signed poll after `since` (absent: no `since` parameter, signed as 0).
    pub async fn poll(&self, since: Option<u64>, limit: Option<u64>) -> Result<Resp, Fail> {
        let mut params = Vec::new();
        if let Some(since) = since {
            params.push(format!("since={since}"));
        }
        if let Some(limit) = limit {
            params.push(format!("limit={limit}"));
        }
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        let credential = self.credential(AuthRequest::Poll {
            handle: &self.handle,
            since: since.unwrap_or(0),
        });
        self.poll_with(&query, Some(&credential)).await
    }

    /// The messages of a correctly signed poll after `since` (200 expected).
    pub async fn messages(&self, since: u64) -> Result<Vec<Value>, Fail> {
        let page = self.poll(Some(since), None).await?.expect_json(200)?;
        page.get("messages")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| Fail::Fail(format!("poll answer has no messages array: {page}")))
    }

    /// Polls until at least `n` messages are in the inbox (after seq 0) or `within` passes.
    pub async fn wait_messages(&self, n: usize, within: Duration) -> Result<Vec<Value>, Fail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let messages = self.messages(0).await?;
            if messages.len() >= n {
                return Ok(messages);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Fail::Fail(format!(
                    "{} has {} of {n} expected messages after {within:?}",
                    self.address,
                    messages.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `POST /v1/inbox/<handle>/ack` with `body` and `X-KEZ-Auth: credential` (when given).
    pub async fn ack_with(&self, body: Vec<u8>, credential: Option<&str>) -> Result<Resp, Fail> {
        let path = format!("/v1/inbox/{}/ack", self.handle);
        match credential {
            Some(c) => self.server.post(&path, body, &[("x-kez-auth", c)]).await,
            None => self.server.post(&path, body, &[]).await,
        }
    }

    /// A correctly signed acknowledgement through `through`.
    pub async fn ack(&self, through: u64) -> Result<Resp, Fail> {
        let credential = self.credential(AuthRequest::Ack {
            handle: &self.handle,
            through,
        });
        self.ack_with(json_bytes(&AckRequest { through }), Some(&credential))
            .await
    }

    /// `GET /v1/messages/<id>/status` with `X-KEZ-Auth: credential` (when given).
    pub async fn status_with(&self, id: &str, credential: Option<&str>) -> Result<Resp, Fail> {
        let path = format!("/v1/messages/{id}/status");
        match credential {
            Some(c) => self.server.get_with(&path, &[("x-kez-auth", c)]).await,
            None => self.server.get(&path).await,
        }
    }

    /// A correctly signed status request for `id` (a valid message id).
    pub async fn status(&self, id: &str) -> Result<Resp, Fail> {
        let parsed = MessageId::parse(id)
            .map_err(|e| Fail::Fail(format!("{id} is not a message id: {e}")))?;
        let credential = self.credential(AuthRequest::Status { id: &parsed });
        self.status_with(id, Some(&credential)).await
    }

    /// `GET /v1/inbox/<handle>/stream<query>` with extra headers, as a stream.
    pub async fn stream_with(&self, query: &str, headers: &[(&str, &str)]) -> Result<Sse, Fail> {
        let path = format!("/v1/inbox/{}/stream{query}", self.handle);
        Sse::open(&self.server, Method::GET, &path, headers).await
    }

    /// A correctly signed stream: live-only without a cursor, resumed after `since` with one.
    pub async fn stream(&self, since: Option<u64>) -> Result<Sse, Fail> {
        let query = match since {
            None => format!(
                "?auth={}",
                self.credential(AuthRequest::StreamLive {
                    handle: &self.handle
                })
            ),
            Some(since) => format!(
                "?since={since}&auth={}",
                self.credential(AuthRequest::StreamCursor {
                    handle: &self.handle,
                    since,
                })
            ),
        };
        self.stream_with(&query, &[]).await
    }
}

/// Compact JSON bytes of a value.
pub fn json_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Values, maps and kez-spec's request types always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The sequence numbers of poll items or stream message data, in order.
pub fn seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| m.get("seq").and_then(Value::as_u64))
        .collect()
}

/// The message ids of poll items, in order.
pub fn ids(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}
