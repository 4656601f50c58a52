//! A reader of the inbox stream (SPEC §8.5, [HTML-SSE]) that keeps what a browser's
//! EventSource hides: the exact blocks, comments (`: keep-alive`) and the `retry:` field. Every
//! read has a deadline, so a stream that stops sending fails the case instead of hanging it.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::fail::Fail;
use crate::server::{Resp, Server, error_chain};

/// One SSE block (the lines up to a blank line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// `id:` field.
    pub id: Option<String>,
    /// `event:` field.
    pub event: Option<String>,
    /// `data:` field (lines joined with `\n`).
    pub data: Option<String>,
    /// `retry:` field.
    pub retry: Option<String>,
    /// Comment lines (after the `:`), e.g. ` keep-alive`.
    pub comments: Vec<String>,
}

impl Event {
    /// A block of comments only.
    pub fn is_comment(&self) -> bool {
        self.id.is_none() && self.event.is_none() && self.data.is_none() && self.retry.is_none()
    }

    /// The `data` parsed as JSON.
    pub fn json(&self) -> Result<Value, Fail> {
        let data = self.data.as_deref().unwrap_or("");
        serde_json::from_str(data)
            .map_err(|e| Fail::Fail(format!("stream event data is not JSON ({e}): {data}")))
    }
}

/// An open stream request.
pub struct Sse {
    /// What was asked, for messages.
    pub what: String,
    /// The status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    response: reqwest::Response,
    buffer: Vec<u8>,
    timeout: Duration,
}

impl std::fmt::Debug for Sse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sse")
            .field("what", &self.what)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Sse {
    /// Sends the request; the answer's head must arrive within the server's timeout.
    pub async fn open(
        server: &Server,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Sse, Fail> {
        let what = format!("{method} {}", path.split("auth=").next().unwrap_or(path));
        let mut builder = server.http.request(method, server.url(path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = match tokio::time::timeout(server.timeout, builder.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => fail!("{what}: {}", error_chain(&e)),
            Err(_) => fail!("{what}: no answer within {:?}", server.timeout),
        };
        Ok(Sse {
            what,
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            response,
            buffer: Vec::new(),
            timeout: server.timeout,
        })
    }

    /// The whole answer as a [`Resp`], for requests that must be refused.
    pub async fn into_resp(self) -> Result<Resp, Fail> {
        let (what, status, headers) = (self.what, self.status, self.headers);
        let is_stream = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if status == 200 && is_stream {
            // An open stream never ends: do not wait for its body.
            return Ok(Resp {
                what,
                status,
                headers,
                body: b"(an open event stream)".to_vec(),
            });
        }
        let body = match tokio::time::timeout(self.timeout, self.response.bytes()).await {
            Ok(Ok(body)) => body.to_vec(),
            Ok(Err(e)) => fail!("{what}: reading the body: {}", error_chain(&e)),
            Err(_) => fail!(
                "{what}: answered {status} but the body did not end within {:?}",
                self.timeout
            ),
        };
        Ok(Resp {
            what,
            status,
            headers,
            body,
        })
    }

    /// Fails unless the stream was opened: 200 with `Content-Type: text/event-stream`.
    pub async fn expect_open(self) -> Result<Sse, Fail> {
        if self.status != 200 {
            let resp = self.into_resp().await?;
            fail!(
                "{}: expected 200, got {}: {}",
                resp.what,
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
        Ok(self)
    }

    /// The next block, waiting at most `within`; `None` when the server ended the stream.
    pub async fn next(&mut self, within: Duration) -> Result<Option<Event>, Fail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = find_blank_line(&self.buffer) {
                let block: Vec<u8> = self.buffer.drain(..end.0 + end.1).collect();
                let text = String::from_utf8(block[..end.0].to_vec())
                    .map_err(|_| Fail::Fail(format!("{}: the stream is not UTF-8", self.what)))?;
                return Ok(Some(parse_block(&text)));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Err(_) => fail!("{}: nothing on the stream within {within:?}", self.what),
                Ok(Err(e)) => fail!("{}: reading the stream: {}", self.what, error_chain(&e)),
                Ok(Ok(None)) => return Ok(None),
                Ok(Ok(Some(bytes))) => self.buffer.extend_from_slice(&bytes),
            }
        }
    }

    /// The next block that is not a comment (keep-alives are skipped).
    pub async fn next_event(&mut self, within: Duration) -> Result<Event, Fail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                None => fail!("{}: the server ended the stream", self.what),
                Some(event) if event.is_comment() => {}
                Some(event) => return Ok(event),
            }
        }
    }

    /// Reads the opening of a stream: `retry: 3000`, then message events up to `ready`.
    /// Returns the replayed messages (their data) and the `ready` data.
    pub async fn until_ready(&mut self, within: Duration) -> Result<(Vec<Value>, Value), Fail> {
        let first = self.next_event(within).await?;
        if first.retry.as_deref() != Some("3000") || first.event.is_some() || first.data.is_some() {
            fail!(
                "{}: a stream must open with a block holding only `retry: 3000`, got {first:?}",
                self.what
            );
        }
        let mut replayed = Vec::new();
        loop {
            let event = self.next_event(within).await?;
            match event.event.as_deref() {
                Some("message") => {
                    check_message_event(&event)?;
                    replayed.push(event.json()?);
                }
                Some("ready") => return Ok((replayed, event.json()?)),
                _ => fail!("{}: unexpected block before ready: {event:?}", self.what),
            }
        }
    }

    /// The next message event's data, skipping keep-alives.
    pub async fn next_message(&mut self, within: Duration) -> Result<Value, Fail> {
        let event = self.next_event(within).await?;
        if event.event.as_deref() != Some("message") {
            fail!("{}: expected a message event, got {event:?}", self.what);
        }
        check_message_event(&event)?;
        event.json()
    }

    /// Whether a message event arrives within `within` (keep-alives skipped): its data if so.
    pub async fn message_within(&mut self, within: Duration) -> Result<Option<Value>, Fail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.next(left).await {
                Err(_) => return Ok(None),
                Ok(None) => fail!("{}: the server ended the stream", self.what),
                Ok(Some(event)) if event.is_comment() => {}
                Ok(Some(event)) if event.event.as_deref() == Some("message") => {
                    check_message_event(&event)?;
                    return Ok(Some(event.json()?));
                }
                Ok(Some(event)) => fail!("{}: unexpected block {event:?}", self.what),
            }
        }
    }
}

/// SPEC §8.5: a message event has `id: <seq>`, `event: message` and data whose `seq` is the id.
fn check_message_event(event: &Event) -> Result<(), Fail> {
    let data = event.json()?;
    let seq = data.get("seq").and_then(Value::as_u64);
    let id = event.id.as_deref().and_then(|id| id.parse::<u64>().ok());
    if seq.is_none() || seq != id {
        fail!(
            "a message event's id must be its seq: id {:?}, data seq {:?}",
            event.id,
            seq
        );
    }
    Ok(())
}

/// The position and length of the first blank line (`\n\n`, `\r\n\r\n` or `\r\r`).
fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    for (i, window) in buffer.windows(2).enumerate() {
        if window == b"\n\n" || window == b"\r\r" {
            return Some((i + 1, 1));
        }
        if buffer[i..].starts_with(b"\r\n\r\n") {
            return Some((i + 2, 2));
        }
    }
    None
}

/// Parses one block's lines into fields.
fn parse_block(text: &str) -> Event {
    let mut event = Event::default();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            event.comments.push(comment.to_owned());
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match name {
            "id" => event.id = Some(value),
            "event" => event.event = Some(value),
            "retry" => event.retry = Some(value),
            "data" => {
                event.data = Some(match event.data.take() {
                    Some(before) => format!("{before}\n{value}"),
                    None => value,
                });
            }
            _ => {}
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_fields() {
        let e = parse_block("id: 42\nevent: message\ndata: {\"seq\":42}");
        assert_eq!(e.id.as_deref(), Some("42"));
        assert_eq!(e.event.as_deref(), Some("message"));
        assert!(check_message_event(&e).is_ok());
        assert!(parse_block(": keep-alive").is_comment());
        assert_eq!(find_blank_line(b"retry: 3000\n\nid"), Some((12, 1)));
    }
}
