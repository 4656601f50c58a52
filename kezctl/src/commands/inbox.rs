//! `kezctl inbox [--since N] [--ack]`: read the inbox (SPEC §8.2) from the saved cursor, check
//! and open every message (signature, `to`, decryption: [`crate::message::open_item`]), print
//! the good ones as text and the bad ones as failures, save the cursor, and with `--ack` delete
//! what was read (SPEC §8.3) — never beyond the highest seq actually received. The cursor is
//! saved only after the messages were printed, so a reader that closed stdout early (crate
//! `output`) gets them again next time; with `--json --ack` the document reports the deletion,
//! so the acknowledgement comes before it is printed.

use kez_spec::auth::AuthRequest;
use serde_json::json;

use crate::context::Context;
use crate::error::CliError;
use crate::message::{self, Received};
use crate::output::{Output, format_ms};
use crate::sender_keys::SenderKeys;
use kez_spec::clock::now_ms;

/// More pages than this in one run means something is wrong (a server that never ends).
const MAX_PAGES: usize = 10_000;

/// How one checked message is shown to a person.
pub fn human_line(m: &Received) -> String {
    let when = m.ts.map(format_ms).unwrap_or_else(|| "?".into());
    let from = m.from.as_deref().unwrap_or("?");
    match (&m.text, &m.failure) {
        (Some(text), None) => format!("[{}] {when} {from}: {text}", m.seq),
        (_, Some(failure)) => format!(
            "[{}] {when} claimed sender {from}: NOT SHOWN, {failure}",
            m.seq
        ),
        (None, None) => format!("[{}] {when} {from}: (empty)", m.seq),
    }
}

/// Prints one message in the run's output mode.
pub fn print(out: &Output, m: &Received) -> Result<(), CliError> {
    out.item(human_line(m), &serde_json::to_value(m).unwrap_or_default())
}

/// Fetches, checks and prints the inbox.
pub async fn run(ctx: &Context, since: Option<u64>, ack: bool, limit: u32) -> Result<(), CliError> {
    let (me, home) = ctx.registered()?;
    let client = ctx.home_client(&home)?;
    let handle = home.address.handle();
    let saved = ctx.cursors.get(&me.file.name)?;
    let mut cursor = since.unwrap_or(saved);
    let mut received = Vec::new();
    let mut senders = SenderKeys::new();
    for _ in 0..MAX_PAGES {
        let credential = AuthRequest::Poll {
            handle,
            since: cursor,
        }
        .sign(&me.key, now_ms() / 1000);
        let (items, next) = client.inbox(handle, cursor, limit, &credential).await?;
        for item in &items {
            let mut m = message::open_item(item, &me.key, &home.address);
            senders.check(ctx, &home, &mut m).await;
            if !ctx.out.is_json() {
                // A closed stdout ends the run here, before the cursor passes what the reader
                // did not get.
                print(&ctx.out, &m)?;
            }
            received.push(m);
        }
        // next_since only moves forward; a server that says otherwise is not followed. A page
        // shorter than `limit` may have been cut by the server's byte bound (SPEC §8.2): only
        // an empty one means the inbox is read.
        let advanced = next > cursor;
        cursor = cursor.max(next);
        if items.is_empty() || !advanced {
            break;
        }
    }
    let highest = received.iter().map(|m| m.seq).max();
    let deleted = match (ack, highest) {
        (true, Some(through)) => {
            let credential = AuthRequest::Ack { handle, through }.sign(&me.key, now_ms() / 1000);
            Some(client.ack(handle, through, &credential).await?)
        }
        _ => None,
    };
    let failed = received.iter().filter(|m| !m.is_ok()).count();
    if ctx.out.is_json() {
        ctx.out.result(
            "",
            &json!({
                "address": home.address.to_string(),
                "messages": received,
                "cursor": cursor,
                "failed": failed,
                "deleted": deleted,
            }),
        )?;
    }
    // Only once the messages are printed: a reader that closed stdout early has not seen them.
    ctx.cursors.set(&me.file.name, cursor.max(saved))?;
    if !ctx.out.is_json() {
        if received.is_empty() {
            ctx.out.status(format!("no new messages (cursor {cursor})"));
        }
        if let Some(n) = deleted {
            ctx.out
                .status(format!("acknowledged: {n} deleted from the server"));
        }
    }
    if failed > 0 {
        return Err(CliError::BadMessages(failed));
    }
    Ok(())
}
