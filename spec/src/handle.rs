//! The local part of an address (SPEC §2.1). A `Handle` always satisfies the grammar; whether
//! it is reserved is a separate question, asked only at registration.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The longest handle, in characters (all ASCII, so also bytes).
pub const MAX_LEN: usize = 32;

/// Names nobody may register (SPEC §2.1): role accounts people would trust by their name.
pub const RESERVED: &[&str] = &[
    "abuse",
    "admin",
    "administrator",
    "all",
    "api",
    "everyone",
    "help",
    "hostmaster",
    "info",
    "kez",
    "mail",
    "moderator",
    "no-reply",
    "noreply",
    "null",
    "official",
    "postmaster",
    "root",
    "security",
    "server",
    "staff",
    "support",
    "system",
    "undefined",
    "webmaster",
    "www",
];

/// A handle: 1–32 of `[a-z0-9._-]`, starting and ending with `[a-z0-9]`, no `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(String);

impl Handle {
    /// Parses a handle exactly as it must appear on the wire.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bytes = s.as_bytes();
        if bytes.is_empty() {
            return Err(Error::InvalidHandle("empty"));
        }
        if bytes.len() > MAX_LEN {
            return Err(Error::InvalidHandle("longer than 32 characters"));
        }
        let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !bytes
            .iter()
            .all(|&b| edge_ok(b) || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(Error::InvalidHandle(
                "only a-z, 0-9, '.', '_' and '-' are allowed",
            ));
        }
        if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
            return Err(Error::InvalidHandle(
                "must start and end with a letter or digit",
            ));
        }
        if s.contains("..") {
            return Err(Error::InvalidHandle("must not contain '..'"));
        }
        Ok(Handle(s.to_owned()))
    }

    /// True when the handle is on the reserved list.
    pub fn is_reserved(&self) -> bool {
        RESERVED.contains(&self.0.as_str())
    }

    /// The handle's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Handle {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Handle::parse(s)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.1: the grammar's edges.
    #[test]
    fn grammar() {
        for ok in ["a", "alice", "a.b", "a_b-c", "0x", &"a".repeat(32)] {
            assert!(Handle::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Alice",
            "-a",
            "a-",
            ".a",
            "a.",
            "_a",
            "a..b",
            "a b",
            "a/b",
            "a@b",
            "é",
            &"a".repeat(33),
        ] {
            assert_eq!(
                Handle::parse(bad).map_err(|e| e.code()),
                Err("invalid_handle"),
                "{bad:?}"
            );
        }
    }

    /// SPEC §2.1: reserved names parse (they can be looked up) but are flagged.
    #[test]
    fn reserved() {
        assert!(Handle::parse("admin").is_ok_and(|h| h.is_reserved()));
        assert!(Handle::parse("alice").is_ok_and(|h| !h.is_reserved()));
        let mut sorted = RESERVED.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RESERVED, "keep the list sorted for review");
    }
}
