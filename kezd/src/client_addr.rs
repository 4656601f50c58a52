//! Who the client is, for rate limits and logs: the TCP peer, unless the peer is a configured
//! trusted proxy, in which case the forwarded chain is read from the right (nearest hop) and
//! the first address that is not itself a trusted proxy is the client. Reading from the left
//! would let any client choose its own address by sending a forged header first.

use std::net::IpAddr;

use http::HeaderMap;

use crate::cidr::Cidr;

/// The configured trusted proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Whether `addr` is a trusted proxy.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(addr))
    }

    /// The networks, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Cidr> {
        self.0.iter()
    }
}

impl FromIterator<Cidr> for TrustedProxies {
    fn from_iter<I: IntoIterator<Item = Cidr>>(iter: I) -> Self {
        TrustedProxies(iter.into_iter().collect())
    }
}

/// The address group `addr` is counted in for per-address caps: an IPv4 address as itself,
/// an IPv6 address by its first `ipv6_prefix_len` bits (the rest cleared), since one
/// subscriber is given a whole network and can pick any address in it.
pub fn group(addr: IpAddr, ipv6_prefix_len: u8) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(ipv6_prefix_len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
        v4 => v4,
    }
}

/// The client's address for a request that arrived from `peer`.
///
/// `Forwarded` (RFC 7239) is preferred over `X-Forwarded-For` when both are present; every
/// instance of the header counts, in order. A hop that cannot be parsed (`unknown`, an
/// obfuscated name, garbage) ends the walk: the last address known good is used.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let chain = if headers.contains_key(http::header::FORWARDED) {
        forwarded_chain(headers)
    } else {
        x_forwarded_for_chain(headers)
    };
    let mut client = peer;
    for hop in chain.iter().rev() {
        let Some(addr) = hop else {
            break;
        };
        client = addr.to_canonical();
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

/// Hops of every `X-Forwarded-For`, left (origin) to right (nearest); `None` for a bad hop.
fn x_forwarded_for_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text.split(',').map(|hop| parse_hop(hop.trim())).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// The `for=` hops of every `Forwarded`, left to right; `None` for a bad hop.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(http::header::FORWARDED)
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text
                .split(',')
                .map(|element| {
                    element.split(';').find_map(|pair| {
                        let (name, value) = pair.trim().split_once('=')?;
                        name.eq_ignore_ascii_case("for").then(|| value.trim())
                    })
                })
                .map(|value| value.and_then(|v| parse_hop(v.trim_matches('"'))))
                .collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// One hop: an IPv4 or IPv6 address, optionally `[v6]`, optionally with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse().ok();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn trusted(list: &[&str]) -> TrustedProxies {
        list.iter().map(|t| t.parse().expect("test cidr")).collect()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("test header"));
        }
        map
    }

    #[test]
    fn ipv6_clients_are_grouped_by_prefix_and_ipv4_is_not() {
        assert_eq!(group(ip("2001:db8:1:2:aaaa::1"), 64), ip("2001:db8:1:2::"));
        assert_eq!(
            group(ip("2001:db8:1:2:aaaa::1"), 128),
            ip("2001:db8:1:2:aaaa::1")
        );
        assert_eq!(group(ip("2001:db8::1"), 0), ip("::"));
        assert_eq!(group(ip("192.0.2.7"), 64), ip("192.0.2.7"));
        assert_eq!(group(ip("::ffff:192.0.2.7"), 64), ip("192.0.2.7"));
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            resolve(ip("9.9.9.9"), &h, &trusted(&["10.0.0.0/8"])),
            ip("9.9.9.9")
        );
    }

    #[test]
    fn trusted_peer_yields_the_nearest_untrusted_hop() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &t), ip("1.2.3.4"));
        let split = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(resolve(ip("10.0.0.1"), &split, &t), ip("1.2.3.4"));
        assert_eq!(resolve(ip("::ffff:10.0.0.1"), &split, &t), ip("1.2.3.4"));
    }

    #[test]
    fn forwarded_is_preferred_and_parsed() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https",
            ),
            ("x-forwarded-for", "5.5.5.5"),
        ]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &t), ip("2001:db8::7"));
        let ported = headers(&[("forwarded", "for=192.0.2.60:8080")]);
        assert_eq!(resolve(ip("10.0.0.1"), &ported, &t), ip("192.0.2.60"));
    }

    #[test]
    fn bad_or_missing_hops_stop_at_the_last_good_address() {
        let t = trusted(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4, garbage, 10.0.0.5")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &t), ip("10.0.0.5"));
        assert_eq!(
            resolve(ip("10.0.0.1"), &HeaderMap::new(), &t),
            ip("10.0.0.1")
        );
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(resolve(ip("10.0.0.1"), &unknown, &t), ip("10.0.0.1"));
    }
}
