//! `kezctl status <id>`: the delivery status of a message this identity sent (SPEC §9.7),
//! asked with the sender's credential (SPEC §7.6).

use kez_spec::MessageId;
use kez_spec::auth::AuthRequest;
use serde_json::Value;

use crate::context::Context;
use crate::error::CliError;
use crate::output::format_ms;
use kez_spec::clock::now_ms;

/// Prints the status of `id`.
pub async fn run(ctx: &Context, id: &MessageId) -> Result<(), CliError> {
    let (me, home) = ctx.registered()?;
    let client = ctx.home_client(&home)?;
    let credential = AuthRequest::Status { id }.sign(&me.key, now_ms() / 1000);
    let status = client.status(id, &credential).await?;
    let get = |k: &str| status.get(k).cloned().unwrap_or(Value::Null);
    let state = get("status").as_str().unwrap_or("?").to_owned();
    let mut text = format!("{id}\nstatus: {state}");
    if let Some(n) = get("attempts").as_u64() {
        text.push_str(&format!("\nattempts: {n}"));
    }
    if let Some(at) = get("next_attempt_at").as_u64() {
        text.push_str(&format!("\nnext attempt: {}", format_ms(at)));
    }
    if let Some(error) = get("error").as_str() {
        text.push_str(&format!("\nlast error: {error}"));
    }
    ctx.out.result(text, &Value::Object(status));
    Ok(())
}
