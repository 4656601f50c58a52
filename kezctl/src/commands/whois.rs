//! `kezctl whois handle@server | ed25519:<hex>`: who owns an address or a key, from the handle
//! record, with the registration's signature checked locally (see [`crate::lookup`]).

use serde_json::json;

use crate::cli::Target;
use crate::context::Context;
use crate::error::CliError;
use crate::lookup;
use crate::output::format_ms;
use crate::record::Record;

/// Looks `target` up and prints the verified record.
pub async fn run(ctx: &Context, target: &Target) -> Result<(), CliError> {
    // The identity is optional here: it only says where the home server is.
    let home = ctx.key_file().ok().and_then(|f| f.home);
    let record: Record = match target {
        Target::Address(address) => lookup::address(ctx, address, home.as_ref()).await?.0,
        Target::Primary(primary) => {
            // A primary names no server: ask --server, else the home server.
            let client = match (&ctx.server, &home) {
                (Some(url), _) => crate::client::Client::new(url, &ctx.client_options)?,
                (None, Some(home)) => ctx.home_client(home)?,
                (None, None) => {
                    return Err(CliError::Usage(
                        "a primary is looked up on a server: pass --server URL, or register an \
                         identity first"
                            .into(),
                    ));
                }
            };
            lookup::primary(&client, primary).await?
        }
    };
    let registered = record
        .registered_at
        .map(format_ms)
        .unwrap_or_else(|| "unknown".into());
    ctx.out.result(
        format!(
            "address: {}\nhandle: {}\nserver: {}\nprimary: {}\nregistered: {registered}\n\
             signature: valid (registration signed by the primary)",
            record.address, record.handle, record.server, record.primary
        ),
        &json!({
            "address": record.address,
            "handle": record.handle,
            "server": record.server,
            "primary": record.primary,
            "registered_at": record.registered_at,
            "resolved_via": record.resolved_via,
            "registration_verified": true,
        }),
    )
}
