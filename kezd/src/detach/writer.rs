//! A detached response on the bare socket: the head hyper would have written, then each event
//! as one HTTP/1.1 chunk, flushed at once (with any others already waiting, in one write). The
//! response ends when its events end (the final chunk, then the connection closes), when the
//! client closes its side, or on a write error — including the connection's write deadline
//! (crate::write_deadline), which ends a stream whose client stopped reading.
//!
//! Events are not copied into a frame buffer: each goes out as the `Bytes` it was made as,
//! between its chunk-size line and CRLF, in one vectored write with the others ready. The next
//! event is taken only once the previous write completed, so a stream never holds more than
//! one write's worth of events (about [`COALESCE_BYTES`], or one event if larger).

use std::time::SystemTime;

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use http::Response;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Detached;

/// Ready events written together up to about this many bytes.
const COALESCE_BYTES: usize = 64 * 1024;

/// The end of a chunk.
const CRLF: Bytes = Bytes::from_static(b"\r\n");

/// The last chunk, which ends the body.
const LAST_CHUNK: Bytes = Bytes::from_static(b"0\r\n\r\n");

/// Bytes to write, as the pieces they were made in: a `Buf` over a queue of `Bytes`, so one
/// vectored write sends them all without joining them first.
#[derive(Default)]
struct Segments {
    queue: VecDeque<Bytes>,
    len: usize,
}

impl Segments {
    fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.len += bytes.len();
            self.queue.push_back(bytes);
        }
    }

    /// Appends `chunk` as one HTTP/1.1 chunk; an empty one is skipped, as it would end the
    /// body.
    fn frame(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.push(Bytes::from(format!("{:x}\r\n", chunk.len())));
        self.push(chunk);
        self.push(CRLF);
    }
}

impl Buf for Segments {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        self.queue.front().map_or(&[], |b| b.as_ref())
    }

    fn advance(&mut self, mut cnt: usize) {
        self.len -= cnt.min(self.len);
        while cnt > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            if cnt < front.len() {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.queue.pop_front();
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, bytes) in dst.iter_mut().zip(&self.queue) {
            *slot = IoSlice::new(bytes);
            n += 1;
        }
        n
    }
}

/// The response head as HTTP/1.1 bytes: status line, the response's headers (names in
/// lowercase, as hyper writes them), the chunked framing and the date hyper would add, and
/// `connection: close`: the connection ends with the response, so no client should queue
/// another request behind it.
pub(super) fn head<B>(response: &Response<B>) -> Bytes {
    let status = response.status();
    let mut head = BytesMut::with_capacity(256);
    head.put_slice(b"HTTP/1.1 ");
    head.put_slice(status.as_str().as_bytes());
    head.put_u8(b' ');
    head.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.put_slice(b"\r\n");
    for (name, value) in response.headers() {
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    head.put_slice(b"transfer-encoding: chunked\r\nconnection: close\r\ndate: ");
    head.put_slice(httpdate::fmt_http_date(SystemTime::now()).as_bytes());
    head.put_slice(b"\r\n\r\n");
    head.freeze()
}

impl<I: AsyncRead + AsyncWrite + Unpin> Detached<I> {
    /// Writes the response until it ends; see the module doc.
    pub(crate) async fn serve(mut self) {
        let mut out = Segments::default();
        // Taken, not cloned: the head's buffer is freed once written, not kept for the
        // stream's life.
        out.push(std::mem::take(&mut self.head));
        if self.write(&mut out).await.is_err() {
            return;
        }
        // The client sends nothing more on a stream's connection; reading only notices that
        // it closed, which would otherwise go unseen until the next keep-alive write fails.
        let mut scratch = [0u8; 64];
        loop {
            let event = tokio::select! {
                event = self.events.next() => event,
                read = self.io.read(&mut scratch) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                },
            };
            let Some(chunk) = event else {
                // The last chunk; the connection is not reused.
                out.push(LAST_CHUNK);
                let _ = self.write(&mut out).await;
                let _ = self.io.shutdown().await;
                return;
            };
            out.frame(chunk);
            // Events that are ready too (a busy inbox) go out in the same write.
            let mut ended = false;
            while out.remaining() < COALESCE_BYTES {
                match self.events.next().now_or_never() {
                    Some(Some(chunk)) => out.frame(chunk),
                    Some(None) => {
                        ended = true;
                        break;
                    }
                    None => break,
                }
            }
            if ended {
                out.push(LAST_CHUNK);
            }
            if self.write(&mut out).await.is_err() || ended {
                let _ = self.io.shutdown().await;
                return;
            }
        }
    }

    /// Writes all of `out` and flushes (TLS buffers what it encrypts until flushed). The
    /// emptied queue's slots are freed: most streams write an event now and then, and an idle
    /// one should hold nothing for its next.
    async fn write(&mut self, out: &mut Segments) -> std::io::Result<()> {
        self.io.write_all_buf(out).await?;
        out.queue = VecDeque::new();
        self.io.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_frame_events_without_joining_them() {
        let mut out = Segments::default();
        let event = Bytes::from_static(b"data: x\n\n");
        out.frame(event.clone());
        out.frame(Bytes::new());
        out.push(LAST_CHUNK);
        assert_eq!(out.remaining(), 3 + event.len() + 2 + 5);
        // The event is the same allocation, not a copy.
        assert_eq!(out.queue[1].as_ptr(), event.as_ptr());
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(out.chunks_vectored(&mut slices), 4);
        out.advance(5);
        assert_eq!(out.chunk(), b"ta: x\n\n");
        let rest = out.copy_to_bytes(out.remaining());
        assert_eq!(&rest[..], b"ta: x\n\n\r\n0\r\n\r\n");
    }
}
