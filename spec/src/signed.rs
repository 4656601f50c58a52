//! Signed objects (SPEC §3): a JSON object carrying a `signature` member that covers the JCS
//! bytes of everything else in the object, unknown members included.
//!
//! One verification rule everywhere (SPEC §3.4): RFC 8032 with canonical `S`, no small-order
//! `A` or `R`, canonical point encodings — ed25519-dalek's `verify_strict` plus the canonical-`A`
//! check done when a [`Primary`] is parsed.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde_json::{Map, Value};

use crate::{Error, KeyId, Primary, hexstr, json};

/// The only signature suite of protocol v1.
pub const ALG_ED25519: &str = "ed25519";

/// The `signature` member (SPEC §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureMember {
    /// The 64-byte ed25519 signature.
    pub sig: [u8; 64],
    /// Which server key signed, for server-signed objects only.
    pub key_id: Option<KeyId>,
}

impl SignatureMember {
    /// Parses the member's value: `{"alg":"ed25519","sig":"<128 hex>"}` plus `key_id` when
    /// `with_key_id`. `alg` is checked first so an unknown suite gets its own clear code.
    pub fn parse(value: &Value, with_key_id: bool) -> Result<Self, Error> {
        let obj = value
            .as_object()
            .ok_or(Error::MalformedSignature("must be an object"))?;
        match obj.get("alg") {
            Some(Value::String(alg)) if alg == ALG_ED25519 => {}
            Some(Value::String(alg)) => return Err(Error::UnsupportedAlg(alg.clone())),
            Some(alg) if crate::faults::on("signature_nonstring_alg_unsupported") => {
                return Err(Error::UnsupportedAlg(alg.to_string()));
            }
            _ => return Err(Error::MalformedSignature("missing string member 'alg'")),
        }
        let sig = obj
            .get("sig")
            .and_then(Value::as_str)
            .and_then(hexstr::decode_array::<64>)
            .ok_or(Error::MalformedSignature(
                "'sig' must be 128 lowercase hex characters",
            ))?;
        let key_id = match (with_key_id, obj.get("key_id")) {
            (true, Some(Value::String(id))) => {
                Some(KeyId::parse(id).map_err(|_| Error::MalformedSignature("bad 'key_id'"))?)
            }
            (true, _) => return Err(Error::MalformedSignature("missing 'key_id'")),
            (false, Some(_)) => return Err(Error::MalformedSignature("unexpected 'key_id'")),
            (false, None) => None,
        };
        if obj.len() != 2 + usize::from(with_key_id)
            && !crate::faults::on("signature_extra_member_ignored")
        {
            return Err(Error::MalformedSignature("unknown members"));
        }
        Ok(SignatureMember { sig, key_id })
    }

    /// The member as JSON.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("alg".into(), ALG_ED25519.into());
        if let Some(id) = &self.key_id {
            obj.insert("key_id".into(), id.as_str().into());
        }
        obj.insert("sig".into(), hex::encode(self.sig).into());
        Value::Object(obj)
    }
}

/// A received signed object, split into its signed members and its signature.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedObject {
    /// Every member except `signature`: exactly what the signature covers.
    pub body: Map<String, Value>,
    /// The parsed `signature` member.
    pub signature: SignatureMember,
}

impl SignedObject {
    /// Parses a signed object from bytes (strict JSON, SPEC §3.3).
    pub fn parse(bytes: &[u8], with_key_id: bool) -> Result<Self, Error> {
        SignedObject::from_map(json::parse_object(bytes)?, with_key_id)
    }

    /// Splits an already parsed object.
    pub fn from_map(body: Map<String, Value>, with_key_id: bool) -> Result<Self, Error> {
        SignedObject::try_from_map(body, with_key_id).map_err(|(error, _)| error)
    }

    /// [`Self::from_map`], giving the object back unchanged when it is refused, so that a
    /// caller can still name it (a federated envelope is answered by the id of what was sent,
    /// parsed or not).
    pub fn try_from_map(
        mut body: Map<String, Value>,
        with_key_id: bool,
    ) -> Result<Self, (Error, Map<String, Value>)> {
        let checked = body
            .values()
            .try_for_each(json::check_safe_integers)
            .and_then(|()| {
                let sig = body
                    .get("signature")
                    .ok_or(Error::MalformedSignature("missing 'signature' member"))?;
                SignatureMember::parse(sig, with_key_id)
            });
        match checked {
            Ok(signature) => {
                body.remove("signature");
                Ok(SignedObject { body, signature })
            }
            Err(error) => Err((error, body)),
        }
    }

    /// The bytes the signature covers: JCS of the object minus `signature` (SPEC §3.2).
    pub fn signing_bytes(&self) -> Vec<u8> {
        json::canonical(&self.body)
    }

    /// The JCS bytes of the whole object, signature included (what message ids hash).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        json::canonical(&self.to_value())
    }

    /// [`signing_bytes`](Self::signing_bytes) and [`canonical_bytes`](Self::canonical_bytes)
    /// together, each member canonicalised once.
    pub fn canonical_forms(&self) -> (Vec<u8>, Vec<u8>) {
        json::canonical_with_member(&self.body, ("signature", &self.signature.to_value()))
    }

    /// The object's members with `signature` put back: the object as received.
    pub fn into_map(mut self) -> Map<String, Value> {
        self.body
            .insert("signature".into(), self.signature.to_value());
        self.body
    }

    /// Reassembles the object as JSON.
    pub fn to_value(&self) -> Value {
        let mut all = self.body.clone();
        all.insert("signature".into(), self.signature.to_value());
        Value::Object(all)
    }

    /// Verifies the signature with `key` under SPEC §3.4.
    pub fn verify(&self, key: &Primary) -> Result<(), Error> {
        let bytes = if crate::faults::on("verify_without_unknown_members") {
            self.known_signing_bytes()
        } else {
            self.signing_bytes()
        };
        verify_bytes(key.verifying_key(), &bytes, &self.signature.sig)
    }

    /// The bytes the signature covers as an implementation that drops unknown members before
    /// canonicalising computes them: kezd's fault `verify_without_unknown_members` only.
    fn known_signing_bytes(&self) -> Vec<u8> {
        const KNOWN: &[&str] = &[
            "type",
            "v",
            "handle",
            "server",
            "primary",
            "ts",
            "from",
            "from_primary",
            "to",
            "nonce",
            "ciphertext",
        ];
        let mut known = self.body.clone();
        known.retain(|name, _| KNOWN.contains(&name.as_str()));
        json::canonical(&known)
    }

    /// Typed access to the signed members.
    pub fn members(&self) -> Members<'_> {
        Members(&self.body)
    }
}

/// Typed, checked reads of a JSON object's members, for objects whose signature has not been
/// parsed yet as much as for [`SignedObject`]s: each missing or mistyped member is
/// `malformed_request` (SPEC §3.3 limits integers to 2^53 − 1).
#[derive(Debug, Clone, Copy)]
pub struct Members<'a>(pub &'a Map<String, Value>);

impl<'a> Members<'a> {
    /// Checks the `type` member (SPEC §3.6) before anything else reads the object.
    pub fn expect_type(self, expected: &str) -> Result<(), Error> {
        match self.0.get("type") {
            Some(Value::String(t)) if t == expected => Ok(()),
            _ if crate::faults::on("type_unchecked") => Ok(()),
            _ => Err(Error::malformed(format!("'type' must be {expected:?}"))),
        }
    }

    /// A required string member.
    pub fn str(self, name: &str) -> Result<&'a str, Error> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::malformed(format!("missing string member {name:?}")))
    }

    /// A required non-negative integer member no larger than 2^53 − 1.
    pub fn uint(self, name: &str) -> Result<u64, Error> {
        self.0
            .get(name)
            .and_then(Value::as_u64)
            .filter(|n| *n <= crate::clock::MAX_SAFE_INTEGER)
            .ok_or_else(|| Error::malformed(format!("missing integer member {name:?}")))
    }
}

/// Signs `body` (which must not contain `signature`) and returns the complete signed object.
pub fn sign(mut body: Map<String, Value>, key: &SigningKey, key_id: Option<KeyId>) -> Value {
    body.remove("signature");
    let sig = key.sign(&json::canonical(&body)).to_bytes();
    body.insert(
        "signature".into(),
        SignatureMember { sig, key_id }.to_value(),
    );
    Value::Object(body)
}

/// Verifies a raw signature over raw bytes under SPEC §3.4 (used for auth strings too).
pub fn verify_bytes(key: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> Result<(), Error> {
    let mut sig = *sig;
    if crate::faults::on("accept_unreduced_s") {
        let s: [u8; 32] = sig[32..].try_into().unwrap_or([0; 32]);
        sig[32..].copy_from_slice(&curve25519_dalek::Scalar::from_bytes_mod_order(s).to_bytes());
    }
    key.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| Error::InvalidSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[1; 32])
    }

    fn signed_text() -> Vec<u8> {
        let mut body = Map::new();
        body.insert("type".into(), "registration".into());
        body.insert("zeta".into(), 1.into());
        serde_json::to_vec(&sign(body, &key(), None)).expect("serializes")
    }

    /// SPEC §3.2: any JSON form of the object verifies; the unknown member `zeta` is covered.
    #[test]
    fn sign_and_verify_any_form() {
        let text = signed_text();
        let obj = SignedObject::parse(&text, false).expect("parses");
        assert!(obj.verify(&Primary::from(&key())).is_ok());
        let pretty = serde_json::to_vec_pretty(&obj.to_value()).expect("serializes");
        let again = SignedObject::parse(&pretty, false).expect("parses");
        assert!(again.verify(&Primary::from(&key())).is_ok());
        let tampered = String::from_utf8(text)
            .expect("utf-8")
            .replace("\"zeta\":1", "\"zeta\":2");
        let obj = SignedObject::parse(tampered.as_bytes(), false).expect("parses");
        assert_eq!(
            obj.verify(&Primary::from(&key())),
            Err(Error::InvalidSignature)
        );
    }

    /// SPEC §3.1, §3.5: the signature member's shape and the alg check.
    #[test]
    fn signature_member_shape() {
        let sig = "ab".repeat(64);
        let parse = |v: Value, k| SignatureMember::parse(&v, k).map_err(|e| e.code());
        assert!(parse(serde_json::json!({"alg":"ed25519","sig":sig}), false).is_ok());
        assert_eq!(
            parse(serde_json::json!({"alg":"schnorr","sig":sig}), false),
            Err("unsupported_alg")
        );
        for bad in [
            serde_json::json!({"alg":"ed25519","sig":sig.to_uppercase()}),
            serde_json::json!({"alg":"ed25519","sig":"abcd"}),
            serde_json::json!({"alg":"ed25519"}),
            serde_json::json!({"alg":"ed25519","sig":sig,"extra":1}),
            serde_json::json!({"alg":"ed25519","sig":sig,"key_id":"ed25519:k1"}),
            serde_json::json!("ed25519"),
        ] {
            assert_eq!(
                parse(bad.clone(), false),
                Err("malformed_signature"),
                "{bad}"
            );
        }
        assert!(
            parse(
                serde_json::json!({"alg":"ed25519","sig":sig,"key_id":"ed25519:k1"}),
                true
            )
            .is_ok()
        );
        assert_eq!(
            parse(serde_json::json!({"alg":"ed25519","sig":sig}), true),
            Err("malformed_signature")
        );
    }
}
