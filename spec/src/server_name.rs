//! Server names (SPEC §2.2): lowercase DNS names in A-label form with an optional `:port`.
//! On the wire a name must already be normalised; [`ServerName::normalize`] is for user input.
//!
//! A server name is something another party makes this server connect to, so it must be a
//! name that only DNS can turn into an address. URL parsers (WHATWG, and `inet_aton` before
//! them) read a host whose last label "ends in a number" as an IPv4 address in decimal, octal
//! or hex, in one to four parts (`0x7f000001`, `127.1`, `0177.0.0.0x1`), and would connect to
//! it without asking any resolver, past the SSRF guard of §9.8. Refusing every such host here,
//! and IPv6 literals, makes the name itself unable to carry an address.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A normalised server name, e.g. `kez.lat` or `localhost:6969`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerName {
    /// The whole name as written on the wire, port included.
    text: String,
    /// Where the host part ends in `text` (the `:` of the port, or the length).
    host_end: usize,
    /// The explicit port, which makes discovery skip SRV (SPEC §9.1).
    port: Option<u16>,
}

impl ServerName {
    /// Parses a name exactly as it must appear on the wire.
    pub fn parse(s: &str) -> Result<Self, Error> {
        refuse_ipv6_literal(s)?;
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(parse_port(port)?)),
            None => (s, None),
        };
        check_host(host)?;
        Ok(ServerName {
            text: s.to_owned(),
            host_end: host.len(),
            port,
        })
    }

    /// Normalises user input (trim, lowercase, Unicode to A-labels, one trailing dot removed)
    /// and then parses it strictly.
    pub fn normalize(input: &str) -> Result<Self, Error> {
        let input = input.trim();
        refuse_ipv6_literal(input)?;
        let (host, port) = match input.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (input, None),
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        let ascii = idna::domain_to_ascii(host)
            .map_err(|_| Error::InvalidServerName("not a valid internationalised domain name"))?;
        let text = match port {
            Some(port) => format!("{ascii}:{port}"),
            None => ascii,
        };
        ServerName::parse(&text)
    }

    /// The host part, without the port.
    pub fn host(&self) -> &str {
        &self.text[..self.host_end]
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn parse_port(port: &str) -> Result<u16, Error> {
    let bad = Error::InvalidServerName("port must be 1-65535 without leading zeros");
    if port.is_empty() || port.starts_with('0') || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad),
    }
}

/// `[::1]`, `[::1]:443`: the bracketed form URLs give IPv6 literals. (Unbracketed ones fail
/// the label grammar on their `:`.)
fn refuse_ipv6_literal(s: &str) -> Result<(), Error> {
    if s.starts_with('[') {
        return Err(Error::InvalidServerName(
            "IPv6 literals are not server names",
        ));
    }
    Ok(())
}

/// Checks a host without a port against SPEC §2.2: what a server name's host part, and an SRV
/// target (§9.1), must be.
pub fn check_host(host: &str) -> Result<(), Error> {
    if host.is_empty() || host.len() > 253 {
        return Err(Error::InvalidServerName("length must be 1-253"));
    }
    for label in host.split('.') {
        let b = label.as_bytes();
        if b.is_empty() || b.len() > 63 {
            return Err(Error::InvalidServerName(
                "each label must be 1-63 characters",
            ));
        }
        if !b
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            return Err(Error::InvalidServerName(
                "labels are lowercase a-z, 0-9 and '-' (A-labels)",
            ));
        }
        if b[0] == b'-' || b[b.len() - 1] == b'-' {
            return Err(Error::InvalidServerName(
                "a label must not start or end with '-'",
            ));
        }
    }
    if ends_in_a_number(host) {
        return Err(Error::InvalidServerName(
            "a host whose last label is a number is an IP address, not a server name",
        ));
    }
    Ok(())
}

/// The WHATWG URL Standard's "ends in a number" test: the last label is all decimal digits
/// (decimal or octal), or `0x`/`0X` followed by zero or more hex digits. A URL parser reads
/// exactly these hosts as IPv4 addresses, in every spelling `inet_aton` accepts.
fn ends_in_a_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host);
    let decimal = !last.is_empty() && last.bytes().all(|c| c.is_ascii_digit());
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
    decimal || hex
}

impl FromStr for ServerName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        ServerName::parse(s)
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.2: wire form is strict.
    #[test]
    fn strict_parse() {
        for ok in [
            "kez.lat",
            "localhost",
            "localhost:6969",
            "a-b.example",
            "xn--bcher-kva.example",
        ] {
            assert!(ServerName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Kez.lat",
            "kez.lat.",
            "kez..lat",
            "-a.example",
            "a-.example",
            "kez.lat:0",
            "kez.lat:070",
            "kez.lat:65536",
            "kez.lat:",
            "127.0.0.1",
            "127.0.0.1:8448",
            "bücher.example",
            "a_b.example",
            &format!("{}.example", "a".repeat(64)),
        ] {
            assert_eq!(
                ServerName::parse(bad).map_err(|e| e.code()),
                Err("invalid_server_name"),
                "{bad:?}"
            );
        }
        let s = ServerName::parse("localhost:6969").expect("valid");
        assert_eq!((s.host(), s.port()), ("localhost", Some(6969)));
    }

    /// SPEC §2.2: every spelling a URL parser or `inet_aton` reads as an IPv4 address, and
    /// IPv6 literals, are refused, with or without a port; names that merely contain digits or
    /// hex-looking labels before the last one are names.
    #[test]
    fn numbers_are_not_names() {
        for bad in [
            "0x7f000001",
            "0x7f000001:6379",
            "127.0.0.0x1",
            "0177.0.0.0x1",
            "0x0",
            "0x",
            "a.0x",
            "169.254.169.0xfe",
            "0xa9fea9fe",
            "2130706433",
            "017700000001",
            "127.1",
            "127.0.1",
            "10.0.0.1",
            "0300.0250.0.1",
            "0",
            "a.b.123",
            "example.0xdeadbeef",
            "[::1]",
            "[::1]:443",
            "[::ffff:127.0.0.1]",
            "[64:ff9b::7f00:1]:8448",
            "::1",
            "127.0.0.1.",
            "0x7f000001.",
        ] {
            assert_eq!(
                ServerName::parse(bad).map_err(|e| e.code()),
                Err("invalid_server_name"),
                "{bad:?}"
            );
            assert!(ServerName::normalize(bad).is_err(), "normalize({bad:?})");
        }
        for ok in [
            "0x7f000001.example",
            "127.0.0.1.nip.example",
            "a1",
            "1a",
            "0xg",
            "x0",
            "node-1.test",
            "123.example:443",
        ] {
            assert!(ServerName::parse(ok).is_ok(), "{ok}");
        }
        // Uppercase `0X` is refused on the wire as uppercase; user input is lowercased first.
        assert!(ServerName::normalize("0X7F000001").is_err());
        assert!(check_host("0x7f000001").is_err());
        assert!(check_host("node-b.test").is_ok());
        assert!(check_host("node-b.test:1").is_err(), "a host has no port");
    }

    /// SPEC §2.2: user input is normalised before the strict parse.
    #[test]
    fn normalize() {
        let n = |s| ServerName::normalize(s).map(|n| n.to_string());
        assert_eq!(n(" KEZ.lat. ").as_deref(), Ok("kez.lat"));
        assert_eq!(n("Bücher.example").as_deref(), Ok("xn--bcher-kva.example"));
        assert_eq!(n("Localhost:6969").as_deref(), Ok("localhost:6969"));
        assert!(n("a b.example").is_err());
    }
}
