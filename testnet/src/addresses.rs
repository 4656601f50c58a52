//! Which loopback address each host of the testnet listens on. Every address in 127.0.0.0/8
//! is local on Linux, so each node and each rogue peer gets its own, and nodes are configured
//! to allow exactly those (`[federation] allowed_private_addresses`): SPEC §9.8's guard stays
//! on, and a name that resolves to any other loopback or private address is refused, as it
//! would be between real hosts.
//!
//! | hosts | addresses | allowed by the nodes |
//! | --- | --- | --- |
//! | node `i` (in the builder's order) | `127.0.1.<i+1>` | each, exactly |
//! | rogue peers | `127.0.2.0/24`, handed out in turn | the block |
//! | rogue peers at an unlisted address | `127.0.3.0/24`, handed out in turn | no |
//!
//! Ports are picked per address, so testnets running side by side share the addresses and
//! never a socket.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU8, Ordering};

/// The most nodes a testnet has (one address each in `127.0.1.0/24`).
pub const MAX_NODES: usize = 254;

/// The block rogue peers listen in; every node allows it.
pub const ROGUE_BLOCK: &str = "127.0.2.0/24";

/// The address of node `index` (0-based, in the builder's order).
pub(crate) fn node_ip(index: usize) -> Ipv4Addr {
    // Invariant: the builder refuses more than MAX_NODES nodes, so the last octet fits.
    let host = u8::try_from(index + 1).unwrap_or(u8::MAX);
    Ipv4Addr::new(127, 0, 1, host)
}

/// The nodes' `allowed_private_addresses`: each node's address and the rogue block.
pub(crate) fn allowed_private_addresses(node_ips: &[Ipv4Addr]) -> Vec<String> {
    node_ips
        .iter()
        .map(ToString::to_string)
        .chain([ROGUE_BLOCK.to_owned()])
        .collect()
}

/// Hands out rogue addresses in turn: `127.0.2.x` (allowed) or `127.0.3.x` (unlisted).
#[derive(Debug, Default)]
pub(crate) struct RogueAddresses {
    /// The last host number handed out in each block.
    listed: AtomicU8,
    unlisted: AtomicU8,
}

impl RogueAddresses {
    /// The next address in the allowed block, or in the unlisted one.
    pub(crate) fn next(&self, listed: bool) -> Ipv4Addr {
        let (counter, block) = if listed {
            (&self.listed, 2)
        } else {
            (&self.unlisted, 3)
        };
        // 1..=254, then around again: sockets differ by port, so reuse is harmless.
        let n = counter.fetch_add(1, Ordering::Relaxed) % 254 + 1;
        Ipv4Addr::new(127, 0, block, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_rogues_get_distinct_addresses() {
        assert_eq!(node_ip(0), Ipv4Addr::new(127, 0, 1, 1));
        assert_eq!(node_ip(1), Ipv4Addr::new(127, 0, 1, 2));
        assert_eq!(
            allowed_private_addresses(&[node_ip(0), node_ip(1)]),
            ["127.0.1.1", "127.0.1.2", ROGUE_BLOCK]
        );
        let rogues = RogueAddresses::default();
        assert_eq!(rogues.next(true), Ipv4Addr::new(127, 0, 2, 1));
        assert_eq!(rogues.next(true), Ipv4Addr::new(127, 0, 2, 2));
        assert_eq!(rogues.next(false), Ipv4Addr::new(127, 0, 3, 1));
    }
}
