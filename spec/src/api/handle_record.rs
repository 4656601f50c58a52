//! # `GET /v1/u/{handle}` and `GET /v1/by-primary/{primary}` (SPEC §4.2, §4.3)
//!
//! The handle record a server publishes for each of its users, and what a receiver checks in a
//! peer's (SPEC §9.4 check 5) before trusting it to say which primary signs that user's
//! envelopes.
//!
//! The binding that matters is the registration inside the record: it is signed by the primary
//! it names, for one handle on one server. A record is accepted only when that signature
//! verifies, and the registration's handle and server are the address asked about (so a server
//! cannot pass off a registration made on another server as its own).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::registration::Registration;
use crate::{Address, Error, Primary};

/// The handle record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandleRecord<R = Value> {
    /// The handle.
    pub handle: String,
    /// The server name.
    pub server: String,
    /// `handle@server`.
    pub address: String,
    /// The registered primary, `ed25519:<64 hex>`.
    pub primary: String,
    /// When the server accepted the registration, Unix milliseconds.
    pub registered_at: u64,
    /// The signed registration as stored (`R` is a `RawValue` when a server writes it as
    /// stored).
    pub registration: R,
}

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
) -> Result<RemoteUser, Error> {
    let invalid = |what: String| Error::malformed(format!("record of {address}: {what}"));
    let record = crate::json::parse_object(bytes).map_err(|e| invalid(e.to_string()))?;
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
    use crate::{Handle, ServerName, SigningKey};

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
            Err(Error::Malformed(_))
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
}
