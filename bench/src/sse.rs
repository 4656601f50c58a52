//! Reading Server-Sent Events (SPEC §8.5) from a stream body: frames split on blank lines,
//! `event:`, `id:` and `data:` fields, comments and `retry:` ignored. Message events are parsed
//! only for `id` and `seq`; the envelope is skipped without being built, to keep the load
//! generator's CPU off the server's cores.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::http::ByteStream;

/// Bound on waiting for a stream's `ready` event: only a liveness bound.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One event.
#[derive(Debug, Default)]
pub struct Frame {
    /// `event:`; `None` for frames with only comments or `retry:`.
    pub event: Option<String>,
    /// `data:` (one line in KEZ).
    pub data: String,
}

/// The fields of a message event the bench needs.
#[derive(Debug, Deserialize)]
pub struct ItemHead<'a> {
    /// The message id.
    #[serde(borrow)]
    pub id: &'a str,
    /// The seq in the recipient's inbox.
    pub seq: u64,
}

/// A stream body being read frame by frame.
pub struct SseReader {
    body: ByteStream,
    buffer: Vec<u8>,
}

impl SseReader {
    /// Wraps a body.
    pub fn new(body: ByteStream) -> SseReader {
        SseReader {
            body,
            buffer: Vec::with_capacity(8192),
        }
    }

    /// The next frame with an `event:` (comments, keep-alives and `retry:` are skipped);
    /// `None` when the stream ends.
    pub async fn next_event(&mut self) -> Result<Option<Frame>> {
        loop {
            while let Some(end) = find_blank_line(&self.buffer) {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = std::str::from_utf8(&block).context("SSE is UTF-8")?;
                let mut frame = Frame::default();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        frame.event = Some(v.trim_start().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        frame.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if frame.event.is_some() {
                    return Ok(Some(frame));
                }
            }
            match self.body.next().await {
                Some(chunk) => self.buffer.extend_from_slice(&chunk?),
                None => return Ok(None),
            }
        }
    }

    /// Reads up to `ready` (SPEC §8.5 step 3), passing any replayed message to `on_message`;
    /// returns the ready seq.
    pub async fn until_ready(&mut self, mut on_message: impl FnMut(&Frame)) -> Result<u64> {
        tokio::time::timeout(READY_TIMEOUT, async {
            loop {
                let Some(frame) = self.next_event().await? else {
                    bail!("stream ended before ready");
                };
                match frame.event.as_deref() {
                    Some("ready") => {
                        let v: serde_json::Value = serde_json::from_str(&frame.data)?;
                        return v["seq"].as_u64().context("ready seq");
                    }
                    Some("message") => on_message(&frame),
                    _ => {}
                }
            }
        })
        .await
        .context("no ready event in time")?
    }
}

/// The index of the `\n\n` that ends the first frame.
fn find_blank_line(buffer: &[u8]) -> Option<usize> {
    buffer.windows(2).position(|w| w == b"\n\n")
}
