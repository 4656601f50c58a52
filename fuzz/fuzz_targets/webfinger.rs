//! WebFinger JRDs (SPEC §4.4, RFC 7033) as federation reads a peer's answer about one of its
//! users: `webfinger::parse_webfinger`, then `webfinger::record_path`, which decides where the handle
//! record is fetched from.
#![no_main]

use kez_spec::api::webfinger::{parse_webfinger, record_path};
use kez_fuzz::{object, respelled, str_member};
use kez_spec::Address;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Asked for the address the input's subject names, so inputs reach past the subject check.
    let address = object(data)
        .as_ref()
        .and_then(|m| str_member(m, "subject"))
        .and_then(|s| s.strip_prefix("acct:"))
        .and_then(|a| Address::parse(a).ok())
        .unwrap_or_else(|| Address::parse("bob@b.example").expect("valid"));
    let verdict = parse_webfinger(data, &address);
    if let Some(other) = respelled(data) {
        let again = parse_webfinger(&other, &address);
        assert_eq!(
            again.as_ref().map_err(ToString::to_string),
            verdict.as_ref().map_err(ToString::to_string),
            "respelled"
        );
    }
    let Ok(answer) = verdict else { return };
    // Wherever the JRD points, the record is fetched from the server asked (SPEC §9.8): the
    // URL the client builds has that host and port, and is a path on it.
    let server = address.server();
    let path = record_path(&answer.record_href, server, address.handle().as_str());
    assert!(path.starts_with('/'), "{path:?}");
    // (A server name a URL parser refuses cannot be fetched from at all.)
    let Ok(url) = url::Url::parse(&format!("https://{server}{path}")) else {
        return;
    };
    assert_eq!(url.host_str(), Some(server.host()), "{path:?}");
    assert_eq!(
        url.port_or_known_default(),
        Some(server.port().unwrap_or(443)),
        "{path:?}"
    );
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{path:?}"
    );
});
