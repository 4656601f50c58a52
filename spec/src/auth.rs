//! Client request authentication (SPEC §7): a person proves they hold a handle's primary by
//! signing a short string naming the method, the exact path, the cursor when there is one, and
//! the time. The strings differ in path and line count, so no credential replays as another.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};

use crate::{Error, Handle, MessageId, Primary, clock, hexstr, signed};

/// Credentials may differ from the server's clock by this many seconds (SPEC §7.1).
pub const DEFAULT_SKEW_SECS: u64 = 60;

/// What a credential authorises. Each variant has its own string (SPEC §7.2–§7.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRequest<'a> {
    /// `GET /v1/inbox/<handle>?since=<n>` (prototype string, SPEC §7.2).
    Poll {
        /// Whose inbox.
        handle: &'a Handle,
        /// The cursor; an absent `since` is signed as 0.
        since: u64,
    },
    /// `GET /v1/inbox/<handle>/stream` without a cursor: live messages only (SPEC §7.3).
    StreamLive {
        /// Whose inbox.
        handle: &'a Handle,
    },
    /// `GET /v1/inbox/<handle>/stream` resuming after `since` (SPEC §7.4).
    StreamCursor {
        /// Whose inbox.
        handle: &'a Handle,
        /// The cursor the replay starts after.
        since: u64,
    },
    /// `POST /v1/inbox/<handle>/ack` deleting through `through` (SPEC §7.5).
    Ack {
        /// Whose inbox.
        handle: &'a Handle,
        /// The last seq to delete.
        through: u64,
    },
    /// `GET /v1/messages/<id>/status`, signed by the message's sender (SPEC §7.6).
    Status {
        /// The message asked about.
        id: &'a MessageId,
    },
}

impl AuthRequest<'_> {
    /// The exact string signed for this request at `ts` (Unix seconds).
    pub fn string(&self, ts: u64) -> String {
        match self {
            AuthRequest::Poll { handle, since } => {
                format!("GET\n/v1/inbox/{handle}\nsince={since}\n{ts}")
            }
            AuthRequest::StreamLive { handle } => format!("GET\n/v1/inbox/{handle}/stream\n{ts}"),
            AuthRequest::StreamCursor { handle, since } => {
                format!("GET\n/v1/inbox/{handle}/stream\nsince={since}\n{ts}")
            }
            AuthRequest::Ack { handle, through } => {
                format!("POST\n/v1/inbox/{handle}/ack\nthrough={through}\n{ts}")
            }
            AuthRequest::Status { id } => format!("GET\n/v1/messages/{id}/status\n{ts}"),
        }
    }

    /// Signs this request at `ts`, giving the credential a client sends.
    pub fn sign(&self, key: &SigningKey, ts: u64) -> Credential {
        Credential {
            ts,
            sig: key.sign(self.string(ts).as_bytes()).to_bytes(),
        }
    }

    /// Verifies `credential` for this request: the window first (cheap), then the signature.
    /// Every failure is [`Error::Unauthorized`], so the endpoint is no oracle.
    pub fn verify(
        &self,
        credential: &Credential,
        primary: &Primary,
        now_secs: u64,
        skew_secs: u64,
    ) -> Result<(), Error> {
        clock::check_window(credential.ts, now_secs, skew_secs).map_err(|_| Error::Unauthorized)?;
        signed::verify_bytes(
            primary.verifying_key(),
            self.string(credential.ts).as_bytes(),
            &credential.sig,
        )
        .map_err(|_| Error::Unauthorized)
    }
}

/// `<ts>:<sig>` as sent in `X-KEZ-Auth` or `?auth=` (SPEC §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential {
    /// Unix seconds.
    pub ts: u64,
    /// The ed25519 signature of the request's string.
    pub sig: [u8; 64],
}

impl Credential {
    /// Parses `<ts>:<128 hex>`: decimal seconds without sign or leading zeros.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let (ts, sig) = s.split_once(':').ok_or(Error::Unauthorized)?;
        let ts_ok = !ts.is_empty()
            && ts.len() <= 16
            && ts.bytes().all(|b| b.is_ascii_digit())
            && (ts == "0" || !ts.starts_with('0'));
        if !ts_ok {
            return Err(Error::Unauthorized);
        }
        let ts = ts.parse().map_err(|_| Error::Unauthorized)?;
        let sig = hexstr::decode_array::<64>(sig).ok_or(Error::Unauthorized)?;
        Ok(Credential { ts, sig })
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ts, hex::encode(self.sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_100_000;

    /// SPEC §7.2–§7.3: the prototype's strings, exactly.
    #[test]
    fn prototype_strings() {
        let h = Handle::parse("alice").expect("valid");
        assert_eq!(
            AuthRequest::Poll {
                handle: &h,
                since: 7
            }
            .string(NOW),
            "GET\n/v1/inbox/alice\nsince=7\n1764100000"
        );
        assert_eq!(
            AuthRequest::StreamLive { handle: &h }.string(NOW),
            "GET\n/v1/inbox/alice/stream\n1764100000"
        );
    }

    /// SPEC §7.7: a credential for one request verifies for no other.
    #[test]
    fn no_cross_replay() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let p = Primary::from(&key);
        let h = Handle::parse("alice").expect("valid");
        let id = MessageId::of_canonical(b"x");
        let reqs = [
            AuthRequest::Poll {
                handle: &h,
                since: 0,
            },
            AuthRequest::StreamLive { handle: &h },
            AuthRequest::StreamCursor {
                handle: &h,
                since: 0,
            },
            AuthRequest::Ack {
                handle: &h,
                through: 0,
            },
            AuthRequest::Status { id: &id },
        ];
        for (i, a) in reqs.iter().enumerate() {
            let cred = a.sign(&key, NOW);
            for (j, b) in reqs.iter().enumerate() {
                assert_eq!(
                    b.verify(&cred, &p, NOW, 60).is_ok(),
                    i == j,
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    /// SPEC §7.1: window and credential syntax.
    #[test]
    fn window_and_syntax() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let p = Primary::from(&key);
        let h = Handle::parse("alice").expect("valid");
        let req = AuthRequest::Poll {
            handle: &h,
            since: 0,
        };
        let cred = req.sign(&key, NOW);
        assert!(req.verify(&cred, &p, NOW + 60, 60).is_ok());
        assert_eq!(
            req.verify(&cred, &p, NOW + 61, 60),
            Err(Error::Unauthorized)
        );
        assert_eq!(Credential::parse(&cred.to_string()), Ok(cred));
        let sig = hex::encode(cred.sig);
        for bad in [
            format!("0{NOW}:{sig}"),
            format!("-1:{sig}"),
            format!("{NOW}:{}", sig.to_uppercase()),
            format!("{NOW}:{}", &sig[2..]),
            format!("{NOW}{sig}"),
            String::new(),
        ] {
            assert_eq!(Credential::parse(&bad), Err(Error::Unauthorized), "{bad}");
        }
    }
}
