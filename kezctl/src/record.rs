//! A handle record checked rather than believed (SPEC §4.2): its signed registration is
//! verified locally with kez-spec and must name exactly the address and primary the record
//! claims, whoever served it — a server just asked, or the remembered copy (record_cache.rs).

use kez_spec::api::handle_record;
use kez_spec::{Address, Primary};
use serde::Serialize;
use serde_json::Value;

use crate::error::CliError;

/// A verified handle record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// `handle@server`.
    pub address: String,
    /// The handle.
    pub handle: String,
    /// The server name.
    pub server: String,
    /// The owner's key.
    pub primary: String,
    /// When the server accepted it, ms.
    pub registered_at: Option<u64>,
    /// The base URL that answered.
    pub resolved_via: String,
}

/// Verifies a handle record fetched for `address` ([`verify_record`]) and that it is the
/// record of `address`, not of another handle.
pub fn check(value: &Value, via: &str, address: &Address) -> Result<(Record, Primary), CliError> {
    let (record, primary) = verify_record(value, via)?;
    if record.address != address.to_string() {
        return Err(CliError::Verification(format!(
            "asked {via} about {address}, it answered for {} (wrong server? use --server)",
            record.address
        )));
    }
    Ok((record, primary))
}

/// Checks a handle record (SPEC §4.2) with kez-spec's rule, the one servers apply to a
/// peer's (§9.4 check 5): its members name the address it claims, and its signed registration
/// (any age: it may be years old) binds that address to the record's primary.
pub fn verify_record(value: &Value, via: &str) -> Result<(Record, Primary), CliError> {
    let bad = |what: &str| CliError::Verification(format!("handle record from {via}: {what}"));
    let claimed = value
        .get("address")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no \"address\""))?;
    let address = Address::parse(claimed).map_err(|_| bad("invalid address"))?;
    let bytes = serde_json::to_vec(value).map_err(|e| bad(&e.to_string()))?;
    let verified =
        handle_record::verify_record(&bytes, &address, None, 0).map_err(|e| bad(&e.to_string()))?;
    Ok((
        Record {
            address: address.to_string(),
            handle: address.handle().to_string(),
            server: address.server().to_string(),
            primary: verified.primary.to_string(),
            registered_at: value.get("registered_at").and_then(Value::as_u64),
            resolved_via: via.to_owned(),
        },
        verified.primary,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kez_spec::registration::Registration;
    use kez_spec::{Handle, SigningKey};

    fn record(key: &SigningKey, handle: &str, claimed_primary: &Primary) -> Value {
        let registration = Registration {
            handle: Handle::parse(handle).expect("valid"),
            server: kez_spec::ServerName::parse("kez.lat").expect("valid"),
            primary: Primary::from(key),
            ts_ms: 1,
        }
        .sign(key);
        serde_json::json!({"handle": "alice", "server": "kez.lat", "address": "alice@kez.lat",
            "primary": claimed_primary.to_string(), "registered_at": 2,
            "registration": registration})
    }

    /// SPEC §4.2: a record whose registration verifies and agrees passes; a record claiming
    /// another key, or a registration for another handle, fails.
    #[test]
    fn records() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let mine = Primary::from(&key);
        assert!(verify_record(&record(&key, "alice", &mine), "x").is_ok());
        let other = Primary::from(&SigningKey::from_bytes(&[4; 32]));
        assert!(verify_record(&record(&key, "alice", &other), "x").is_err());
        assert!(verify_record(&record(&key, "mallory", &mine), "x").is_err());
        let mut forged = record(&key, "alice", &mine);
        forged["registration"]["ts"] = 9.into();
        assert!(verify_record(&forged, "x").is_err());
    }
}
