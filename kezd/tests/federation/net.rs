//! The testnet and a small KEZ client for federation tests: each person has an identity from a
//! fixed seed and a home server, and does what a client does — register, send sealed envelopes
//! through the home server, poll the inbox, ask for delivery status.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    let mut builder = Testnet::builder(env!("CARGO_BIN_EXE_kezd"));
    for name in names {
        // Retries quickly in tests: a peer that was down is probed again within a second.
        let options = NodeOptions::new().extra_config(format!(
            "[federation]\nbackoff_initial_secs = 1\nbackoff_max_secs = 2\n[rate]\nclient_per_minute = 1000000\nregister_per_hour = 1000000\n{extra}"
        ));
        builder = builder.node_with(*name, options);
    }
    builder.start().await.expect("testnet starts")
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

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
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let address = Address::parse(&format!("{handle}@{server}")).expect("address");
        let node = net.node(server).expect("node");
        let person = Person {
            key,
            address,
            home: node.base_url(),
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
        let r = self
            .http
            .post(format!("{}/v1/messages", self.home))
            .json(&json!({ "to": to, "envelope": envelope }))
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
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
                let env = SignedEnvelope::parse(m["envelope"].to_string().as_bytes())
                    .expect("envelope parses");
                env.verify().expect("sender signature verifies");
                let plain: Value =
                    serde_json::from_slice(&env.envelope.open(&self.key).expect("opens"))
                        .expect("plaintext json");
                (
                    m["seq"].as_u64().expect("seq"),
                    env.envelope.from.to_string(),
                    plain["text"].as_str().expect("text").to_owned(),
                )
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
