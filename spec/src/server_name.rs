//! Server names (SPEC §2.2): lowercase DNS names in A-label form with an optional `:port`.
//! On the wire a name must already be normalised; [`ServerName::normalize`] is for user input.

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

fn check_host(host: &str) -> Result<(), Error> {
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
    // An all-numeric last label would make the name an IP literal (or look like one).
    if host
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(Error::InvalidServerName("IP literals are not server names"));
    }
    Ok(())
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
