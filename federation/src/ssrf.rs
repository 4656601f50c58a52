//! The SSRF guard (SPEC §9.8): addresses federation must never connect to.
//!
//! Federation connects to hosts named by other parties (SRV targets, A/AAAA records they
//! control), so without this a peer could make us talk to our own loopback services, the
//! cloud metadata endpoint or the private network. The check is applied by `resolve.rs` to
//! the very addresses handed to the connector, so what is checked is what is connected to.
//!
//! IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the
//! IPv4 rules on the embedded address, because a dual-stack host or a NAT64 gateway would
//! deliver them to that IPv4 address.
//!
//! An operator whose peers live at private addresses (a test network, a private deployment)
//! allows exactly those ([`AddressPolicy`]): every other forbidden address stays forbidden, so
//! a peer that points its records at another private host is still refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cidr::Cidr;

/// Which of the addresses SPEC §9.8 forbids the operator allows anyway. The default allows
/// none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Every forbidden address is allowed: the guard is off (`allow_private_addresses`).
    pub allow_all: bool,
    /// These networks are allowed (`allowed_private_addresses`); the rest stay forbidden.
    pub allowed: Vec<Cidr>,
}

impl AddressPolicy {
    /// Allows every address: the guard is off.
    pub fn allow_all() -> Self {
        AddressPolicy {
            allow_all: true,
            allowed: Vec::new(),
        }
    }

    /// Allows, of the forbidden addresses, exactly those in `allowed`.
    pub fn only(allowed: Vec<Cidr>) -> Self {
        AddressPolicy {
            allow_all: false,
            allowed,
        }
    }

    /// Whether federation may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_all || !is_forbidden(ip) || self.allowed.iter().any(|net| net.contains(ip))
    }
}

/// True when `ip` is in a range SPEC §9.8 forbids (unless the operator allows private
/// addresses).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

/// `(network, prefix length)` pairs of SPEC §9.8's IPv4 list.
const V4_RANGES: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([127, 0, 0, 0], 8),     // loopback
    ([10, 0, 0, 0], 8),      // private
    ([172, 16, 0, 0], 12),   // private
    ([192, 168, 0, 0], 16),  // private
    ([100, 64, 0, 0], 10),   // CGNAT
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata lives here)
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation TEST-NET-1
    ([198, 51, 100, 0], 24), // documentation TEST-NET-2
    ([203, 0, 113, 0], 24),  // documentation TEST-NET-3
    ([198, 18, 0, 0], 15),   // benchmarking
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, includes broadcast 255.255.255.255
];

/// `(network, prefix length)` pairs of SPEC §9.8's IPv6 list.
const V6_RANGES: &[(u128, u8)] = &[
    (0, 128),                  // :: unspecified
    (1, 128),                  // ::1 loopback
    (0xfe80 << 112, 10),       // link-local
    (0xfc00 << 112, 7),        // unique local
    (0xfec0 << 112, 10),       // site-local (deprecated)
    (0x2001_0db8 << 96, 32),   // documentation
    (0x3fff << 112, 20),       // documentation (RFC 9637)
    ((0x2001_0002 << 96), 48), // benchmarking
    (0xff00 << 112, 8),        // multicast
];

fn in_prefix(addr: u128, net: u128, len: u8) -> bool {
    // A zero-length prefix would shift by 128, which overflows; no range here has one.
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    addr & mask == net & mask
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let addr = u32::from(ip);
    V4_RANGES.iter().any(|(net, len)| {
        let mask = u32::MAX << (32 - u32::from(*len));
        addr & mask == u32::from_be_bytes(*net) & mask
    })
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let addr = u128::from(ip);
    if V6_RANGES
        .iter()
        .any(|(net, len)| in_prefix(addr, *net, *len))
    {
        return true;
    }
    match embedded_v4(addr) {
        Some(v4) => is_forbidden_v4(v4),
        None => false,
    }
}

/// The IPv4 address embedded in an IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible (`::/96`),
/// NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`, address in bits 16–47) address.
fn embedded_v4(addr: u128) -> Option<Ipv4Addr> {
    // Truncation to the low 32 bits is the point: that is where the IPv4 address sits.
    let low32 = Ipv4Addr::from(addr as u32);
    if in_prefix(addr, 0xffff << 32, 96) || in_prefix(addr, 0, 96) {
        return Some(low32);
    }
    if in_prefix(addr, 0x0064_ff9b << 96, 96) {
        return Some(low32);
    }
    if in_prefix(addr, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::from((addr >> 80) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(s: &str) -> bool {
        is_forbidden(s.parse().expect("test address parses"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address parses")
    }

    /// SPEC §9.8: an allow-list lets through exactly its networks; other forbidden addresses
    /// (another loopback address, another private range) stay forbidden, public ones allowed.
    #[test]
    fn policy_allows_exactly_the_listed_networks() {
        let nets = ["127.0.1.1", "10.1.0.0/16"].map(|n| n.parse().expect("network"));
        let policy = AddressPolicy::only(nets.to_vec());
        for allowed in [
            "127.0.1.1",
            "::ffff:127.0.1.1",
            "10.1.200.3",
            "93.184.216.34",
        ] {
            assert!(policy.permits(ip(allowed)), "{allowed} must be allowed");
        }
        for refused in [
            "127.0.0.1",
            "127.0.1.2",
            "10.2.0.1",
            "::1",
            "169.254.169.254",
        ] {
            assert!(!policy.permits(ip(refused)), "{refused} must be refused");
        }
        assert!(!AddressPolicy::default().permits(ip("127.0.1.1")));
        assert!(AddressPolicy::allow_all().permits(ip("10.2.0.1")));
    }

    /// SPEC §9.8, IPv4: the first and last address of every listed range, and the neighbours
    /// just outside it.
    #[test]
    fn ipv4_ranges_and_edges() {
        let inside = [
            "0.0.0.0",
            "0.255.255.255",
            "127.0.0.1",
            "127.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.0",
            "192.168.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "169.254.0.0",
            "169.254.169.254",
            "169.254.255.255",
            "192.0.0.0",
            "192.0.0.255",
            "192.0.2.0",
            "192.0.2.255",
            "198.51.100.0",
            "198.51.100.255",
            "203.0.113.0",
            "203.0.113.255",
            "198.18.0.0",
            "198.19.255.255",
            "224.0.0.0",
            "239.255.255.255",
            "240.0.0.0",
            "255.255.255.254",
            "255.255.255.255",
        ];
        for ip in inside {
            assert!(forbidden(ip), "{ip} must be forbidden");
        }
        let outside = [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "8.8.8.8",
            "93.184.216.34",
        ];
        for ip in outside {
            assert!(!forbidden(ip), "{ip} must be allowed");
        }
    }

    /// SPEC §9.8, IPv6: every listed range with edges.
    #[test]
    fn ipv6_ranges_and_edges() {
        let inside = [
            "::",
            "::1",
            "fe80::",
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fc00::",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fec0::",
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff::",
            "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:2::",
            "2001:2:0:ffff:ffff:ffff:ffff:ffff",
            "ff00::",
            "ff02::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        for ip in inside {
            assert!(forbidden(ip), "{ip} must be forbidden");
        }
        let outside = [
            "::2:0:0:0",
            "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff:1000::",
            "2001:2:1::",
            "2001:1:ffff:ffff:ffff:ffff:ffff:ffff",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
        ];
        for ip in outside {
            assert!(!forbidden(ip), "{ip} must be allowed");
        }
    }

    /// SPEC §9.8: IPv4-mapped is required; compatible, NAT64 and 6to4 are applied too.
    #[test]
    fn embedded_ipv4() {
        let inside = [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::ffff:255.255.255.255",
            "::127.0.0.1",
            "::10.1.2.3",
            "64:ff9b::127.0.0.1",
            "64:ff9b::192.168.1.1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:c0a8:101:0:0:0:0:1",
        ];
        for ip in inside {
            assert!(forbidden(ip), "{ip} must be forbidden");
        }
        let outside = [
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::8.8.8.8",
            "64:ff9b:1::127.0.0.1",
            "2002:808:808::1",
        ];
        for ip in outside {
            assert!(!forbidden(ip), "{ip} must be allowed");
        }
    }
}
