//! Server-to-server request signing (SPEC §9.3): the origin signs method, path and query,
//! both server names, the time and a digest of the body, and sends it in one `Authorization`
//! header (the shape of Matrix's X-Matrix). A request addressed to another server, or replayed
//! outside the window, or with any byte of the body changed, fails.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::{Error, KeyId, ServerName, clock, hexstr, signed};

/// The scheme name in the `Authorization` header.
pub const SCHEME: &str = "KEZ-Server";
/// The first line of the signed string: versions the construction.
pub const STRING_TAG: &str = "KEZ-S2S-1";
/// The optional whitespace of RFC 9110 §5.6.3 (spaces and tabs), allowed around the
/// header's commas and `=` signs.
const OWS: &[char] = &[' ', '\t'];
/// Server requests may differ from the receiver's clock by this many seconds.
pub const DEFAULT_SKEW_SECS: u64 = 120;

/// The parsed `Authorization: KEZ-Server …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAuth {
    /// The sending server.
    pub origin: ServerName,
    /// The server the request is for.
    pub destination: ServerName,
    /// Which of the origin's keys signed.
    pub key_id: KeyId,
    /// Unix seconds.
    pub ts: u64,
    /// The signature over [`signing_string`].
    pub sig: [u8; 64],
}

/// The request parts the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The HTTP method, uppercase.
    pub method: &'a str,
    /// The path with its query string, exactly as sent.
    pub path_and_query: &'a str,
    /// The body bytes (empty for none).
    pub body: &'a [u8],
}

/// Who signs a request, for whom, with which key and when: the header's identity fields.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    /// The sending server.
    pub origin: &'a ServerName,
    /// The receiving server.
    pub destination: &'a ServerName,
    /// The origin's key that signs.
    pub key_id: &'a KeyId,
    /// Unix seconds.
    pub ts: u64,
}

/// The exact string signed (SPEC §9.3). The key id is covered so a header cannot be re-pointed
/// at another of the origin's keys.
pub fn signing_string(req: RequestParts<'_>, who: Parties<'_>) -> String {
    let Parties {
        origin,
        destination,
        key_id,
        ts,
    } = who;
    format!(
        "{STRING_TAG}\n{}\n{}\n{origin}\n{destination}\n{key_id}\n{ts}\n{}",
        req.method,
        req.path_and_query,
        hex::encode(Sha256::digest(req.body))
    )
}

impl ServerAuth {
    /// Signs a request as `origin` with `key` named `key_id`.
    pub fn sign(req: RequestParts<'_>, who: Parties<'_>, key: &SigningKey) -> Self {
        let sig = key.sign(signing_string(req, who).as_bytes()).to_bytes();
        ServerAuth {
            origin: who.origin.clone(),
            destination: who.destination.clone(),
            key_id: who.key_id.clone(),
            ts: who.ts,
            sig,
        }
    }

    /// The identity fields as [`Parties`].
    pub fn parties(&self) -> Parties<'_> {
        Parties {
            origin: &self.origin,
            destination: &self.destination,
            key_id: &self.key_id,
            ts: self.ts,
        }
    }

    /// Parses the header value: the scheme, then the five parameters, each exactly once, in
    /// any order, values in double quotes; unknown parameters are ignored. As RFC 9110 §11
    /// has it, the scheme and the parameter names are matched case-insensitively, and
    /// whitespace (spaces, tabs) may stand around each comma and each `=`.
    pub fn parse(header: &str) -> Result<Self, Error> {
        let params = header
            .get(..SCHEME.len())
            .filter(|scheme| {
                // kezd's fault `s2s_header_case_sensitive`: the scheme as senders spell it.
                scheme.eq_ignore_ascii_case(SCHEME)
                    && (*scheme == SCHEME || !crate::faults::on("s2s_header_case_sensitive"))
            })
            .and_then(|_| header[SCHEME.len()..].strip_prefix(' '))
            .ok_or(Error::S2sUnauthorized("scheme must be KEZ-Server"))?;
        let (mut origin, mut destination, mut key, mut ts, mut sig) =
            (None, None, None, None, None);
        // kezd's fault `s2s_header_fixed_order`: only the order senders emit, without spaces.
        let fixed = crate::faults::on("s2s_header_fixed_order");
        let mut position = 0;
        for part in params.split(',') {
            if fixed {
                let at = ["origin=", "destination=", "key=", "ts=", "sig="]
                    .iter()
                    .position(|p| part.starts_with(p));
                if at.is_some_and(|at| at < position) || part.starts_with(' ') {
                    return Err(Error::S2sUnauthorized("parameters out of order"));
                }
                position = at.unwrap_or(position);
            }
            let (name, value) = part
                .split_once('=')
                .ok_or(Error::S2sUnauthorized("parameters are name=\"value\""))?;
            // kezd's fault `s2s_header_no_whitespace`: no whitespace around `=` or commas.
            let ows: &[char] = if crate::faults::on("s2s_header_no_whitespace") {
                &[]
            } else {
                OWS
            };
            let value = value
                .trim_matches(ows)
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|v| !v.contains('"'))
                .ok_or(Error::S2sUnauthorized("parameter values are quoted"))?;
            let name = name.trim_matches(ows);
            let name = if crate::faults::on("s2s_header_case_sensitive") {
                name.to_owned()
            } else {
                name.to_ascii_lowercase()
            };
            let slot = match name.as_str() {
                "origin" => &mut origin,
                "destination" => &mut destination,
                "key" => &mut key,
                "ts" => &mut ts,
                "sig" => &mut sig,
                _ if crate::faults::on("s2s_header_rejects_unknown_params") => {
                    return Err(Error::S2sUnauthorized("unknown parameter"));
                }
                // Ignored, so later versions can add parameters (SPEC §9.3).
                _ => continue,
            };
            if slot.replace(value).is_some() && !crate::faults::on("s2s_header_repeat_allowed") {
                return Err(Error::S2sUnauthorized("repeated parameter"));
            }
        }
        let missing = Error::S2sUnauthorized("missing parameter");
        let ts_text = ts.ok_or(missing.clone())?;
        let ts = if ts_text.bytes().all(|b| b.is_ascii_digit()) && !ts_text.starts_with('0') {
            ts_text.parse().ok()
        } else {
            None
        };
        Ok(ServerAuth {
            origin: ServerName::parse(origin.ok_or(missing.clone())?)
                .map_err(|_| Error::S2sUnauthorized("bad origin"))?,
            destination: ServerName::parse(destination.ok_or(missing.clone())?)
                .map_err(|_| Error::S2sUnauthorized("bad destination"))?,
            key_id: KeyId::parse(key.ok_or(missing.clone())?)
                .map_err(|_| Error::S2sUnauthorized("bad key id"))?,
            ts: ts.ok_or(Error::S2sUnauthorized("bad ts"))?,
            sig: hexstr::decode_array::<64>(sig.ok_or(missing)?)
                .ok_or(Error::S2sUnauthorized("bad sig"))?,
        })
    }

    /// Checks the destination, the window and the signature (with the origin's key for
    /// `key_id`, which the caller looked up and checked for validity).
    pub fn verify(
        &self,
        req: RequestParts<'_>,
        this_server: &ServerName,
        origin_key: &VerifyingKey,
        now_secs: u64,
        skew_secs: u64,
    ) -> Result<(), Error> {
        if &self.destination != this_server {
            return Err(Error::WrongDestination {
                got: self.destination.to_string(),
            });
        }
        clock::check_window(self.ts, now_secs, skew_secs)?;
        let msg = signing_string(req, self.parties());
        signed::verify_bytes(origin_key, msg.as_bytes(), &self.sig)
    }
}

impl fmt::Display for ServerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME} origin=\"{}\",destination=\"{}\",key=\"{}\",ts=\"{}\",sig=\"{}\"",
            self.origin,
            self.destination,
            self.key_id,
            self.ts,
            hex::encode(self.sig)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_100_000;

    fn names() -> (ServerName, ServerName, KeyId) {
        (
            ServerName::parse("a.example").expect("valid"),
            ServerName::parse("b.example").expect("valid"),
            KeyId::parse("ed25519:k1").expect("valid"),
        )
    }

    /// SPEC §9.3: sign, render, parse, verify; each covered part matters.
    #[test]
    fn round_trip_and_coverage() {
        let (a, b, kid) = names();
        let key = SigningKey::from_bytes(&[8; 32]);
        let req = RequestParts {
            method: "PUT",
            path_and_query: "/v1/federation/txn/1",
            body: b"{}",
        };
        let who = Parties {
            origin: &a,
            destination: &b,
            key_id: &kid,
            ts: NOW,
        };
        let auth = ServerAuth::sign(req, who, &key);
        let parsed = ServerAuth::parse(&auth.to_string()).expect("parses");
        assert_eq!(parsed, auth);
        let vk = key.verifying_key();
        assert!(parsed.verify(req, &b, &vk, NOW, 120).is_ok());
        let code =
            |r, here: &ServerName, now| parsed.verify(r, here, &vk, now, 120).map_err(|e| e.code());
        assert_eq!(code(req, &a, NOW), Err("wrong_destination"));
        assert_eq!(code(req, &b, NOW + 121), Err("stale_timestamp"));
        assert_eq!(
            code(
                RequestParts {
                    body: b"{ }",
                    ..req
                },
                &b,
                NOW
            ),
            Err("invalid_signature")
        );
        assert_eq!(
            code(
                RequestParts {
                    method: "POST",
                    ..req
                },
                &b,
                NOW
            ),
            Err("invalid_signature")
        );
        assert_eq!(
            code(
                RequestParts {
                    path_and_query: "/v1/federation/txn/2",
                    ..req
                },
                &b,
                NOW
            ),
            Err("invalid_signature")
        );
    }

    /// SPEC §9.3: the header grammar is strict.
    #[test]
    fn header_grammar() {
        let (a, b, kid) = names();
        let key = SigningKey::from_bytes(&[8; 32]);
        let req = RequestParts {
            method: "GET",
            path_and_query: "/",
            body: b"",
        };
        let who = Parties {
            origin: &a,
            destination: &b,
            key_id: &kid,
            ts: NOW,
        };
        let good = ServerAuth::sign(req, who, &key).to_string();
        for bad in [
            good.replace("KEZ-Server", "X-Matrix"),
            good.replace("origin=", "origin2="),
            format!("{good},origin=\"a.example\""),
            good.replace("ts=\"", "ts=\"0"),
            good.replace(",sig=", ",sog="),
            good.replace("\"a.example\"", "a.example"),
        ] {
            assert_eq!(
                ServerAuth::parse(&bad).map_err(|e| e.code()).err(),
                Some("s2s_unauthorized"),
                "{bad}"
            );
        }
        // RFC 9110 §11: the scheme and the parameter names in any case, whitespace around
        // commas and `=`; the values are as sent.
        let parsed = ServerAuth::parse(&good).expect("parses");
        for same in [
            good.replace("KEZ-Server", "kez-server"),
            good.replace("KEZ-Server", "KEZ-SERVER  "),
            good.replace(',', " ,\t"),
            good.replace('=', " = "),
            good.replace("origin=", "Origin=").replace("sig=", "SIG="),
        ] {
            assert_eq!(ServerAuth::parse(&same).as_ref(), Ok(&parsed), "{same}");
        }
    }
}
