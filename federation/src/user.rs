//! Remote users: checking what a peer says about one of its users (SPEC §4.2, §4.4, §9.4
//! check 5) before the answer is trusted to say which primary signs that user's envelopes.
//!
//! The binding that matters is the registration inside the handle record: it is signed by the
//! primary it names, for one handle on one server. A record is accepted only when that
//! signature verifies, and the registration's handle and server are the address asked about
//! (so a server cannot pass off a registration made on another server as its own).

use kez_spec::registration::Registration;
use kez_spec::{Address, Primary, ServerName};
use serde_json::Value;

use crate::FederationError;

/// The WebFinger property carrying a user's primary (SPEC §4.4).
pub const PRIMARY_PROPERTY: &str = "https://kez.lat/ns/primary";

/// A remote user whose handle record and registration have been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteUser {
    /// The address that was looked up.
    pub address: Address,
    /// The primary the verified registration binds to the address.
    pub primary: Primary,
    /// The handle record as received (SPEC §4.2).
    pub record: Value,
}

/// What the WebFinger answer says: where the handle record is, and the primary if published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFingerAnswer {
    /// The `href` of the `self` link of type `application/json`.
    pub record_href: String,
    /// The `https://kez.lat/ns/primary` property, when present.
    pub primary: Option<String>,
}

/// Checks a WebFinger JRD (SPEC §4.4) for `address`: strict JSON, `subject` equal to
/// `acct:<address>`, a `self` link of type `application/json`.
pub fn parse_webfinger(
    bytes: &[u8],
    address: &Address,
) -> Result<WebFingerAnswer, FederationError> {
    let invalid = |what: &str| FederationError::invalid(format!("WebFinger for {address}: {what}"));
    let jrd = kez_spec::json::parse_object(bytes).map_err(|e| invalid(&e.to_string()))?;
    let subject = jrd.get("subject").and_then(Value::as_str);
    if subject != Some(format!("acct:{address}").as_str()) {
        return Err(invalid("'subject' is not the address asked for"));
    }
    let record_href = jrd
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|l| {
            l.get("rel").and_then(Value::as_str) == Some("self")
                && l.get("type").and_then(Value::as_str) == Some("application/json")
        })
        .and_then(|l| l.get("href"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no 'self' link of type application/json"))?
        .to_owned();
    let primary = jrd
        .get("properties")
        .and_then(|p| p.get(PRIMARY_PROPERTY))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(WebFingerAnswer {
        record_href,
        primary,
    })
}

/// The path and query to fetch the handle record from, on the server itself.
///
/// The WebFinger `href` is used when it points at the server name itself (`https://<server
/// name>/…`); any other host (a separate public base URL) is not followed, and the record is
/// fetched from `/v1/u/<handle>` on the server instead. Federation only ever connects to
/// server names found through discovery, never to hosts a peer names in a document.
pub fn record_path(href: &str, server: &ServerName, handle: &str) -> String {
    let fallback = format!("/v1/u/{handle}");
    let Ok(url) = reqwest::Url::parse(href) else {
        return fallback;
    };
    let same_server = url.scheme() == "https"
        && url.host_str() == Some(server.host())
        && url.port() == server.port()
        && url.username().is_empty()
        && url.password().is_none();
    if !same_server {
        return fallback;
    }
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Verifies a handle record (SPEC §4.2) for `address`: its `handle`, `server` and `address`
/// members name the address; its `registration` verifies (signature by its primary, handle
/// grammar) with `server` equal to the address's server and `handle` equal to the address's
/// handle; the record's and the registration's primaries agree, and agree with the WebFinger
/// primary when one was published.
pub fn verify_record(
    bytes: &[u8],
    address: &Address,
    webfinger_primary: Option<&str>,
    now_ms: u64,
) -> Result<RemoteUser, FederationError> {
    let invalid = |what: String| FederationError::invalid(format!("record of {address}: {what}"));
    let record = kez_spec::json::parse_object(bytes).map_err(|e| invalid(e.to_string()))?;
    let member = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("missing string member {name:?}")))
    };
    if member("handle")? != address.handle().as_str() {
        return Err(invalid("'handle' is not the handle asked for".into()));
    }
    if member("server")? != address.server().as_str() {
        return Err(invalid("'server' is not the server asked".into()));
    }
    if member("address")? != address.to_string() {
        return Err(invalid("'address' is not the address asked for".into()));
    }
    let primary = Primary::parse(member("primary")?).map_err(|e| invalid(e.to_string()))?;
    let registration = record
        .get("registration")
        .filter(|r| r.is_object())
        .ok_or_else(|| invalid("missing object member \"registration\"".into()))?;
    let reg_bytes = serde_json::to_vec(registration).map_err(|e| invalid(e.to_string()))?;
    // The registration is as old as the account: no timestamp window applies here, only
    // the binding (SPEC §9.4 check 5: signature, handle, server equal to the origin).
    let verified = Registration::verify(&reg_bytes, address.server(), now_ms, u64::MAX)
        .map_err(|e| invalid(format!("registration: {e}")))?;
    let reg = verified.registration;
    if reg.handle != *address.handle() {
        return Err(invalid("the registration is for another handle".into()));
    }
    if reg.primary != primary {
        return Err(invalid("the registration binds another primary".into()));
    }
    if let Some(wf) = webfinger_primary
        && wf != primary.to_string()
    {
        return Err(invalid("WebFinger publishes another primary".into()));
    }
    Ok(RemoteUser {
        address: address.clone(),
        primary,
        record: Value::Object(record),
    })
}

#[cfg(test)]
mod tests {
    use kez_spec::{Handle, SigningKey};

    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    fn record(handle: &str, reg_server: &str, key: &SigningKey) -> Vec<u8> {
        let reg = Registration {
            handle: Handle::parse(handle).expect("handle"),
            server: ServerName::parse(reg_server).expect("server"),
            primary: Primary::from(key),
            ts_ms: NOW - 86_400_000 * 30,
        }
        .sign(key);
        serde_json::to_vec(&serde_json::json!({
            "handle": handle, "server": "b.example", "address": format!("{handle}@b.example"),
            "primary": Primary::from(key).to_string(), "registered_at": NOW,
            "registration": reg,
        }))
        .expect("json")
    }

    fn bob() -> Address {
        Address::parse("bob@b.example").expect("address")
    }

    /// SPEC §9.4 check 5: a good record verifies, whatever the registration's age.
    #[test]
    fn good_record() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let user =
            verify_record(&record("bob", "b.example", &key), &bob(), None, NOW).expect("verifies");
        assert_eq!(user.primary, Primary::from(&key));
        let wf = Primary::from(&key).to_string();
        assert!(verify_record(&record("bob", "b.example", &key), &bob(), Some(&wf), NOW).is_ok());
    }

    /// A registration made for another server, for another handle, a tampered one, or a
    /// WebFinger primary that disagrees are all refused.
    #[test]
    fn refused_records() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let other_server = record("bob", "c.example", &key);
        assert!(matches!(
            verify_record(&other_server, &bob(), None, NOW),
            Err(FederationError::Invalid { .. })
        ));
        let alice = record("alice", "b.example", &key);
        assert!(verify_record(&alice, &bob(), None, NOW).is_err());
        let text = String::from_utf8(record("bob", "b.example", &key)).expect("utf-8");
        let tampered = text.replace(&format!("\"ts\":{}", NOW - 86_400_000 * 30), "\"ts\":1");
        assert_ne!(tampered, text);
        assert!(verify_record(tampered.as_bytes(), &bob(), None, NOW).is_err());
        let other = Primary::from(&SigningKey::from_bytes(&[4; 32])).to_string();
        assert!(verify_record(text.as_bytes(), &bob(), Some(&other), NOW).is_err());
    }

    /// The record is fetched from the server itself, never from another host.
    #[test]
    fn record_path_stays_on_the_server() {
        let b = ServerName::parse("b.example").expect("name");
        assert_eq!(
            record_path("https://b.example/v1/u/bob", &b, "bob"),
            "/v1/u/bob"
        );
        assert_eq!(
            record_path("https://evil.example/x", &b, "bob"),
            "/v1/u/bob"
        );
        assert_eq!(record_path("http://b.example/x", &b, "bob"), "/v1/u/bob");
        assert_eq!(
            record_path("https://b.example:8448/x", &b, "bob"),
            "/v1/u/bob"
        );
        let dev = ServerName::parse("localhost:6969").expect("name");
        assert_eq!(
            record_path("https://localhost:6969/v1/u/bob?x=1", &dev, "bob"),
            "/v1/u/bob?x=1"
        );
    }

    /// SPEC §4.4: the JRD's subject and self link.
    #[test]
    fn webfinger() {
        let jrd = serde_json::json!({
            "subject": "acct:bob@b.example",
            "links": [{"rel": "self", "type": "application/json", "href": "https://b.example/v1/u/bob"}],
            "properties": {PRIMARY_PROPERTY: "ed25519:00"},
        });
        let bytes = serde_json::to_vec(&jrd).expect("json");
        let wf = parse_webfinger(&bytes, &bob()).expect("parses");
        assert_eq!(wf.record_href, "https://b.example/v1/u/bob");
        assert_eq!(wf.primary.as_deref(), Some("ed25519:00"));
        let alice = Address::parse("alice@b.example").expect("address");
        assert!(parse_webfinger(&bytes, &alice).is_err());
    }
}
