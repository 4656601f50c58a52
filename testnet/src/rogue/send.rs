//! The rogue as a sender: transactions signed well or badly on purpose (SPEC §9.3), and the
//! envelopes that go in them — its own users', other servers' users' (forged), tampered ones.

use futures_util::StreamExt;
use kez_spec::clock::now_ms;
use kez_spec::envelope::Envelope;
use kez_spec::s2s::{Parties, RequestParts, ServerAuth};
use kez_spec::{Address, KeyId, MessageId, Primary, ServerName, SigningKey};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};

use super::{RoguePeer, random_key};
use crate::error::TestnetError;

/// A receiver's answer to a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The `Retry-After` header, as sent.
    pub retry_after: Option<String>,
    /// The body, parsed (`Value::Null` when it is not JSON).
    pub body: Value,
}

/// How [`RoguePeer::send_txn`] signs the request's `Authorization` header.
#[derive(Debug, Clone)]
pub enum Sign {
    /// Correctly: the rogue's current key, addressed to the destination, now.
    Good,
    /// With a fresh random key under the current key's id: a forged origin signature.
    WithRandomKey,
    /// With the current key under a key id the rogue's document never publishes
    /// (`ed25519:unpublished`): a receiver refetches the document, at most once a minute, and
    /// refuses with `unknown_key` (SPEC §9.2).
    WithUnpublishedKeyId,
    /// With the retired key (after [`super::RogueOptions::rotated`] or
    /// [`RoguePeer::rotate_keys`]), now: signed after its `expired_at`.
    WithOldKey,
    /// With the retired key at this Unix time in seconds (e.g. just before the rotation).
    OldKeyAt(u64),
    /// Correctly, but naming this server as the destination.
    For(String),
    /// Correctly, but at this Unix time in seconds (e.g. outside the 120 s window).
    At(u64),
    /// As another server altogether, with a key the test holds (see [`SignAs`]).
    As(Box<SignAs>),
}

/// A signature as another server: e.g. a node's retired key, read from its key file before a
/// rotation, used at a chosen time.
#[derive(Debug, Clone)]
pub struct SignAs {
    /// The origin named in the header.
    pub origin: ServerName,
    /// The key id named in the header.
    pub key_id: KeyId,
    /// The key that signs.
    pub key: SigningKey,
    /// The header's `ts`, Unix seconds.
    pub ts: u64,
}

impl RoguePeer {
    /// `PUT /v1/federation/txn/{txn_id}` with `body` as is, to the testnet node
    /// `destination`, signed as `sign` says; the answer's status and JSON body (`Null` when
    /// the body is not JSON).
    pub async fn send_txn(
        &self,
        destination: &str,
        txn_id: &str,
        body: Vec<u8>,
        sign: Sign,
    ) -> Result<(u16, Value), TestnetError> {
        let answer = self
            .send_txn_answer(destination, txn_id, body, sign)
            .await?;
        Ok((answer.status, answer.body))
    }

    /// As [`send_txn`](Self::send_txn), with the answer's `Retry-After` too.
    pub async fn send_txn_answer(
        &self,
        destination: &str,
        txn_id: &str,
        body: Vec<u8>,
        sign: Sign,
    ) -> Result<TxnAnswer, TestnetError> {
        let path = format!("/v1/federation/txn/{txn_id}");
        let header = self.authorization(destination, &path, &body, sign)?;
        self.put_txn(destination, &path, header, body.into()).await
    }

    /// As [`send_txn_answer`](Self::send_txn_answer) signed correctly, but the body stops
    /// half-way until `gate` fires or is dropped: a request held open in this origin's name, as
    /// anyone who saw one of its headers could hold one (chunked, so the receiver reads the
    /// first half at once).
    pub async fn send_txn_held(
        &self,
        destination: &str,
        txn_id: &str,
        body: Vec<u8>,
        gate: tokio::sync::oneshot::Receiver<()>,
    ) -> Result<TxnAnswer, TestnetError> {
        let path = format!("/v1/federation/txn/{txn_id}");
        let header = self.authorization(destination, &path, &body, Sign::Good)?;
        let mut first = bytes::Bytes::from(body);
        let rest = first.split_off(first.len() / 2);
        let halves = futures_util::stream::iter([Ok::<_, std::io::Error>(first)]).chain(
            futures_util::stream::once(async move {
                let _ = gate.await;
                Ok(rest)
            }),
        );
        let body = reqwest::Body::wrap_stream(halves);
        self.put_txn(destination, &path, header, body).await
    }

    /// Sends `PUT path` with `header` and `body` to `destination`, and reads the answer.
    async fn put_txn(
        &self,
        destination: &str,
        path: &str,
        header: String,
        body: reqwest::Body,
    ) -> Result<TxnAnswer, TestnetError> {
        let addr = self.node_addr(destination)?;
        let response = self
            .http
            .put(format!("https://{destination}:{}{path}", addr.port()))
            .header("authorization", header)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await?;
        Ok(TxnAnswer {
            status,
            retry_after,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// The `Authorization` header value for `PUT path` with `body` to `destination`.
    fn authorization(
        &self,
        destination: &str,
        path: &str,
        body: &[u8],
        sign: Sign,
    ) -> Result<String, TestnetError> {
        let bad_name = |name: &str| TestnetError::Rogue(format!("{name:?} is not a server name"));
        let mut to = ServerName::parse(destination).map_err(|_| bad_name(destination))?;
        let now = now_ms() / 1000;
        let keys = self.read_keys();
        let mut origin = self.shared.name.clone();
        let mut key_id = keys.current.key_id().clone();
        let mut key = SigningKey::from_bytes(&keys.current.signing_key().to_bytes());
        let mut ts = now;
        let old = || {
            keys.old.clone().ok_or_else(|| {
                TestnetError::Rogue("no retired key: start with RogueOptions::rotated".into())
            })
        };
        match sign {
            Sign::Good => {}
            Sign::WithRandomKey => key = random_key(),
            Sign::WithUnpublishedKeyId => {
                key_id = KeyId::parse("ed25519:unpublished")
                    .map_err(|_| TestnetError::Rogue("the unpublished key id".into()))?;
            }
            Sign::WithOldKey => (key_id, key) = old()?,
            Sign::OldKeyAt(at) => {
                (key_id, key) = old()?;
                ts = at;
            }
            Sign::For(other) => to = ServerName::parse(&other).map_err(|_| bad_name(&other))?,
            Sign::At(at) => ts = at,
            Sign::As(other) => {
                let other = *other;
                (origin, key_id, key, ts) = (other.origin, other.key_id, other.key, other.ts);
            }
        }
        let auth = ServerAuth::sign(
            RequestParts {
                method: "PUT",
                path_and_query: path,
                body,
            },
            Parties {
                origin: &origin,
                destination: &to,
                key_id: &key_id,
                ts,
            },
            &key,
        );
        Ok(auth.to_string())
    }
}

/// A signed envelope from `from`, signed (and its `from_primary` set) by `key`, to `to`,
/// sealing `{"text": text}` for `to_primary`. With an address of another server, or a key
/// that is not the one `from`'s server publishes, it is a forgery.
pub fn envelope_as(
    key: &SigningKey,
    from: &Address,
    to: &Address,
    to_primary: &Primary,
    text: &str,
) -> Value {
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    Envelope::seal(
        key,
        from.clone(),
        to.clone(),
        to_primary,
        now_ms(),
        nonce,
        json!({ "text": text }).to_string().as_bytes(),
    )
    // Invariant: sealing fails only for a recipient primary that is not a valid point, and
    // a `Primary` is validated when it is made.
    .expect("sealing for a valid primary")
    .sign(key)
}

/// `envelope` with its `ts` moved by one millisecond and the signature left as it was: still a
/// well-formed envelope, but its signature no longer verifies.
pub fn tamper(envelope: &Value) -> Value {
    let mut tampered = envelope.clone();
    if let Some(ts) = tampered.get("ts").and_then(Value::as_u64) {
        tampered["ts"] = json!(ts + 1);
    }
    tampered
}

/// `{"origin": origin, "envelopes": [...]}` as bytes.
pub fn txn_body(origin: &str, envelopes: &[Value]) -> Vec<u8> {
    json!({ "origin": origin, "envelopes": envelopes })
        .to_string()
        .into_bytes()
}

/// The message id of an envelope (SPEC §6.4: SHA-256 of its JCS), as a receiver reports it.
pub fn message_id(envelope: &Value) -> String {
    MessageId::of_canonical(&kez_spec::json::canonical(envelope)).to_string()
}
