//! The testnet and a small KEZ client for federation tests: each person has an identity from a
//! random seed and a home server, and does what a client does — register, send sealed envelopes
//! through the home server, poll the inbox, follow the live stream, ask for delivery status.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use kez_spec::auth::AuthRequest;
use kez_spec::envelope::{Envelope, SignedEnvelope};
use kez_spec::registration::Registration;
use kez_spec::{Address, MessageId, Primary, SigningKey};
use kez_testnet::{NodeOptions, Testnet};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

/// Bound on waiting for something that must happen; never a measurement.
pub const LIVENESS: Duration = Duration::from_secs(20);

/// Starts `names` as a testnet; `extra` is TOML merged into every node's configuration.
pub async fn start(names: &[&str], extra: &str) -> Testnet {
    start_nodes(names.iter().map(|name| (*name, options(extra))).collect()).await
}

/// The options every test node gets — quick retries (a peer that was down is probed again
/// within a second or two), client limits out of the way (every node and test client shares
/// the address 127.0.0.1) — with `extra` TOML merged over them table by table, so `extra` may
/// have its own `[federation]` or `[rate]`.
pub fn options(extra: &str) -> NodeOptions {
    let mut config: toml::Table = "[federation]\nbackoff_initial_secs = 1\nbackoff_max_secs = 2\n\
         [rate]\nclient_per_minute = 1000000\nregister_per_hour = 1000000\n\
         remote_lookups_per_minute = 1000000\nremote_lookups_per_server_per_minute = 1000000\n"
        .parse()
        .expect("base TOML");
    let extra: toml::Table = extra.parse().expect("extra TOML");
    for (table, values) in extra {
        match (config.get_mut(&table), values) {
            (Some(toml::Value::Table(base)), toml::Value::Table(values)) => base.extend(values),
            (_, values) => {
                config.insert(table, values);
            }
        }
    }
    NodeOptions::new().extra_config(config.to_string())
}

/// Starts a testnet of nodes with their own options (start from [`options`]).
pub async fn start_nodes(nodes: Vec<(&str, NodeOptions)>) -> Testnet {
    let mut builder = Testnet::builder(env!("CARGO_BIN_EXE_kezd"));
    for (name, options) in nodes {
        builder = builder.node_with(name, options);
    }
    builder.start().await.expect("testnet starts")
}

/// Polls `check` every 100 ms until it gives `Some`, or panics after [`LIVENESS`] with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + LIVENESS;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {LIVENESS:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub use kez_spec::clock::now_ms;

/// A person with a home server on the testnet.
pub struct Person {
    pub key: SigningKey,
    pub address: Address,
    /// `https://<server>:<port>`.
    pub home: String,
    pub http: reqwest::Client,
}

impl Person {
    /// A person `handle` on node `server`, registered there.
    pub async fn register(net: &Testnet, handle: &str, server: &str) -> Person {
        let home = net.node(server).expect("node").base_url();
        Person::register_at(net, handle, server, home).await
    }

    /// A person `handle` on node `server`, registered through `home` (a base URL of that node,
    /// e.g. by its SRV target when its certificate is only valid for that).
    pub async fn register_at(net: &Testnet, handle: &str, server: &str, home: String) -> Person {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let address = Address::parse(&format!("{handle}@{server}")).expect("address");
        let person = Person {
            key,
            address,
            home,
            http: net.client(),
        };
        let registration = Registration {
            handle: person.address.handle().clone(),
            server: person.address.server().clone(),
            primary: Primary::from(&person.key),
            ts_ms: now_ms(),
        }
        .sign(&person.key);
        let r = person
            .http
            .post(format!("{}/v1/register", person.home))
            .json(&registration)
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        person
    }

    pub fn primary(&self) -> Primary {
        Primary::from(&self.key)
    }

    /// A signed envelope for `to` (whose primary is given), sealing `text`.
    pub fn envelope(&self, to: &Person, text: &str) -> Value {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        Envelope::seal(
            &self.key,
            self.address.clone(),
            to.address.clone(),
            &to.primary(),
            now_ms(),
            nonce,
            json!({ "text": text }).to_string().as_bytes(),
        )
        .expect("seal")
        .sign(&self.key)
    }

    /// Sends `text` to `to` through the home server; the answer's status and body.
    pub async fn send(&self, to: &Person, text: &str) -> (u16, Value) {
        self.post_envelope(&to.address.to_string(), self.envelope(to, text))
            .await
    }

    pub async fn post_envelope(&self, to: &str, envelope: Value) -> (u16, Value) {
        self.try_post_envelope(to, envelope).await.expect("send")
    }

    /// Sends, and reports a failure to get an answer (a home server killed meanwhile).
    pub async fn try_post_envelope(
        &self,
        to: &str,
        envelope: Value,
    ) -> Result<(u16, Value), reqwest::Error> {
        let r = self
            .http
            .post(format!("{}/v1/messages", self.home))
            .json(&json!({ "to": to, "envelope": envelope }))
            .send()
            .await?;
        let status = r.status().as_u16();
        let body = r.json().await?;
        Ok((status, body))
    }

    /// Sends `text` to `to`, expecting 202 `queued`; the message id.
    pub async fn send_queued(&self, to: &Person, text: &str) -> String {
        let (status, answer) = self.send(to, text).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["status"], "queued", "{answer}");
        answer["id"].as_str().expect("id").to_owned()
    }

    /// Opens the live-only stream of this person's inbox (SPEC §7.3, §8.5) and reads up to
    /// its `ready` event, so that every message accepted after this returns is pushed on it.
    pub async fn live_stream(&self) -> LiveStream {
        let cred = AuthRequest::StreamLive {
            handle: self.address.handle(),
        }
        .sign(&self.key, now_ms() / 1000);
        let r = self
            .http
            .get(format!(
                "{}/v1/inbox/{}/stream?auth={cred}",
                self.home,
                self.address.handle()
            ))
            .send()
            .await
            .expect("stream");
        assert_eq!(r.status(), 200, "opening the live stream");
        let mut stream = LiveStream {
            body: Box::pin(r.bytes_stream()),
            buffer: String::new(),
        };
        while stream.next_event().await.0 != "ready" {}
        stream
    }

    /// Verifies and opens a served envelope addressed to this person; sender and text.
    pub fn open(&self, envelope: &Value) -> (String, String) {
        let env = SignedEnvelope::parse(envelope.to_string().as_bytes()).expect("envelope parses");
        env.verify().expect("sender signature verifies");
        assert_eq!(env.envelope.to, self.address, "addressed to this person");
        let plain: Value = serde_json::from_slice(&env.envelope.open(&self.key).expect("opens"))
            .expect("plaintext json");
        (
            env.envelope.from.to_string(),
            plain["text"].as_str().expect("text").to_owned(),
        )
    }

    /// The texts in the inbox after `since`, verified and opened, with their senders.
    pub async fn inbox(&self, since: u64) -> Vec<(u64, String, String)> {
        let ts = now_ms() / 1000;
        let cred = AuthRequest::Poll {
            handle: self.address.handle(),
            since,
        }
        .sign(&self.key, ts);
        let r = self
            .http
            .get(format!(
                "{}/v1/inbox/{}?since={since}",
                self.home,
                self.address.handle()
            ))
            .header("X-KEZ-Auth", cred.to_string())
            .send()
            .await
            .expect("poll");
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.expect("json");
        page["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                let (from, text) = self.open(&m["envelope"]);
                (m["seq"].as_u64().expect("seq"), from, text)
            })
            .collect()
    }

    /// Polls until the inbox holds at least `n` messages, or fails after [`LIVENESS`].
    pub async fn wait_for(&self, n: usize) -> Vec<(u64, String, String)> {
        let deadline = tokio::time::Instant::now() + LIVENESS;
        loop {
            let got = self.inbox(0).await;
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The delivery status of a message this person sent.
    pub async fn status(&self, id: &str) -> Value {
        let id = MessageId::parse(id).expect("id");
        let cred = AuthRequest::Status { id: &id }.sign(&self.key, now_ms() / 1000);
        let r = self
            .http
            .get(format!("{}/v1/messages/{id}/status", self.home))
            .header("X-KEZ-Auth", cred.to_string())
            .send()
            .await
            .expect("status");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    /// Polls the status until it is `want`, or returns the last one after [`LIVENESS`].
    pub async fn wait_status(&self, id: &str, want: &str) -> Value {
        let deadline = tokio::time::Instant::now() + LIVENESS;
        loop {
            let status = self.status(id).await;
            if status["status"] == want || tokio::time::Instant::now() > deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A live inbox stream (Server-Sent Events) being read.
pub struct LiveStream {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: String,
}

impl LiveStream {
    /// The next event's name and data (frames without `event:`, such as `retry:` and
    /// keep-alive comments, are skipped); panics if none comes within [`LIVENESS`].
    pub async fn next_event(&mut self) -> (String, String) {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(|value| value.trim_start().to_owned())
                };
                if let Some(event) = field("event:") {
                    return (event, field("data:").unwrap_or_default());
                }
            }
            let chunk = tokio::time::timeout(LIVENESS, self.body.next())
                .await
                .expect("an event in time")
                .expect("the stream is open")
                .expect("the stream reads");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("SSE is UTF-8"));
        }
    }

    /// The next `message` event's item (`{"seq", "id", "envelope", ...}`).
    pub async fn next_message(&mut self) -> Value {
        loop {
            let (event, data) = self.next_event().await;
            if event == "message" {
                return serde_json::from_str(&data).expect("message data is JSON");
            }
        }
    }
}
