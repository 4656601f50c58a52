//! A detached response on the bare socket: the head hyper would have written, then each event
//! as one HTTP/1.1 chunk, flushed at once (with any others already waiting, in one write). The response ends when its events end (the final
//! chunk, then the connection closes), when the client closes its side, or on a write error.

use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{FutureExt, StreamExt};
use http::Response;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Detached;

/// Ready events written together up to about this many bytes.
const COALESCE_BYTES: usize = 64 * 1024;

/// Appends `chunk` as one HTTP/1.1 chunk; an empty one is skipped, as it would end the body.
fn frame(out: &mut BytesMut, chunk: &[u8]) {
    if chunk.is_empty() {
        return;
    }
    out.put_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    out.put_slice(chunk);
    out.put_slice(b"\r\n");
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
        let head = self.head.clone();
        if self.write(&head).await.is_err() {
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
                let _ = self.write(b"0\r\n\r\n").await;
                let _ = self.io.shutdown().await;
                return;
            };
            let mut framed = BytesMut::with_capacity(chunk.len() + 12);
            frame(&mut framed, &chunk);
            // Events that are ready too (a busy inbox) go out in the same write.
            let mut ended = false;
            while framed.len() < COALESCE_BYTES {
                match self.events.next().now_or_never() {
                    Some(Some(chunk)) => frame(&mut framed, &chunk),
                    Some(None) => {
                        ended = true;
                        break;
                    }
                    None => break,
                }
            }
            if ended {
                framed.put_slice(b"0\r\n\r\n");
            }
            if self.write(&framed).await.is_err() || ended {
                let _ = self.io.shutdown().await;
                return;
            }
        }
    }

    /// Writes and flushes (TLS buffers what it encrypts until flushed).
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }
}
