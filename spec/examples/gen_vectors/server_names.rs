//! Vectors of server names, valid and refused (SPEC §2.2).

use super::*;

pub(crate) fn server_names(dir: &Path) {
    // (why, server name, valid): every spelling a URL parser or inet_aton reads as an address
    // is invalid (SPEC §2.2 "ends in a number"), with its neighbours that are names.
    let names: &[(&str, &str, bool)] = &[
        ("a name", "kez.lat", true),
        ("a single label", "localhost", true),
        ("a name with a port", "localhost:6969", true),
        (
            "digits in the last label beside letters",
            "node1.test",
            true,
        ),
        ("a first label of digits", "123.example", true),
        (
            "a hex-looking label before the last",
            "0x7f000001.example",
            true,
        ),
        ("0x followed by a non-hex letter", "a.0xg", true),
        ("a dotted quad", "127.0.0.1", false),
        ("a dotted quad with a port", "127.0.0.1:8448", false),
        ("one decimal number", "2130706433", false),
        ("one octal number", "017700000001", false),
        ("two parts", "127.1", false),
        ("three parts", "127.0.1", false),
        ("one hex number", "0x7f000001", false),
        ("one hex number with a port", "0x7f000001:6379", false),
        ("a hex last part", "127.0.0.0x1", false),
        ("octal and hex parts", "0177.0.0.0x1", false),
        ("0x0", "0x0", false),
        ("0x alone", "0x", false),
        ("0x alone after a name", "a.0x", false),
        ("metadata, hex last part", "169.254.169.0xfe", false),
        ("metadata, one hex number", "0xa9fea9fe", false),
        ("private, octal parts", "0300.0250.0.1", false),
        ("a name ending in a number", "a.b.123", false),
        ("a name ending in a hex number", "example.0xdeadbeef", false),
        ("uppercase 0X", "0X7F000001", false),
        ("an IPv6 literal", "[::1]", false),
        ("an IPv6 literal with a port", "[::1]:443", false),
        ("an IPv4-mapped IPv6 literal", "[::ffff:127.0.0.1]", false),
        ("a NAT64 IPv6 literal", "[64:ff9b::a9fe:a9fe]", false),
        ("a bare IPv6 literal", "::1", false),
        ("a trailing dot", "kez.lat.", false),
        ("a dotted quad with a trailing dot", "127.0.0.1.", false),
    ];
    let vectors: Vec<Value> = names
        .iter()
        .map(|(why, name, valid)| {
            assert_eq!(ServerName::parse(name).is_ok(), *valid, "{name}");
            let mut v = json!({"name": why, "server_name": name, "valid": valid});
            if !valid {
                v["error"] = "invalid_server_name".into();
            }
            v
        })
        .collect();
    let addresses: Vec<Value> = [
        ("a remote user", "bob@kez.lat", true),
        ("a development server", "bob@localhost:6969", true),
        ("loopback in hex", "bob@0x7f000001", false),
        ("loopback in hex with a port", "bob@0x7f000001:6379", false),
        ("loopback, mixed", "bob@127.0.0.0x1", false),
        ("metadata, mixed", "bob@169.254.169.0xfe", false),
        ("an IPv6 literal as the server", "bob@[::1]", false),
    ]
    .iter()
    .map(|(why, address, valid)| {
        assert_eq!(Address::parse(address).is_ok(), *valid, "{address}");
        let mut v = json!({"name": why, "address": address, "valid": valid});
        if !valid {
            v["error"] = "invalid_address".into();
        }
        v
    })
    .collect();
    write(
        dir,
        "kez-server-names.json",
        "Server names and addresses on the wire: valid names, and every spelling a URL parser reads as an IP address (the last label ends in a number, or an IPv6 literal).",
        &["§2.2", "§2.4"],
        json!({"server_names": vectors, "addresses": addresses}),
    );
}
