//! The identifier grammars of SPEC §2 — server names (§2.2), handles (§2.1), primaries
//! (§2.3), addresses (§2.4), key ids (§2.5), message ids (§2.6) — as every route and peer
//! input reaches them, and `ServerName::normalize` for what users type.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use kez_spec::{Address, Handle, KeyId, MessageId, Primary, ServerName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // On the wire there is one spelling of each identifier: whatever parses is written back
    // exactly as it was read.
    if let Ok(name) = ServerName::parse(text) {
        assert_eq!(name.to_string(), text);
        check_server_name(&name);
    }
    if let Ok(handle) = Handle::parse(text) {
        assert_eq!(handle.to_string(), text);
    }
    if let Ok(primary) = Primary::parse(text) {
        assert_eq!(primary.to_string(), text);
        assert_eq!(Primary::from_bytes(&primary.to_bytes()), Ok(primary));
    }
    if let Ok(address) = Address::parse(text) {
        assert_eq!(address.to_string(), text);
        assert_eq!(
            Handle::parse(address.handle().as_str()).as_ref(),
            Ok(address.handle())
        );
        check_server_name(address.server());
    }
    if let Ok(id) = KeyId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
    if let Ok(id) = MessageId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
    // What users type normalises to a wire name, and normalising that changes nothing.
    if let Ok(name) = ServerName::normalize(text) {
        assert_eq!(ServerName::parse(name.as_str()).as_ref(), Ok(&name));
        assert_eq!(ServerName::normalize(name.as_str()).as_ref(), Ok(&name));
        check_server_name(&name);
    }
});

/// A server name is a name, never an address (SPEC §2.2, §9.8): neither Rust nor a URL parser
/// reads its host as an IP literal, so every connection to it goes through the resolver and
/// its SSRF guard.
fn check_server_name(name: &ServerName) {
    let host = name.host();
    assert!(host.parse::<IpAddr>().is_err(), "{name} is an IP literal");
    assert!(host.parse::<Ipv4Addr>().is_err(), "{name} is an IP literal");
    assert_eq!(ServerName::parse(name.as_str()).as_ref(), Ok(name));
    // A name a URL parser refuses (say, a label `xn--` that is not valid punycode) cannot be
    // connected to at all; one it accepts must be a domain.
    let Ok(url) = url::Url::parse(&format!("https://{name}/")) else {
        return;
    };
    assert!(
        matches!(url.host(), Some(url::Host::Domain(_))),
        "{name} is an IP address to a URL parser: {:?}",
        url.host()
    );
    // A URL drops the default port; the name may spell it.
    assert_eq!(
        url.port_or_known_default(),
        Some(name.port().unwrap_or(443))
    );
}
