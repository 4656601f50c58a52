//! Who owns an address or a primary, checked rather than believed: the handle record's signed
//! registration (SPEC §4.2) is verified locally with kez-spec, and must name exactly the
//! address and primary the record claims. What this cannot catch — a home server serving a key
//! it controls — is SPEC §13.4's limit; compare primaries out of band for that.
//!
//! Which server is asked: `--server` when given; else the identity's home server when the
//! address is on it; else the address's own server, found by discovery (DNS SRV, then
//! WebFinger and the handle record over HTTPS, SPEC §9.1, §4.4) exactly as servers find each
//! other.

use kez_spec::api::handle_record;
use kez_spec::{Address, Primary};
use serde::Serialize;
use serde_json::Value;

use crate::client::Client;
use crate::context::Context;
use crate::discover::Discoverer;
use crate::error::CliError;
use crate::keyfile::Home;

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

/// Looks up `address` and verifies the answer.
pub async fn address(
    ctx: &Context,
    address: &Address,
    home: Option<&Home>,
) -> Result<(Record, Primary), CliError> {
    let (value, via) = fetch(ctx, address, home).await?;
    check(&value, &via, address)
}

/// Asks for the handle record of `address`, unverified, with a label of who answered. Every
/// error is the network's or the server's: a verification failure comes from [`check`].
pub async fn fetch(
    ctx: &Context,
    address: &Address,
    home: Option<&Home>,
) -> Result<(Value, String), CliError> {
    let on_home = home.is_some_and(|h| h.address.server() == address.server());
    if ctx.server.is_none() && !on_home {
        // Another server: WebFinger first, as a peer does (SPEC §9.4 check 5).
        let discoverer = Discoverer::new(&ctx.client_options, address.server())?;
        let value = discoverer.record(address).await?;
        Ok((value, format!("discovery of {}", address.server())))
    } else {
        let client = ctx.client_for(address.server(), home)?;
        let value = client.user(address.handle()).await?;
        Ok((value, client.base().to_owned()))
    }
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

/// Looks up who registered `primary` on the server `client` talks to.
pub async fn primary(client: &Client, primary: &Primary) -> Result<Record, CliError> {
    let value = client.by_primary(primary).await?;
    let (record, got) = verify_record(&value, client.base())?;
    if &got != primary {
        return Err(CliError::Verification(format!(
            "asked about {primary}, the server answered with {got}"
        )));
    }
    Ok(record)
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
