//! `kezctl status <id>`: the delivery status of a message this identity sent (SPEC §9.7),
//! asked with the sender's credential (SPEC §7.6). Stdout has the status word alone (`stored`,
//! `queued`, `delivered`, `failed`), for `[ "$(kezctl status "$id")" = delivered ]`; attempts,
//! the next attempt and the last error follow on stderr.

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
    if !ctx.out.is_json() {
        if let Some(n) = get("attempts").as_u64().filter(|n| *n > 0) {
            ctx.out.status(format!("attempts: {n}"));
        }
        if let Some(at) = get("next_attempt_at").as_u64() {
            ctx.out.status(format!("next attempt: {}", format_ms(at)));
        }
        if let Some(error) = get("error").as_str() {
            ctx.out.status(format!("last error: {error}"));
        }
    }
    ctx.out.result(state, &Value::Object(status))
}
