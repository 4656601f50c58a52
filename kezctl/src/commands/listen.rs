//! `kezctl listen`: follow the inbox live over the SSE stream (SPEC §8.5), resumed from the
//! saved cursor with the v1 cursor credential (SPEC §7.4) so nothing stored while kezctl was
//! away is missed. After a drop it reconnects from the last seq it printed, with a fresh
//! credential (each is valid 60 s) and a growing delay. Status lines (connecting, live,
//! reconnecting) go to stderr; messages to stdout, checked exactly like `inbox`.

use std::time::Duration;

use kez_spec::auth::AuthRequest;

use crate::commands::inbox;
use crate::context::Context;
use crate::error::CliError;
use crate::keyfile::Home;
use crate::message;
use crate::sender_keys::SenderKeys;
use crate::sse::{Event, Parser};
use kez_spec::api::inbox::InboxItem;
use kez_spec::clock::now_ms;
use serde::Deserialize;

/// The server sends a keep-alive at least every 15 s (SPEC §8.5); three missed ones mean the
/// connection is dead even if TCP has not noticed.
const IDLE: Duration = Duration::from_secs(45);
/// Reconnection delays grow from the server's `retry:` (or 1 s) up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Follows the inbox until Ctrl-C, or until `count` messages were shown.
pub async fn run(ctx: &Context, since: Option<u64>, count: Option<u64>) -> Result<(), CliError> {
    let (me, home) = ctx.registered()?;
    let client = ctx.home_client(&home)?;
    let handle = home.address.handle();
    let mut cursor = since.unwrap_or(ctx.cursors.get(&me.file.name)?);
    let mut shown = 0u64;
    let mut senders = SenderKeys::new();
    let mut delay = Duration::from_secs(1);
    // The server's `retry:` (SPEC §8.5 sends 3000 ms): never reconnect sooner than it asks.
    let mut server_retry: Option<u64> = None;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        ctx.out.status(format!(
            "connecting to {} (after seq {cursor})",
            client.base()
        ));
        let credential = AuthRequest::StreamCursor {
            handle,
            since: cursor,
        }
        .sign(&me.key, now_ms() / 1000);
        let opened = tokio::select! {
            _ = &mut interrupted => return Ok(()),
            opened = client.open_stream(handle, cursor, &credential) => opened,
        };
        let why = match opened {
            // A refusal (unauthorized, unknown handle) will not heal by retrying.
            Err(e) if e.is_refusal() => return Err(e.into()),
            Err(e) => e.to_string(),
            Ok(mut response) => {
                let mut parser = Parser::default();
                loop {
                    let chunk = tokio::select! {
                        _ = &mut interrupted => return Ok(()),
                        chunk = tokio::time::timeout(IDLE, response.chunk()) => chunk,
                    };
                    let bytes = match chunk {
                        Err(_) => break format!("nothing heard for {} s", IDLE.as_secs()),
                        Ok(Err(e)) => break crate::client::transport_reason(e),
                        Ok(Ok(None)) => break "the server closed the stream".to_owned(),
                        Ok(Ok(Some(bytes))) => bytes,
                    };
                    let events = match parser.feed(&bytes) {
                        Ok(events) => events,
                        Err(e) => break e.to_string(),
                    };
                    server_retry = parser.retry_ms.or(server_retry);
                    for event in events {
                        if event.event == "ready" {
                            ctx.out.status("live");
                            delay = Duration::from_secs(1);
                        } else if event.event == "message" {
                            let seq =
                                handle_message(ctx, &me.key, &home, &mut senders, &event).await?;
                            if let Some(seq) = seq.filter(|s| *s > cursor) {
                                cursor = seq;
                                ctx.cursors.set(&me.file.name, cursor)?;
                            }
                            shown += 1;
                            if count.is_some_and(|n| shown >= n) {
                                return Ok(());
                            }
                        }
                    }
                }
            }
        };
        if let Some(ms) = server_retry {
            delay = delay.max(Duration::from_millis(ms));
        }
        ctx.out.status(format!(
            "reconnecting in {} s: {why}",
            delay.as_secs().max(1)
        ));
        tokio::select! {
            _ = &mut interrupted => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

/// Checks, opens and prints one message event; returns its seq (None for an event that is not
/// strict JSON). A closed stdout is an error, so the cursor never passes an unprinted message.
async fn handle_message(
    ctx: &Context,
    key: &kez_spec::SigningKey,
    home: &Home,
    senders: &mut SenderKeys,
    event: &Event,
) -> Result<Option<u64>, CliError> {
    let item = kez_spec::json::parse_strict(event.data.as_bytes()).and_then(|value| {
        InboxItem::deserialize(value).map_err(|e| kez_spec::Error::malformed(e.to_string()))
    });
    let item = match item {
        Ok(item) => item,
        Err(e) => {
            ctx.out.status(format!(
                "ignoring a stream event that is not strict JSON: {e}"
            ));
            return Ok(None);
        }
    };
    let mut received = message::open_item(&item, key, &home.address);
    senders.check(ctx, home, &mut received).await;
    inbox::print(&ctx.out, &received)?;
    Ok(Some(received.seq))
}
