//! `kezctl account delete`: delete the identity's account on its home server with a deletion
//! signed by the identity (SPEC §4.7), after the person confirms by typing the address (or
//! `--yes`). The server holds the handle for a while and the key for good, so the command says
//! so; then it forgets what this computer kept for that account (the home server, the inbox
//! cursor, remembered records). The identity's key stays: it can still register elsewhere.
//! Stdout has the address deleted.

use std::io::{IsTerminal, Write};

use kez_spec::deletion::Deletion;
use serde_json::json;

use crate::client::ClientError;
use crate::context::Context;
use crate::error::CliError;
use crate::output::format_ms;
use kez_spec::clock::now_ms;

/// Deletes the chosen identity's account.
pub async fn delete(ctx: &Context, yes: bool) -> Result<(), CliError> {
    let (me, home) = ctx.registered()?;
    let address = home.address.clone();
    if !yes {
        confirm(&address.to_string())?;
    }
    let client = ctx.home_client(&home)?;
    let deletion = Deletion {
        handle: address.handle().clone(),
        server: address.server().clone(),
        primary: kez_spec::Primary::from(&me.key),
        ts_ms: now_ms(),
    }
    .sign(&me.key);
    let answer = client
        .delete_account(&deletion)
        .await
        .map_err(|e| match e {
            ClientError::Api { code, .. } if code == "primary_mismatch" => {
                CliError::Verification(format!(
                    "{address} at {} is registered with another key",
                    client.base()
                ))
            }
            ClientError::Api { code, .. } if code == "unknown_handle" => CliError::Usage(format!(
                "{address} is not registered at {}; nothing was deleted",
                client.base()
            )),
            e => e.into(),
        })?;
    if answer["address"] != json!(address.to_string()) {
        return Err(CliError::Verification(format!(
            "the server answered for {}, not {address}",
            answer["address"]
        )));
    }
    let mut file = me.file;
    file.home = None;
    ctx.keystore.update(&file)?;
    ctx.cursors.remove(&file.name);
    ctx.records.forget(&file.name);
    if !ctx.out.is_json() {
        let released = answer["released_at"]
            .as_u64()
            .map_or_else(|| "?".into(), format_ms);
        ctx.out.status(format!(
            "deleted {address} at {}; the handle is held until {released}, and this identity's \
             key can never register on {} again (kezctl keys new for a new one)",
            client.base(),
            address.server()
        ));
    }
    ctx.out.result(
        &address,
        &json!({
            "address": address.to_string(),
            "deleted_at": answer["deleted_at"],
            "released_at": answer["released_at"],
            "identity": file.name,
        }),
    )
}

/// Asks the person to type `address`; anything else cancels.
fn confirm(address: &str) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "deleting an account needs confirmation: run in a terminal or pass --yes".into(),
        ));
    }
    let _ = write!(
        std::io::stderr(),
        "Delete the account {address} for good? Its messages go with it, and its handle and \
         key cannot be registered again there. Type the address to confirm: "
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(CliError::Terminal)?;
    if answer.trim() == address {
        Ok(())
    } else {
        Err(CliError::Cancelled)
    }
}
