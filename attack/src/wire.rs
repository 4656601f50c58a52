//! Raw HTTP/1.1 over TCP, for attackers: an HTTP client library would refuse to send what an
//! attack sends (a trickled body, a head with a NUL byte, two `Content-Length`s) or would read
//! what an attack must leave unread. Sockets are bound to a chosen loopback source address, so
//! kezd sees the attacker and the honest client as different addresses, and may get a small
//! receive buffer, so a client that never reads stalls kezd's writes quickly. Every read has a
//! deadline: a server that neither answers nor closes is reported as [`Reply::Silent`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use kez_conformance::Fail;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// The attacker's source address in every scenario.
pub const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// An honest client's source address, distinct from the attacker's.
pub const HONEST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The observer's source address (metrics scrapes), so that caps on the attacker's address
/// never hide what kezd reports.
pub const OBSERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Largest answer read into memory; the rest of a longer body is read and dropped.
const MAX_KEPT_BODY: usize = 64 * 1024;

/// Opens a TCP connection to `to` from `source` (port chosen by the kernel), with the receive
/// buffer set to `recv_buffer` bytes when given (the kernel rounds it up to its minimum).
pub async fn connect_from(
    source: IpAddr,
    to: SocketAddr,
    recv_buffer: Option<u32>,
) -> io::Result<TcpStream> {
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(to).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// An HTTP answer as read off the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The head, lowercased header names kept as sent.
    pub head: String,
    /// The body (at most the first 64 KiB).
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value (first occurrence, name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// The SPEC §10 error code when the answer is a §10 error: `Content-Type:
    /// application/json` and a body of exactly a string `error` and a string `message`.
    pub fn error_code(&self) -> Option<String> {
        let json = self
            .header("content-type")?
            .split(';')
            .next()?
            .trim()
            .eq_ignore_ascii_case("application/json");
        if !json {
            return None;
        }
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        let object = body.as_object()?;
        object.get("message")?.as_str()?;
        object.get("error")?.as_str().map(str::to_owned)
    }

    /// Fails unless this is the §10 error `status` with one of `codes`.
    pub fn expect_error(&self, what: &str, status: u16, codes: &[&str]) -> Result<(), Fail> {
        let code = self.error_code();
        if self.status == status && code.as_deref().is_some_and(|c| codes.contains(&c)) {
            return Ok(());
        }
        Err(Fail::Fail(format!(
            "{what}: expected {status} with a §10 JSON body {codes:?}, got {} {}: {}",
            self.status,
            code.unwrap_or_else(|| "(no §10 body)".into()),
            excerpt(&self.body)
        )))
    }

    /// Fails unless `Retry-After` is a number of seconds (SPEC §10).
    pub fn expect_retry_after(&self, what: &str) -> Result<(), Fail> {
        match self.header("retry-after").map(str::parse::<u64>) {
            Some(Ok(_)) => Ok(()),
            other => Err(Fail::Fail(format!(
                "{what}: {} without Retry-After in seconds ({other:?})",
                self.status
            ))),
        }
    }
}

/// What the server did within a deadline.
#[derive(Debug, Clone)]
pub enum Reply {
    /// It answered (the whole head, and the body as far as its length says).
    Answer(Answer),
    /// It closed the connection (or reset it) without a complete answer.
    Closed,
    /// Neither, before the deadline.
    Silent,
}

impl Reply {
    /// Fails unless the server refused the request: answered 4xx, or closed the connection.
    /// Silence (a hang), a 2xx (the request was taken as valid) and a 5xx all fail.
    pub fn expect_refused(&self, what: &str) -> Result<(), Fail> {
        match self {
            Reply::Closed => Ok(()),
            Reply::Answer(answer) if (400..500).contains(&answer.status) => Ok(()),
            other => Err(Fail::Fail(format!(
                "{what}: expected a 4xx answer or a close, got {}",
                other.describe()
            ))),
        }
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Reply::Answer(a) => format!("{} {}", a.status, excerpt(&a.body)),
            Reply::Closed => "closed without an answer".into(),
            Reply::Silent => "no answer and not closed".into(),
        }
    }
}

/// The beginning of a body on one line.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).replace('\n', "\\n");
    if body.len() > 200 {
        format!("{text}…")
    } else {
        text
    }
}

/// Reads one answer from `stream` until `deadline`.
pub async fn read_reply<R: AsyncRead + Unpin>(stream: &mut R, deadline: Instant) -> Reply {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Reply::Silent,
            Ok(Ok(0) | Err(_)) => return Reply::Closed,
            Ok(Ok(n)) => buffer.extend_from_slice(&chunk[..n]),
        }
        if buffer.len() > MAX_KEPT_BODY {
            return Reply::Closed;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut answer = Answer {
        status,
        head,
        body: buffer[head_end + 4..].to_vec(),
    };
    let length: Option<usize> = answer.header("content-length").and_then(|v| v.parse().ok());
    // Without a length (a stream, a chunked body) the head is what the attack needs.
    if let Some(length) = length {
        while answer.body.len() < length.min(MAX_KEPT_BODY) {
            match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => answer.body.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        answer.body.truncate(length);
    }
    Reply::Answer(answer)
}

/// Connects from `source`, writes `request`, and reads one answer within `within`.
pub async fn exchange(
    source: IpAddr,
    to: SocketAddr,
    request: &[u8],
    within: Duration,
) -> Result<Reply, Fail> {
    let deadline = Instant::now() + within;
    let mut stream = connect_from(source, to, None)
        .await
        .map_err(|e| Fail::Fail(format!("connecting to {to} from {source}: {e}")))?;
    // A server may close before reading everything (an oversize head): what it answered
    // still counts, so a failed write is not an error here.
    let _ = stream.write_all(request).await;
    Ok(read_reply(&mut stream, deadline).await)
}

/// Writes `prefix`, then each of `pieces` after a pause of `every`, while reading: returns the
/// answer (or close) as soon as it comes, or [`Reply::Silent`] at `deadline`. The pieces are a
/// finite list and the deadline bounds the whole, so a server that never reacts ends it too.
pub async fn trickle(
    stream: TcpStream,
    prefix: &[u8],
    pieces: Vec<Vec<u8>>,
    every: Duration,
    deadline: Instant,
) -> (Reply, OwnedReadHalf) {
    let (mut reader, mut writer) = stream.into_split();
    let write = async {
        if writer.write_all(prefix).await.is_ok() {
            for piece in &pieces {
                tokio::time::sleep(every).await;
                if writer.write_all(piece).await.is_err() {
                    break;
                }
            }
        }
        // Nothing more to send: only the answer (or the deadline) can end the attack now.
        std::future::pending::<()>().await;
    };
    let reply = tokio::select! {
        reply = read_reply(&mut reader, deadline) => reply,
        () = write => Reply::Silent,
    };
    (reply, reader)
}

/// Reads and drops whatever arrives until the server closes (`true`) or `deadline` passes
/// (`false`); at most `max_bytes` are read, beyond which the connection counts as open.
pub async fn closed_by<R: AsyncRead + Unpin>(
    stream: &mut R,
    deadline: Instant,
    max_bytes: usize,
) -> bool {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut total = 0usize;
    while total <= max_bytes {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(n)) => total += n,
        }
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_needs_json_and_both_members() {
        let answer = |head: &str, body: &str| Answer {
            status: 408,
            head: head.to_owned(),
            body: body.as_bytes().to_vec(),
        };
        let json = "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json";
        let ok = answer(json, r#"{"error":"request_timeout","message":"slow"}"#);
        assert_eq!(ok.error_code().as_deref(), Some("request_timeout"));
        assert!(ok.expect_error("t", 408, &["request_timeout"]).is_ok());
        assert!(ok.expect_error("t", 408, &["overloaded"]).is_err());
        assert_eq!(answer(json, r#"{"error":"x"}"#).error_code(), None);
        assert_eq!(
            answer("HTTP/1.1 408 X\r\ncontent-length: 0", "").error_code(),
            None
        );
    }
}
