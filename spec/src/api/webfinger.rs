//! # `GET /.well-known/webfinger?resource=acct:{address}` (SPEC §4.4)
//!
//! The JRD [RFC 7033] a server answers for its users, what a receiver reads from a peer's —
//! where the handle record is, and the primary if published — and where that record is then
//! fetched from: never a host a peer names, only the server itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Address, Error, ServerName};

/// The property carrying a user's primary (SPEC §4.4).
pub const PRIMARY_PROPERTY: &str = "https://kez.lat/ns/primary";
/// The property carrying the user's server name.
pub const SERVER_PROPERTY: &str = "https://kez.lat/ns/server";
/// The link relation of the handle record.
pub const SELF_REL: &str = "self";
/// The media type of the handle record's link.
pub const RECORD_TYPE: &str = "application/json";

/// A JRD as a KEZ server writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jrd {
    /// `acct:<address>`.
    pub subject: String,
    /// The handle record's URL.
    pub aliases: Vec<String>,
    /// The `self` link to the handle record.
    pub links: Vec<Link>,
    /// [`PRIMARY_PROPERTY`] and [`SERVER_PROPERTY`].
    pub properties: BTreeMap<String, String>,
}

/// A JRD link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The relation, [`SELF_REL`].
    pub rel: String,
    /// The media type, [`RECORD_TYPE`].
    #[serde(rename = "type")]
    pub media_type: String,
    /// Where the handle record is.
    pub href: String,
}

impl Jrd {
    /// The JRD of `address`, whose handle record is at `href`.
    pub fn new(address: &Address, href: String, primary: &str) -> Self {
        Jrd {
            subject: format!("acct:{address}"),
            aliases: vec![href.clone()],
            links: vec![Link {
                rel: SELF_REL.into(),
                media_type: RECORD_TYPE.into(),
                href,
            }],
            properties: BTreeMap::from([
                (PRIMARY_PROPERTY.to_owned(), primary.to_owned()),
                (
                    SERVER_PROPERTY.to_owned(),
                    address.server().as_str().to_owned(),
                ),
            ]),
        }
    }
}

/// What a peer's WebFinger answer says: where the handle record is, and the primary if
/// published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFingerAnswer {
    /// The `href` of the `self` link of type `application/json`.
    pub record_href: String,
    /// The [`PRIMARY_PROPERTY`], when present.
    pub primary: Option<String>,
}

/// Checks a peer's JRD for `address`: strict JSON, `subject` equal to `acct:<address>`, a
/// `self` link of type `application/json`. Read member by member, not as a [`Jrd`]: a JRD
/// may carry links and properties of any shape (RFC 7033), which are no reason to refuse it.
pub fn parse_webfinger(bytes: &[u8], address: &Address) -> Result<WebFingerAnswer, Error> {
    let invalid = |what: &str| Error::malformed(format!("WebFinger for {address}: {what}"));
    let jrd = crate::json::parse_object(bytes).map_err(|e| invalid(&e.to_string()))?;
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
            l.get("rel").and_then(Value::as_str) == Some(SELF_REL)
                && l.get("type").and_then(Value::as_str) == Some(RECORD_TYPE)
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
    let Ok(url) = url::Url::parse(href) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bob() -> Address {
        Address::parse("bob@b.example").expect("address")
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

    /// SPEC §4.4: the JRD's subject and self link, as written and as read.
    #[test]
    fn webfinger() {
        let jrd = Jrd::new(&bob(), "https://b.example/v1/u/bob".into(), "ed25519:00");
        let bytes = serde_json::to_vec(&jrd).expect("json");
        let wf = parse_webfinger(&bytes, &bob()).expect("parses");
        assert_eq!(wf.record_href, "https://b.example/v1/u/bob");
        assert_eq!(wf.primary.as_deref(), Some("ed25519:00"));
        let alice = Address::parse("alice@b.example").expect("address");
        assert!(parse_webfinger(&bytes, &alice).is_err());
    }
}
