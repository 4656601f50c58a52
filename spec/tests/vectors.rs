//! Every file in `spec/vectors/` checked against kez-spec (SPEC §13 lists them). The same
//! files are checked independently by `spec/crosscheck/check_vectors.py`.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use kez_spec::auth::{AuthRequest, Credential};
use kez_spec::deletion::{self, Deletion};
use kez_spec::envelope::{self, SignedEnvelope};
use kez_spec::registration::{self, Registration};
use kez_spec::s2s::{Parties, RequestParts, ServerAuth};
use kez_spec::signed::SignedObject;
use kez_spec::{Error, Handle, MessageId, Primary, ServerName, clock, e2ee, json};
use serde_json::Value;

fn load(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(file);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn items<'a>(doc: &'a Value, key: &str) -> &'a Vec<Value> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("missing array {key}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: missing {key}", v["name"]))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{}: missing {key}", v["name"]))
}

fn hx(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(s(v, key)).unwrap_or_else(|e| panic!("{}: {key}: {e}", v["name"]))
}

fn arr<const N: usize>(v: &Value, key: &str) -> [u8; N] {
    hx(v, key)
        .try_into()
        .unwrap_or_else(|_| panic!("{}: {key} length", v["name"]))
}

fn valid(v: &Value) -> bool {
    v["valid"].as_bool().unwrap_or(true)
}

/// Asserts a vector's outcome: Ok for valid ones, the listed code for invalid ones.
fn expect(v: &Value, got: Result<(), Error>) {
    match (valid(v), got) {
        (true, Ok(())) => {}
        (false, Err(e)) => assert_eq!(e.code(), s(v, "error"), "{}", v["name"]),
        (want, got) => panic!("{}: expected valid={want}, got {got:?}", v["name"]),
    }
}

/// RFC 8032 §7.1, verbatim: signing is deterministic and verifies strictly (SPEC §3.4).
#[test]
fn rfc8032_ed25519() {
    let doc = load("rfc8032-ed25519.json");
    for v in items(&doc, "vectors") {
        let key = SigningKey::from_bytes(&arr(v, "secret_key"));
        assert_eq!(
            key.verifying_key().to_bytes().to_vec(),
            hx(v, "public_key"),
            "{}",
            v["name"]
        );
        let sig = key.sign(&hx(v, "message")).to_bytes();
        assert_eq!(sig.to_vec(), hx(v, "signature"), "{}", v["name"]);
        let primary =
            Primary::from_bytes(&arr(v, "public_key")).expect("RFC keys are valid primaries");
        assert!(
            kez_spec::signed::verify_bytes(primary.verifying_key(), &hx(v, "message"), &sig)
                .is_ok()
        );
    }
}

/// The strict verification rule's edge cases (SPEC §3.4).
#[test]
fn ed25519_strict_edges() {
    let doc = load("ed25519-strict.json");
    for v in items(&doc, "vectors") {
        let got = Primary::from_bytes(&arr(v, "public_key"))
            .map_err(|_| Error::InvalidSignature)
            .and_then(|p| {
                kez_spec::signed::verify_bytes(
                    p.verifying_key(),
                    &hx(v, "message"),
                    &arr(v, "signature"),
                )
            });
        // Whatever the stage that rejects, the outcome a verifier reports is invalid_signature.
        expect(v, got);
    }
}

/// RFC 7748 §5.2 and §6.1, verbatim: the x25519 our conversions feed (SPEC §6.2).
#[test]
fn rfc7748_x25519() {
    let doc = load("rfc7748-x25519.json");
    for v in items(&doc, "scalar_mult") {
        let out = x25519_dalek::x25519(arr(v, "scalar"), arr(v, "u"));
        assert_eq!(out.to_vec(), hx(v, "output"), "{}", v["name"]);
    }
    for v in items(&doc, "iterated") {
        let (mut k, mut uu) = ([0u8; 32], [0u8; 32]);
        k[0] = 9;
        uu[0] = 9;
        for _ in 0..u(v, "iterations") {
            let next = x25519_dalek::x25519(k, uu);
            uu = k;
            k = next;
        }
        assert_eq!(k.to_vec(), hx(v, "output"), "{}", v["name"]);
    }
    for v in items(&doc, "diffie_hellman") {
        let a = x25519_dalek::StaticSecret::from(arr::<32>(v, "alice_private"));
        let b = x25519_dalek::StaticSecret::from(arr::<32>(v, "bob_private"));
        let a_pub = x25519_dalek::PublicKey::from(&a);
        let b_pub = x25519_dalek::PublicKey::from(&b);
        assert_eq!(a_pub.as_bytes().to_vec(), hx(v, "alice_public"));
        assert_eq!(b_pub.as_bytes().to_vec(), hx(v, "bob_public"));
        assert_eq!(
            a.diffie_hellman(&b_pub).as_bytes().to_vec(),
            hx(v, "shared")
        );
        assert_eq!(
            b.diffie_hellman(&a_pub).as_bytes().to_vec(),
            hx(v, "shared")
        );
    }
}

/// RFC 5869 A.1–A.3, verbatim: the KDF of SPEC §6.2.
#[test]
fn rfc5869_hkdf() {
    let doc = load("rfc5869-hkdf-sha256.json");
    for v in items(&doc, "vectors") {
        let (prk, hk) = hkdf::Hkdf::<sha2::Sha256>::extract(Some(&hx(v, "salt")), &hx(v, "ikm"));
        assert_eq!(prk.to_vec(), hx(v, "prk"), "{}", v["name"]);
        let mut okm = vec![0u8; u(v, "length") as usize];
        hk.expand(&hx(v, "info"), &mut okm).expect("valid length");
        assert_eq!(okm, hx(v, "okm"), "{}", v["name"]);
    }
}

/// RFC 8785's examples, verbatim, and the strict parser's rejections (SPEC §3.2–§3.3).
#[test]
fn rfc8785_jcs() {
    let doc = load("rfc8785-jcs.json");
    for v in items(&doc, "vectors") {
        let got = json::parse_strict(s(v, "input_text").as_bytes());
        match got {
            Ok(value) if valid(v) => assert_eq!(
                String::from_utf8(json::canonical(&value)).expect("utf-8"),
                s(v, "canonical_text"),
                "{}",
                v["name"]
            ),
            other => expect(v, other.map(|_| ())),
        }
    }
}

/// AES-256-GCM from NIST / Wycheproof (SPEC §6.2's cipher).
#[test]
fn aes256gcm() {
    let doc = load("aes256gcm.json");
    for v in items(&doc, "vectors") {
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&hx(v, "key")).expect("32-byte key");
        let iv = hx(v, "iv");
        let nonce = aes_gcm::Nonce::from_slice(&iv);
        let mut sealed = hx(v, "ct");
        sealed.extend(hx(v, "tag"));
        let opened = cipher.decrypt(
            nonce,
            Payload {
                msg: &sealed,
                aad: &hx(v, "aad"),
            },
        );
        if valid(v) {
            assert_eq!(
                opened.as_deref().ok(),
                Some(&hx(v, "msg")[..]),
                "{}",
                v["name"]
            );
            let enc = cipher.encrypt(
                nonce,
                Payload {
                    msg: &hx(v, "msg"),
                    aad: &hx(v, "aad"),
                },
            );
            assert_eq!(enc.ok(), Some(sealed), "{}", v["name"]);
        } else {
            assert!(opened.is_err(), "{}", v["name"]);
        }
    }
}

/// SPEC §2.3, §6.2: identities and their x25519 forms; rejected primaries.
#[test]
fn kez_identities() {
    let doc = load("kez-identities.json");
    for v in items(&doc, "identities") {
        let key = SigningKey::from_bytes(&arr(v, "seed"));
        let primary = Primary::from(&key);
        assert_eq!(primary.to_string(), s(v, "primary"));
        assert_eq!(Primary::parse(s(v, "primary")), Ok(primary));
        assert_eq!(
            e2ee::x25519_secret(&arr(v, "seed")).to_vec(),
            hx(v, "x25519_secret")
        );
        assert_eq!(
            e2ee::x25519_public(&primary).to_vec(),
            hx(v, "x25519_public")
        );
    }
    for v in items(&doc, "invalid_primaries") {
        let got = Primary::parse(s(v, "primary")).map(|_| ());
        assert_eq!(
            got.map_err(|e| e.code()),
            Err(s(v, "error")),
            "{}",
            v["name"]
        );
    }
}

/// SPEC §3: signing bytes and verification of signed objects in any JSON form.
#[test]
fn kez_signed_objects() {
    let doc = load("kez-signed-objects.json");
    for v in items(&doc, "vectors") {
        let key = VerifyingKey::from_bytes(&arr(v, "public_key")).expect("valid key");
        let got = SignedObject::parse(s(v, "object_text").as_bytes(), false).and_then(|obj| {
            if let Some(expected) = v["signing_text"].as_str() {
                assert_eq!(
                    String::from_utf8(obj.signing_bytes()).expect("utf-8"),
                    expected,
                    "{}",
                    v["name"]
                );
            }
            kez_spec::signed::verify_bytes(&key, &obj.signing_bytes(), &obj.signature.sig)
        });
        expect(v, got);
    }
}

/// SPEC §4.1: registrations in the order of checks.
#[test]
fn kez_registration() {
    let doc = load("kez-registration.json");
    for v in items(&doc, "vectors") {
        let server = ServerName::parse(s(v, "server")).expect("valid");
        let got = Registration::verify(
            s(v, "object_text").as_bytes(),
            &server,
            u(v, "now_ms"),
            registration::DEFAULT_SKEW_MS,
        );
        expect(v, got.map(|_| ()));
    }
}

/// SPEC §4.7: deletions in the order of checks 1–8.
#[test]
fn kez_deletion() {
    let doc = load("kez-deletion.json");
    for v in items(&doc, "vectors") {
        let server = ServerName::parse(s(v, "server")).expect("valid");
        let got = Deletion::verify(
            s(v, "object_text").as_bytes(),
            &server,
            u(v, "now_ms"),
            deletion::DEFAULT_SKEW_MS,
        );
        expect(v, got.map(|_| ()));
    }
}

/// SPEC §6.1, §6.4: envelopes and their ids.
#[test]
fn kez_envelope() {
    let doc = load("kez-envelope.json");
    for v in items(&doc, "vectors") {
        let got = SignedEnvelope::parse(s(v, "object_text").as_bytes()).and_then(|env| {
            env.verify()?;
            clock::check_window(
                env.envelope.ts_ms,
                u(v, "now_ms"),
                envelope::DEFAULT_SKEW_MS,
            )?;
            assert_eq!(env.id.to_string(), s(v, "message_id"), "{}", v["name"]);
            Ok(())
        });
        expect(v, got);
    }
}

/// SPEC §7: every credential kind, and the replays that must fail.
#[test]
fn kez_auth() {
    let doc = load("kez-auth.json");
    for v in items(&doc, "vectors") {
        let handle = Handle::parse(s(v, "handle")).expect("valid");
        let id = v["message_id"]
            .as_str()
            .map(|m| MessageId::parse(m).expect("valid id"));
        let cursor = v["cursor"].as_u64().unwrap_or(0);
        let req = match s(v, "kind") {
            "poll" => AuthRequest::Poll {
                handle: &handle,
                since: cursor,
            },
            "stream_live" => AuthRequest::StreamLive { handle: &handle },
            "stream_cursor" => AuthRequest::StreamCursor {
                handle: &handle,
                since: cursor,
            },
            "ack" => AuthRequest::Ack {
                handle: &handle,
                through: cursor,
            },
            "status" => AuthRequest::Status {
                id: id.as_ref().expect("status vectors carry an id"),
            },
            other => panic!("unknown kind {other}"),
        };
        assert_eq!(req.string(u(v, "ts")), s(v, "string_text"), "{}", v["name"]);
        let primary = Primary::from_bytes(&arr(v, "public_key")).expect("valid");
        let got = Credential::parse(s(v, "credential"))
            .and_then(|c| req.verify(&c, &primary, u(v, "now"), kez_spec::auth::DEFAULT_SKEW_SECS));
        expect(v, got);
    }
}

/// SPEC §6.2: exact ciphertexts for fixed nonces; every corruption fails to open.
#[test]
fn kez_seal() {
    let doc = load("kez-seal.json");
    for v in items(&doc, "vectors") {
        let sender = SigningKey::from_bytes(&arr(v, "sender_seed"));
        let recipient = SigningKey::from_bytes(&arr(v, "recipient_seed"));
        let ct = B64.decode(s(v, "ciphertext_b64")).expect("base64");
        let nonce = hx(v, "nonce");
        if valid(v) {
            let primary = Primary::parse(s(v, "recipient_primary")).expect("valid");
            let nonce12: [u8; 12] = nonce.clone().try_into().expect("12-byte nonce");
            assert_eq!(
                e2ee::seal(&sender, &primary, &nonce12, &hx(v, "plaintext")),
                Ok(ct.clone()),
                "{}",
                v["name"]
            );
        }
        let got = e2ee::open(&recipient, &Primary::from(&sender), &nonce, &ct)
            .map(|pt| assert_eq!(pt, hx(v, "plaintext"), "{}", v["name"]));
        expect(v, got);
    }
}

/// SPEC §9.3: server-to-server headers.
#[test]
fn kez_s2s() {
    let doc = load("kez-s2s.json");
    for v in items(&doc, "vectors") {
        let key = SigningKey::from_bytes(&arr(v, "server_seed"));
        let origin = ServerName::parse(s(v, "origin")).expect("valid");
        let dest = ServerName::parse(s(v, "destination")).expect("valid");
        let req = RequestParts {
            method: s(v, "method"),
            path_and_query: s(v, "path"),
            body: s(v, "body_text").as_bytes(),
        };
        let key_id = kez_spec::KeyId::parse(s(v, "key_id")).expect("valid");
        let who = Parties {
            origin: &origin,
            destination: &dest,
            key_id: &key_id,
            ts: u(v, "ts"),
        };
        assert_eq!(
            kez_spec::s2s::signing_string(req, who),
            s(v, "string_text"),
            "{}",
            v["name"]
        );
        let got = ServerAuth::parse(s(v, "header_text")).and_then(|auth| {
            auth.verify(
                req,
                &dest,
                &key.verifying_key(),
                u(v, "now"),
                kez_spec::s2s::DEFAULT_SKEW_SECS,
            )
        });
        expect(v, got);
    }
}

/// SPEC §2.2, §2.4: server names and addresses, IP addresses in every spelling refused.
#[test]
fn kez_server_names() {
    let doc = load("kez-server-names.json");
    for v in items(&doc, "server_names") {
        expect(v, ServerName::parse(s(v, "server_name")).map(|_| ()));
    }
    for v in items(&doc, "addresses") {
        expect(v, kez_spec::Address::parse(s(v, "address")).map(|_| ()));
    }
}
