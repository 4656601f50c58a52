//! Who owns an address or a primary, checked rather than believed: the handle record's signed
//! registration (SPEC §4.2) is verified locally with kez-spec, and must name exactly the
//! address and primary the record claims. What this cannot catch — a home server serving a key
//! it controls — is SPEC §13.4's limit; compare primaries out of band for that.
//!
//! Which server is asked: `--server` when given; else the identity's home server when the
//! address is on it; else the address's own server, found by discovery (DNS SRV, then
//! WebFinger and the handle record over HTTPS, SPEC §9.1, §4.4) exactly as servers find each
//! other.

use kez_spec::{Address, Primary};
use serde_json::Value;

use crate::client::Client;
use crate::context::Context;
use crate::discover::Discoverer;
use crate::error::CliError;
use crate::keyfile::Home;
use crate::record::{Record, check, verify_record};

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
/// error is the network's or the server's: a verification failure comes from [`check`](crate::record::check).
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
