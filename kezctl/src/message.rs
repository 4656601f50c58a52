//! Messages as a person sees them: composing a sealed, signed envelope from text (SPEC §6.1–
//! §6.3), and turning a received inbox item back into text — but only after every check a
//! client owes the sender and itself (SPEC §6.6): strict parsing, the signature by
//! `from_primary`, `to` being this identity, decryption, and the §6.3 plaintext shape. Anything
//! that fails is a [`Received`] with a failure, never text that looks genuine.

use kez_spec::api::inbox::InboxItem;
use kez_spec::envelope::{Envelope, SignedEnvelope};
use kez_spec::{Address, MessageId, Primary, SigningKey};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde_json::Value;

/// A composed envelope, ready for `POST /v1/messages`.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The signed envelope object.
    pub envelope: Value,
    /// Its message id (SPEC §6.4), known before the server answers.
    pub id: MessageId,
}

/// The §6.3 plaintext for `text`.
pub fn plaintext(text: &str) -> Vec<u8> {
    kez_spec::plaintext::Plaintext::bytes(text)
}

/// Seals `text` from `sender` (whose address is `from`) to `to`, whose primary is
/// `recipient`, with a fresh random nonce and `ts_ms`, and signs it.
pub fn compose(
    sender: &SigningKey,
    from: &Address,
    to: &Address,
    recipient: &Primary,
    text: &str,
    ts_ms: u64,
) -> Result<Composed, kez_spec::Error> {
    let mut nonce = [0u8; kez_spec::e2ee::NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    compose_with_nonce(sender, from, to, recipient, &plaintext(text), ts_ms, nonce)
}

/// [`compose`] with a given nonce and raw plaintext: for tests and vectors only; real sends
/// need a fresh random nonce (SPEC §13.5).
pub fn compose_with_nonce(
    sender: &SigningKey,
    from: &Address,
    to: &Address,
    recipient: &Primary,
    plaintext: &[u8],
    ts_ms: u64,
    nonce: [u8; kez_spec::e2ee::NONCE_LEN],
) -> Result<Composed, kez_spec::Error> {
    let envelope = Envelope::seal(
        sender,
        from.clone(),
        to.clone(),
        recipient,
        ts_ms,
        nonce,
        plaintext,
    )?
    .sign(sender);
    let id = SignedEnvelope::parse(envelope.to_string().as_bytes())?.id;
    Ok(Composed { envelope, id })
}

/// Why a received message is not shown as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Failure {
    /// The inbox item or its envelope is not well formed (SPEC §6.1 code).
    Malformed {
        /// Detail.
        detail: String,
    },
    /// The signature does not verify with `from_primary` (SPEC §3.4).
    BadSignature,
    /// The envelope is addressed to someone else.
    NotForMe {
        /// The envelope's `to`.
        to: String,
    },
    /// The ciphertext does not open with this identity's key (SPEC §6.6 `decrypt_failed`).
    DecryptFailed,
    /// It opened, but is not a §6.3 plaintext.
    BadPlaintext,
    /// Signed with a key other than the one registered for `from` (SPEC §6.6).
    SenderKeyMismatch {
        /// The primary registered for the sender.
        registered: String,
    },
    /// The sender's registered key could not be looked up, so the message cannot be trusted.
    SenderKeyUnchecked {
        /// Why.
        detail: String,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Malformed { detail } => write!(f, "malformed: {detail}"),
            Failure::BadSignature => f.write_str("signature does not verify"),
            Failure::NotForMe { to } => write!(f, "addressed to {to}, not to this identity"),
            Failure::DecryptFailed => f.write_str("cannot be decrypted (decrypt_failed)"),
            Failure::BadPlaintext => f.write_str("decrypted, but not a KEZ text message"),
            Failure::SenderKeyMismatch { registered } => write!(
                f,
                "signed with a key other than the sender's registered {registered}"
            ),
            Failure::SenderKeyUnchecked { detail } => {
                write!(
                    f,
                    "the sender's registered key could not be checked: {detail}"
                )
            }
        }
    }
}

/// One inbox item after the client's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// Position in the inbox.
    pub seq: u64,
    /// The message id computed from the envelope (None if it did not parse).
    pub id: Option<String>,
    /// When the server stored it, ms.
    pub received_at: Option<u64>,
    /// The claimed sender (verified only when `failure` is None).
    pub from: Option<String>,
    /// The key that signed it (checked against the sender's registration by
    /// [`crate::sender_keys`]).
    pub from_primary: Option<String>,
    /// The claimed sending time, ms (verified only when `failure` is None).
    pub ts: Option<u64>,
    /// The text, present only when every check passed.
    pub text: Option<String>,
    /// Why the message is not shown, when it is not.
    pub failure: Option<Failure>,
}

impl Received {
    /// Whether every check passed.
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Checks and opens one inbox item (SPEC §8.2's item shape) for `me`.
pub fn open_item(item: &InboxItem<'_>, me: &SigningKey, my_address: &Address) -> Received {
    let mut out = Received {
        seq: item.seq,
        id: None,
        received_at: Some(item.received_at),
        from: None,
        from_primary: None,
        ts: None,
        text: None,
        failure: None,
    };
    let fail = |mut out: Received, failure| {
        out.failure = Some(failure);
        out
    };
    let Ok(map) = kez_spec::json::parse_object(item.envelope.get().as_bytes()) else {
        return fail(
            out,
            Failure::Malformed {
                detail: "no envelope object".into(),
            },
        );
    };
    let envelope = match SignedEnvelope::from_map(map) {
        Ok(e) => e,
        Err(e) => {
            return fail(
                out,
                Failure::Malformed {
                    detail: e.code().into(),
                },
            );
        }
    };
    out.id = Some(envelope.id.to_string());
    out.from = Some(envelope.envelope.from.to_string());
    out.from_primary = Some(envelope.envelope.from_primary.to_string());
    out.ts = Some(envelope.envelope.ts_ms);
    if envelope.verify().is_err() {
        return fail(out, Failure::BadSignature);
    }
    if &envelope.envelope.to != my_address {
        return fail(
            out,
            Failure::NotForMe {
                to: envelope.envelope.to.to_string(),
            },
        );
    }
    let Ok(plain) = envelope.envelope.open(me) else {
        return fail(out, Failure::DecryptFailed);
    };
    match kez_spec::json::parse_object(&plain)
        .ok()
        .and_then(|m| m.get("text").and_then(Value::as_str).map(str::to_owned))
    {
        Some(text) => {
            out.text = Some(text);
            out
        }
        None => fail(out, Failure::BadPlaintext),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;

    fn seed(hex_text: &str) -> SigningKey {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(hex_text, &mut seed).expect("vector seed is hex");
        SigningKey::from_bytes(&seed)
    }

    fn vectors() -> Vec<Value> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors/kez-seal.json");
        let text = std::fs::read_to_string(path).expect("vector file");
        let file: Value = serde_json::from_str(&text).expect("vector JSON");
        file["vectors"].as_array().expect("vectors array").clone()
    }

    fn item(envelope: &Value) -> InboxItem<'static> {
        let text = serde_json::to_string(envelope).expect("json");
        InboxItem::borrowed(1, "x", 1, &text)
            .expect("json")
            .into_owned()
    }

    /// SPEC §6.2, spec/vectors/kez-seal.json: kezctl's composing produces exactly the vector
    /// ciphertext (same seeds and nonce), and what the vector's procedure sealed, kezctl opens.
    /// Invalid vectors are reported as decryption failures, never as text.
    #[test]
    fn seal_vectors_both_ways() {
        let from = Address::parse("alice@a.example").expect("valid");
        let to = Address::parse("bob@b.example").expect("valid");
        for v in vectors() {
            let name = v["name"].as_str().unwrap_or("?");
            let sender = seed(v["sender_seed"].as_str().expect("seed"));
            let recipient = seed(v["recipient_seed"].as_str().expect("seed"));
            let recipient_primary =
                Primary::parse(v["recipient_primary"].as_str().expect("primary")).expect("valid");
            let plaintext = hex::decode(v["plaintext"].as_str().expect("hex")).expect("hex");
            let ciphertext = B64
                .decode(v["ciphertext_b64"].as_str().expect("b64"))
                .expect("b64");
            let nonce = hex::decode(v["nonce"].as_str().expect("hex")).expect("hex");
            if v["valid"] == Value::Bool(true) {
                let nonce: [u8; 12] = nonce.as_slice().try_into().expect("12 bytes");
                // kezctl → vector: same bytes.
                let composed = compose_with_nonce(
                    &sender,
                    &from,
                    &to,
                    &recipient_primary,
                    &plaintext,
                    1,
                    nonce,
                )
                .expect("seals");
                assert_eq!(
                    composed.envelope["ciphertext"].as_str(),
                    v["ciphertext_b64"].as_str(),
                    "{name}"
                );
                // vector → kezctl: open what the vector sealed, through an inbox item.
                let env = Envelope {
                    from: from.clone(),
                    from_primary: Primary::from(&sender),
                    to: to.clone(),
                    ts_ms: 1,
                    nonce,
                    ciphertext,
                }
                .sign(&sender);
                let got = open_item(&item(&env), &recipient, &to);
                let expected = kez_spec::json::parse_object(&plaintext)
                    .ok()
                    .and_then(|m| m.get("text").and_then(Value::as_str).map(str::to_owned));
                match expected {
                    Some(text) => assert_eq!(got.text.as_deref(), Some(text.as_str()), "{name}"),
                    // Not a §6.3 text (e.g. the empty plaintext): opened but not shown.
                    None => assert_eq!(got.failure, Some(Failure::BadPlaintext), "{name}"),
                }
            } else {
                // The envelope shape needs a 12-byte nonce and a tag-length ciphertext; the
                // vectors breaking those are the open operation's own checks.
                let opened =
                    kez_spec::e2ee::open(&recipient, &Primary::from(&sender), &nonce, &ciphertext);
                assert_eq!(opened, Err(kez_spec::Error::DecryptFailed), "{name}");
                if let (Ok(nonce), true) = (
                    <[u8; 12]>::try_from(nonce.as_slice()),
                    ciphertext.len() >= kez_spec::e2ee::TAG_LEN,
                ) {
                    let env = Envelope {
                        from: from.clone(),
                        from_primary: Primary::from(&sender),
                        to: to.clone(),
                        ts_ms: 1,
                        nonce,
                        ciphertext,
                    }
                    .sign(&sender);
                    let got = open_item(&item(&env), &recipient, &to);
                    assert_eq!(got.failure, Some(Failure::DecryptFailed), "{name}");
                    assert_eq!(got.text, None, "{name}");
                }
            }
        }
    }

    /// SPEC §6.2, §13.5: every composed message has a fresh 12-byte nonce (24 hex), so the same
    /// text to the same person twice never repeats the key and the GCM nonce.
    #[test]
    fn fresh_nonce_for_every_message() {
        let alice = SigningKey::from_bytes(&[1; 32]);
        let bob = SigningKey::from_bytes(&[2; 32]);
        let a = Address::parse("alice@x.example").expect("valid");
        let b = Address::parse("bob@x.example").expect("valid");
        let nonces: Vec<String> = (0..64)
            .map(|_| {
                let sent = compose(&alice, &a, &b, &Primary::from(&bob), "hi", 5).expect("seals");
                sent.envelope["nonce"].as_str().expect("a nonce").to_owned()
            })
            .collect();
        for nonce in &nonces {
            assert_eq!(nonce.len(), 24, "{nonce}");
        }
        let mut distinct = nonces.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), nonces.len(), "a nonce repeated: {nonces:?}");
    }

    /// SPEC §6.6: a changed header fails the signature; a message for someone else is not
    /// opened; garbage is malformed; nothing panics.
    #[test]
    fn checks_before_opening() {
        let alice = SigningKey::from_bytes(&[1; 32]);
        let bob = SigningKey::from_bytes(&[2; 32]);
        let a = Address::parse("alice@x.example").expect("valid");
        let b = Address::parse("bob@x.example").expect("valid");
        let c = Address::parse("carol@x.example").expect("valid");
        let sent = compose(&alice, &a, &b, &Primary::from(&bob), "hi", 5).expect("seals");
        assert_eq!(
            open_item(&item(&sent.envelope), &bob, &b).text.as_deref(),
            Some("hi")
        );
        let mut tampered = sent.envelope.clone();
        tampered["ts"] = 6.into();
        assert_eq!(
            open_item(&item(&tampered), &bob, &b).failure,
            Some(Failure::BadSignature)
        );
        assert!(matches!(
            open_item(&item(&sent.envelope), &bob, &c).failure,
            Some(Failure::NotForMe { .. })
        ));
        assert!(matches!(
            open_item(&item(&serde_json::json!(5)), &bob, &b).failure,
            Some(Failure::Malformed { .. })
        ));
    }
}
