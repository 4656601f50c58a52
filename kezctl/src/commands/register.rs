//! `kezctl register handle@server`: claim a handle with a registration signed by the identity
//! (SPEC §4.1), check the record the server answers with, and remember the address and the
//! server's URL in the key file so later commands know the home server. Stdout has the address
//! registered; stderr says whether it was new and where. A server that registers only invited
//! people (SPEC §4.1 check 10) takes the token given with `--token` (or `KEZ_INVITE_TOKEN`)
//! in the `KEZ-Registration-Token` header; its refusals are explained in words (client.rs).

use kez_spec::Address;
use kez_spec::registration::Registration;
use serde_json::json;

use crate::client::ClientError;
use crate::context::Context;
use crate::error::CliError;
use crate::keyfile::Home;
use crate::record;
use kez_spec::clock::now_ms;

/// Registers `address` for the chosen identity, with the invitation `token` if one was given.
pub async fn run(ctx: &Context, address: &Address, token: Option<&str>) -> Result<(), CliError> {
    let file = ctx.key_file()?;
    if let Some(home) = &file.home
        && &home.address != address
    {
        return Err(CliError::Usage(format!(
            "identity {:?} is already registered as {}; make another identity for another \
             address (kezctl keys new --name NAME)",
            file.name, home.address
        )));
    }
    let unlocked = ctx.unlock(file)?;
    let client = ctx.client_for(address.server(), None)?;
    let url = client.base().to_owned();
    let registration = Registration {
        handle: address.handle().clone(),
        server: address.server().clone(),
        primary: kez_spec::Primary::from(&unlocked.key),
        ts_ms: now_ms(),
    }
    .sign(&unlocked.key);
    let (record, created) = match client.register(&registration, token).await {
        Ok(answer) => answer,
        Err(ClientError::Api { code, .. })
            if code == "handle_taken" && unlocked.file.home.is_some() =>
        {
            // Registering again what this identity already holds: the server keeps the first
            // registration; check it is ours and carry on.
            (client.user(address.handle()).await?, false)
        }
        Err(ClientError::Api { code, .. }) if code == "wrong_server" => {
            let actual = client.healthz().await.map(|(name, _)| name);
            return Err(CliError::Usage(match actual {
                Ok(name) => format!(
                    "the server at {url} is {name:?}, not {:?}: register {}@{name} there, or \
                     point --server at {}",
                    address.server().as_str(),
                    address.handle(),
                    address.server()
                ),
                Err(_) => format!(
                    "the server at {url} is not {:?} (wrong_server)",
                    address.server().as_str()
                ),
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let (checked, primary) = record::verify_record(&record, client.base())?;
    if primary != unlocked.file.primary || checked.address != address.to_string() {
        return Err(CliError::Verification(format!(
            "the server answered with {} owned by {primary}, not this identity",
            checked.address
        )));
    }
    let mut file = unlocked.file;
    file.home = Some(Home {
        address: address.clone(),
        server_url: client.base().to_owned(),
    });
    ctx.keystore.update(&file)?;
    let verb = if created {
        "registered"
    } else {
        "already registered"
    };
    if !ctx.out.is_json() {
        ctx.out.status(format!(
            "{verb} {address} for identity {:?} at {}",
            file.name,
            client.base()
        ));
    }
    ctx.out.result(
        address,
        &json!({
            "address": address.to_string(),
            "primary": file.primary.to_string(),
            "server_url": client.base(),
            "created": created,
            "identity": file.name,
        }),
    )
}
