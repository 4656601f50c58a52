//! `kezctl send handle@server "text"`: look up the recipient's primary (verified record), seal
//! `{"text": …}` to it with a fresh random nonce (SPEC §6.2–§6.3), sign the envelope and post
//! it to the identity's home server (SPEC §8.1). Prints only the message id on stdout, so
//! `kezctl status $(kezctl send …)` works; what happened to it (stored, queued) goes to stderr.
//! The recipient's key comes from [`crate::recipient`], which bridges an outage of the
//! recipient's server with the record verified last time.

use std::io::Read;

use kez_spec::Address;
use serde_json::json;

use crate::context::Context;
use crate::error::CliError;
use crate::message;
use crate::recipient;
use kez_spec::clock::now_ms;

/// Sends `text` (or stdin) to `to`.
pub async fn run(ctx: &Context, to: &Address, text: Option<String>) -> Result<(), CliError> {
    let text = match text {
        Some(text) if text != "-" => text,
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(CliError::Terminal)?;
            // A here-doc or `echo` adds one newline that is not part of the message.
            if text.ends_with('\n') {
                text.pop();
            }
            text
        }
    };
    let (me, home) = ctx.registered()?;
    let recipient = recipient::primary(ctx, &me.file.name, to, &home).await?;
    let composed = message::compose(&me.key, &home.address, to, &recipient, &text, now_ms())
        .map_err(|e| CliError::Verification(format!("cannot seal to {to}: {e}")))?;
    let client = ctx.home_client(&home)?;
    let sent = client.send(to, &composed.envelope).await?;
    if sent.id != composed.id.to_string() {
        return Err(CliError::Verification(format!(
            "the server answered with message id {}, not {}",
            sent.id, composed.id
        )));
    }
    let detail = match (sent.status.as_str(), sent.seq) {
        ("stored", Some(seq)) => format!("stored in {to}'s inbox (seq {seq})"),
        ("queued", _) => format!("queued for delivery to {}", to.server()),
        (other, _) => other.to_owned(),
    };
    let duplicate = if sent.duplicate {
        " (already sent before)"
    } else {
        ""
    };
    if !ctx.out.is_json() {
        ctx.out.status(format!("{detail}{duplicate}"));
    }
    ctx.out.result(
        &sent.id,
        &json!({
            "id": sent.id,
            "status": sent.status,
            "seq": sent.seq,
            "duplicate": sent.duplicate,
            "to": to.to_string(),
            "from": home.address.to_string(),
        }),
    )
}
