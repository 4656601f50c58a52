//! The envelope (SPEC §6.1): a public header servers route by, an opaque ciphertext they cannot
//! read, and the sender's signature over both — which authenticates the sender to the home
//! server, to every peer on the way and to the recipient alike.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use serde_json::{Map, Value};

use crate::signed::{self, Members, SignedObject};
use crate::{Address, Error, MessageId, PROTOCOL_VERSION, Primary, e2ee, hexstr};

/// The `type` of an envelope (SPEC §3.6).
pub const TYPE: &str = "envelope";

/// The send body limit and the per-envelope limit in federation (SPEC §6.5), in bytes.
pub const MAX_BYTES: usize = 262_144;

/// Envelope timestamps may differ from the home server's clock by this much (SPEC §8.1).
pub const DEFAULT_SKEW_MS: u64 = 300_000;

/// An envelope's header and ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sender's address.
    pub from: Address,
    /// The sender's primary: the key that signed the envelope.
    pub from_primary: Primary,
    /// The recipient's address.
    pub to: Address,
    /// When the sender made it, Unix milliseconds.
    pub ts_ms: u64,
    /// The AES-GCM nonce, also the HKDF salt.
    pub nonce: [u8; e2ee::NONCE_LEN],
    /// AES-256-GCM ciphertext || tag.
    pub ciphertext: Vec<u8>,
}

/// A parsed envelope with its signature (not yet verified) and its id.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedEnvelope {
    /// The header and ciphertext.
    pub envelope: Envelope,
    /// The signed object as received.
    pub object: SignedObject,
    /// The canonical JSON of the whole envelope, signature included: what servers store.
    pub canonical: String,
    /// SHA-256 of `canonical` (SPEC §6.4).
    pub id: MessageId,
    /// What the signature covers (SPEC §3.2), computed with `canonical` in one pass.
    signing_bytes: Vec<u8>,
}

impl SignedEnvelope {
    /// Parses an envelope from bytes (strict JSON).
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        SignedEnvelope::from_map(crate::json::parse_object(bytes)?)
    }

    /// Parses an envelope from a JSON object: shape, version, identifiers, encodings, the
    /// signature member and `alg`. The signature itself is checked by [`Self::verify`], so
    /// callers can first check what they know (is the sender registered?) and answer with the
    /// most useful code.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, Error> {
        SignedEnvelope::from_map_with_known(map, |_| None)
    }

    /// [`Self::from_map`], taking `from_primary` from `known` when it has a key for that
    /// text: a server that has already decoded a sender's primary need not decode it again
    /// from every envelope. `known` must only answer with the [`Primary`] whose text
    /// (`Display`) is exactly the one asked for; a primary's text is canonical (SPEC §2.3),
    /// so that is the same key `Primary::parse` would give.
    pub fn from_map_with_known(
        map: Map<String, Value>,
        known: impl Fn(&str) -> Option<Primary>,
    ) -> Result<Self, Error> {
        SignedEnvelope::try_from_map_with_known(map, known).map_err(|(error, _)| error)
    }

    /// [`Self::from_map_with_known`], giving the object back unchanged when it is refused:
    /// a federated envelope is answered by the id of what was sent, whether it parses or not
    /// (SPEC §9.4), and the id of one that parses is computed here with its other canonical
    /// form, not in a pass of its own.
    pub fn try_from_map_with_known(
        map: Map<String, Value>,
        known: impl Fn(&str) -> Option<Primary>,
    ) -> Result<Self, (Error, Map<String, Value>)> {
        EnvelopeHeader::try_from_map_with_known(map, known)?.into_signed()
    }

    /// Verifies the sender's signature with `from_primary` (SPEC §3.4).
    pub fn verify(&self) -> Result<(), Error> {
        crate::signed::verify_bytes(
            self.envelope.from_primary.verifying_key(),
            &self.signing_bytes,
            &self.object.signature.sig,
        )
    }
}

/// An envelope whose members other than `signature` are checked (SPEC §8.1 checks 2–4: the
/// number rule, type, version, the header's members) and whose signature member is not read
/// yet: a home server judges who claims to send it (checks 5–6) before the signature's shape
/// (check 7), so that an unknown sender is told so whatever its signature looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeHeader {
    /// The header and ciphertext.
    pub envelope: Envelope,
    /// The object as received, `signature` included.
    map: Map<String, Value>,
}

impl EnvelopeHeader {
    /// Checks everything but the signature member, taking `from_primary` from `known` as
    /// [`SignedEnvelope::from_map_with_known`] does; a refused object comes back unchanged.
    pub fn try_from_map_with_known(
        map: Map<String, Value>,
        known: impl Fn(&str) -> Option<Primary>,
    ) -> Result<Self, (Error, Map<String, Value>)> {
        // SPEC §8.1's order: strict JSON (the number rule of §3.3 included), then the type
        // and the version, so a v2 envelope is `unsupported_version` whatever its signature
        // or its other members look like, then the rest. The header reads only its own
        // members, never `signature`.
        let checked = map
            .values()
            .try_for_each(crate::json::check_safe_integers)
            .and_then(|()| header(Members(&map), known));
        match checked {
            Ok(envelope) => Ok(EnvelopeHeader { envelope, map }),
            Err(error) => Err((error, map)),
        }
    }

    /// Checks the signature member's shape and `alg` (SPEC §3.7 step 3) and computes the
    /// envelope's canonical form and id; the signature itself is checked by
    /// [`SignedEnvelope::verify`].
    pub fn into_signed(self) -> Result<SignedEnvelope, (Error, Map<String, Value>)> {
        let EnvelopeHeader { envelope, map } = self;
        let object = SignedObject::try_from_map(map, false)?;
        let (signing_bytes, canonical_bytes) = object.canonical_forms();
        let id = MessageId::of_canonical(&canonical_bytes);
        let canonical = match String::from_utf8(canonical_bytes) {
            Ok(canonical) => canonical,
            Err(_) => {
                let error = Error::malformed("canonical form is not UTF-8");
                return Err((error, object.into_map()));
            }
        };
        Ok(SignedEnvelope {
            envelope,
            object,
            canonical,
            id,
            signing_bytes,
        })
    }
}

/// Base64 that ignores nonzero trailing bits, as a lax decoder does (kezd's fault
/// `accept_noncanonical_base64`).
fn lenient_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let config = base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true);
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config).decode(text)
}

/// The envelope's members other than `signature`, in SPEC §8.1's order: type, version,
/// then the rest.
fn header(m: Members<'_>, known: impl Fn(&str) -> Option<Primary>) -> Result<Envelope, Error> {
    m.expect_type(TYPE)?;
    let v = m.uint("v")?;
    if v != PROTOCOL_VERSION && !crate::faults::on("accept_any_version") {
        return Err(Error::UnsupportedVersion(v));
    }
    let nonce = hexstr::decode_array::<{ e2ee::NONCE_LEN }>(m.str("nonce")?)
        .ok_or_else(|| Error::malformed("'nonce' must be 24 lowercase hex characters"))?;
    let ciphertext = if crate::faults::on("accept_noncanonical_base64") {
        lenient_base64(m.str("ciphertext")?)
    } else {
        B64.decode(m.str("ciphertext")?)
    };
    let ciphertext =
        ciphertext.map_err(|_| Error::malformed("'ciphertext' must be canonical padded base64"))?;
    if ciphertext.len() < e2ee::TAG_LEN {
        return Err(Error::malformed("'ciphertext' is shorter than the tag"));
    }
    Ok(Envelope {
        from: Address::parse(m.str("from")?)?,
        from_primary: {
            let text = m.str("from_primary")?;
            match known(text) {
                Some(primary) => primary,
                None => Primary::parse(text)?,
            }
        },
        to: Address::parse(m.str("to")?)?,
        ts_ms: m.uint("ts")?,
        nonce,
        ciphertext,
    })
}

impl Envelope {
    /// Seals `plaintext` for `recipient_primary` and fills in the header: what a client does
    /// before sending. `nonce` must be fresh and random for every message.
    pub fn seal(
        sender: &SigningKey,
        from: Address,
        to: Address,
        recipient_primary: &Primary,
        ts_ms: u64,
        nonce: [u8; e2ee::NONCE_LEN],
        plaintext: &[u8],
    ) -> Result<Self, Error> {
        Ok(Envelope {
            ciphertext: e2ee::seal(sender, recipient_primary, &nonce, plaintext)?,
            from,
            from_primary: Primary::from(sender),
            to,
            ts_ms,
            nonce,
        })
    }

    /// Signs the envelope with the sender's key and returns the complete JSON object.
    pub fn sign(&self, sender: &SigningKey) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), TYPE.into());
        body.insert("v".into(), PROTOCOL_VERSION.into());
        body.insert("from".into(), self.from.to_string().into());
        body.insert("from_primary".into(), self.from_primary.to_string().into());
        body.insert("to".into(), self.to.to_string().into());
        body.insert("ts".into(), self.ts_ms.into());
        body.insert("nonce".into(), hex::encode(self.nonce).into());
        body.insert("ciphertext".into(), B64.encode(&self.ciphertext).into());
        signed::sign(body, sender, None)
    }

    /// Opens the ciphertext with the recipient's key (client side only).
    pub fn open(&self, recipient: &SigningKey) -> Result<Vec<u8>, Error> {
        e2ee::open(recipient, &self.from_primary, &self.nonce, &self.ciphertext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> SigningKey {
        SigningKey::from_bytes(&[21; 32])
    }
    fn bob() -> SigningKey {
        SigningKey::from_bytes(&[22; 32])
    }

    fn sample() -> Value {
        Envelope::seal(
            &alice(),
            Address::parse("alice@a.example").expect("valid"),
            Address::parse("bob@b.example").expect("valid"),
            &Primary::from(&bob()),
            1_764_100_000_000,
            [3; 12],
            br#"{"text":"hello"}"#,
        )
        .expect("seals")
        .sign(&alice())
    }

    /// SPEC §6.1, §6.4: parse, verify, open; the id hashes the canonical bytes.
    #[test]
    fn round_trip() {
        let text = serde_json::to_vec_pretty(&sample()).expect("serializes");
        let env = SignedEnvelope::parse(&text).expect("parses");
        assert!(env.verify().is_ok());
        assert_eq!(env.id, MessageId::of_canonical(env.canonical.as_bytes()));
        assert_eq!(
            env.envelope.open(&bob()).as_deref(),
            Ok(&br#"{"text":"hello"}"#[..])
        );
        // Reordered keys give the same id: the id is of the canonical form.
        let compact = serde_json::to_vec(&sample()).expect("serializes");
        assert_eq!(SignedEnvelope::parse(&compact).expect("parses").id, env.id);
    }

    /// A key the caller already decoded is used for the text it was asked for, and only
    /// then; the result is the envelope plain parsing gives.
    #[test]
    fn known_primaries_stand_in_for_decoding() {
        let map = |v: Value| match v {
            Value::Object(map) => map,
            _ => unreachable!("an envelope is an object"),
        };
        let alice_primary = Primary::from(&alice());
        let asked = std::cell::RefCell::new(Vec::new());
        let known = |text: &str| {
            asked.borrow_mut().push(text.to_owned());
            (text == alice_primary.to_string()).then_some(alice_primary)
        };
        let plain = SignedEnvelope::from_map(map(sample())).expect("parses");
        let with_known = SignedEnvelope::from_map_with_known(map(sample()), known).expect("parses");
        assert_eq!(with_known, plain);
        assert!(with_known.verify().is_ok());
        assert_eq!(*asked.borrow(), [alice_primary.to_string()]);
        // Text the caller does not know is decoded, and judged, as before.
        let mut bad = sample();
        bad["from_primary"] = "ed25519:00".into();
        let got = SignedEnvelope::from_map_with_known(map(bad), known);
        assert_eq!(
            got.map(|_| ()).map_err(|e| e.code()),
            Err("invalid_primary")
        );
    }

    /// A refused envelope comes back as it was sent, whichever check refused it, so its id
    /// is the id of what was sent; an accepted one has that same id.
    #[test]
    fn refused_envelopes_come_back_unchanged() {
        let map = |v: Value| match v {
            Value::Object(map) => map,
            _ => unreachable!("an envelope is an object"),
        };
        let accepted =
            SignedEnvelope::try_from_map_with_known(map(sample()), |_| None).expect("parses");
        assert_eq!(
            accepted.id,
            MessageId::of_canonical(&crate::json::canonical(&sample()))
        );
        let mut bad_version = sample();
        bad_version["v"] = 2.into();
        let mut bad_sig = sample();
        bad_sig["signature"]["sig"] = "00".into();
        let mut no_sig = sample();
        no_sig.as_object_mut().expect("object").remove("signature");
        let mut unsafe_int = sample();
        unsafe_int["extra"] = (1_u64 << 60).into();
        for (sent, code) in [
            (bad_version, "unsupported_version"),
            (bad_sig, "malformed_signature"),
            (no_sig, "malformed_signature"),
            (unsafe_int, "malformed_request"),
        ] {
            let (error, back) =
                SignedEnvelope::try_from_map_with_known(map(sent.clone()), |_| None)
                    .expect_err("refused");
            assert_eq!(error.code(), code);
            assert_eq!(Value::Object(back), sent);
        }
    }

    /// SPEC §6.1: version, type and encodings are checked with their codes.
    #[test]
    fn rejections() {
        let with = |k: &str, v: Value| {
            let mut obj = sample();
            obj[k] = v;
            SignedEnvelope::parse(&serde_json::to_vec(&obj).expect("serializes"))
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(with("v", 2.into()), Err("unsupported_version"));
        // SPEC §8.1: the version is judged before the signature's shape and other members.
        let mut v2 = sample();
        v2["v"] = 2.into();
        v2["nonce"] = "zz".into();
        v2["signature"] = "not a signature".into();
        let got = SignedEnvelope::parse(&serde_json::to_vec(&v2).expect("serializes"));
        assert_eq!(
            got.map(|_| ()).map_err(|e| e.code()),
            Err("unsupported_version")
        );
        assert_eq!(
            with("type", "registration".into()),
            Err("malformed_request")
        );
        assert_eq!(with("nonce", "00".into()), Err("malformed_request"));
        assert_eq!(with("ciphertext", "AAAA".into()), Err("malformed_request"));
        assert_eq!(
            with("ciphertext", "not base64!".into()),
            Err("malformed_request")
        );
        assert_eq!(with("from", "alice".into()), Err("invalid_address"));
        assert_eq!(
            with("from_primary", "ed25519:00".into()),
            Err("invalid_primary")
        );
        // A changed header member still parses but no longer verifies.
        let mut obj = sample();
        obj["to"] = "carol@b.example".into();
        let env =
            SignedEnvelope::parse(&serde_json::to_vec(&obj).expect("serializes")).expect("parses");
        assert_eq!(env.verify(), Err(Error::InvalidSignature));
    }
}
