//! Cursors (SPEC §8.2, §7.4): the `since`, `limit` and `Last-Event-ID` values a client sends,
//! each a non-negative decimal integer no larger than 2^53 − 1.
//!
//! One parser for all of them, so the query parameter and the header cannot disagree on what
//! a seq looks like: `u64::from_str` alone would also take a leading `+` (`%2B5` in a query).
//! Leading zeros are accepted (the value is re-written canonically wherever it is signed,
//! §7.1).

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::clock::MAX_SAFE_INTEGER;

/// A cursor value as a client may send it: decimal digits only, at most 2^53 − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor(pub u64);

impl Cursor {
    /// Parses decimal digits (at least one, no sign, no spaces) as a value ≤ 2^53 − 1.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::malformed(
                "a cursor is a non-negative decimal integer",
            ));
        }
        // All digits: the only failure left is overflow, which is "too large" as much as a
        // value above 2^53 − 1 is.
        text.parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_SAFE_INTEGER)
            .map(Cursor)
            .ok_or_else(|| Error::malformed("a cursor is at most 2^53 - 1"))
    }
}

impl FromStr for Cursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Cursor::parse(s)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §8.2: decimal digits only, up to 2^53 − 1; leading zeros are the same value.
    #[test]
    fn grammar() {
        for (ok, n) in [
            ("0", 0),
            ("41", 41),
            ("007", 7),
            ("9007199254740991", MAX_SAFE_INTEGER),
        ] {
            assert_eq!(Cursor::parse(ok), Ok(Cursor(n)), "{ok}");
        }
        for bad in [
            "",
            "-1",
            " 1",
            "1 ",
            "0x10",
            "1e3",
            "9007199254740992",
            "99999999999999999999999",
            "٣",
        ] {
            assert_eq!(
                Cursor::parse(bad).map_err(|e| e.code()),
                Err("malformed_request"),
                "{bad:?}"
            );
        }
    }

    /// `u64::from_str` takes a leading `+`; a cursor does not (SPEC §8.2 "non-negative decimal
    /// integer"), so `since=%2B5` is refused like any other malformed `since`.
    #[test]
    fn plus_sign_is_not_a_cursor() {
        assert_eq!("+5".parse::<u64>(), Ok(5));
        assert_eq!(
            Cursor::parse("+5").map_err(|e| e.code()),
            Err("malformed_request")
        );
    }
}
