//! An IP network (`10.0.0.0/8`, `2001:db8::/32`, or a bare address): the addresses an operator
//! lets federation reach despite the SSRF guard (SPEC §9.8), and kezd's trusted-proxy list.
//! Small enough to own rather than add a crate for, and the only place that compares networks.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address prefix. A bare address is a network of one (`/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address, with the host bits cleared so equal networks compare equal.
    network: IpAddr,
    /// Prefix length in bits: at most 32 for IPv4, 128 for IPv6.
    prefix: u8,
}

/// Why a text is not a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IP address.
    #[error("{0:?} is not an IP address")]
    Address(String),
    /// The prefix is not a number within the address family's width.
    #[error("prefix {0:?} is not a number from 0 to the address width")]
    Prefix(String),
}

impl Cidr {
    /// Whether `addr` is inside this network. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`,
    /// as a dual-stack socket reports IPv4 peers) are compared as the IPv4 address they are.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = mask_v4(self.prefix);
                u32::from(a) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = mask_v6(self.prefix);
                u128::from(a) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| CidrError::Address(addr_text.to_owned()))?;
        let addr = addr.to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => width,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= width && !p.starts_with('+') => n,
                _ => return Err(CidrError::Prefix(p.to_owned())),
            },
        };
        let network = match addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask_v4(prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask_v6(prefix)).into()),
        };
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn matches_inside_and_not_outside() {
        let net: Cidr = "10.1.0.0/16".parse().expect("valid");
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "mapped IPv4 is IPv4");
        assert!(!net.contains(ip("2001:db8::1")));

        let v6: Cidr = "2001:db8::/32".parse().expect("valid");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));

        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("203.0.113.7")));
        let one: Cidr = "192.0.2.1".parse().expect("valid");
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
    }

    #[test]
    fn clears_host_bits_and_rejects_garbage() {
        assert_eq!(
            "10.1.2.3/8"
                .parse::<Cidr>()
                .map(|c| c.to_string())
                .as_deref(),
            Ok("10.0.0.0/8")
        );
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::Prefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/x".parse::<Cidr>(),
            Err(CidrError::Prefix(_))
        ));
        assert!(matches!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::Prefix(_))
        ));
        assert!(matches!(
            "proxy.local".parse::<Cidr>(),
            Err(CidrError::Address(_))
        ));
    }
}
