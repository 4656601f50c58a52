//! A Server-Sent Events parser [HTML-SSE] for the live stream (SPEC §8.5). Incremental and
//! pure: bytes go in as they arrive from the network, whole events come out, so it is tested
//! without a server and a chunk boundary anywhere (even inside a UTF-8 character) is harmless.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `id:`, if the event had one (the seq, for KEZ message events).
    pub id: Option<String>,
    /// `event:`, `message` when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// The parser state between chunks.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: Vec<u8>,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
    /// The last `retry:` value, milliseconds.
    pub retry_ms: Option<u64>,
}

/// A line longer than this without a newline is a broken or hostile server: the stream is
/// dropped rather than buffered forever. Message events carry one envelope (≤ 256 KiB) plus
/// its wrapping, so 1 MiB is ample.
pub const MAX_LINE: usize = 1 << 20;

/// The stream broke the SSE framing.
#[derive(Debug, thiserror::Error)]
#[error("stream line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

impl Parser {
    /// Feeds bytes and returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, LineTooLong> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        if self.buffer.len() > MAX_LINE {
            return Err(LineTooLong);
        }
        Ok(events)
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let data = self.data.take();
            let event = self.event.take();
            let id = self.id.take();
            return data.map(|data| Event {
                id,
                event: event.unwrap_or_else(|| "message".into()),
                data,
            });
        }
        if line.starts_with(':') {
            return None; // a comment: keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            "id" => self.id = Some(value.to_owned()),
            "retry" => self.retry_ms = value.parse().ok(),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §8.5's example stream, fed one byte at a time.
    #[test]
    fn spec_example_bytewise() {
        let text = "retry: 3000\n\nid: 42\nevent: message\ndata: {\"seq\":42}\n\n\
                    event: ready\ndata: {\"seq\":42}\n\n: keep-alive\n\nid: 43\nevent: message\n\
                    data: {\"seq\":43}\n\n";
        let mut parser = Parser::default();
        let mut events = Vec::new();
        for b in text.as_bytes() {
            events.extend(parser.feed(&[*b]).expect("short lines"));
        }
        assert_eq!(parser.retry_ms, Some(3000));
        let kinds: Vec<_> = events
            .iter()
            .map(|e| (e.id.as_deref(), e.event.as_str(), e.data.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Some("42"), "message", "{\"seq\":42}"),
                (None, "ready", "{\"seq\":42}"),
                (Some("43"), "message", "{\"seq\":43}"),
            ]
        );
    }

    /// CRLF line ends and multi-line data; an endless line is refused.
    #[test]
    fn crlf_multiline_and_limit() {
        let mut parser = Parser::default();
        let events = parser.feed(b"data: a\r\ndata: b\r\n\r\n").expect("ok");
        assert_eq!(events[0].data, "a\nb");
        assert!(parser.feed(&vec![b'x'; MAX_LINE + 1]).is_err());
    }
}
