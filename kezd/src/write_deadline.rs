//! A deadline on write progress, as a socket wrapper: a client that stops reading makes the
//! daemon's writes wait forever (the socket buffer is full), holding the response's bytes and
//! the connection's slot. The wrapper times how long a write has been waiting; when
//! `timeout` passes without any byte accepted by the socket, the write fails and whoever
//! writes (hyper, HTTP/1 or HTTP/2, with or without TLS; the detached stream writer) ends the
//! connection as on any write error.
//!
//! It sits directly on the TCP socket, below TLS, so it measures what the peer actually
//! reads, and every writer above it gets the deadline without knowing of it. A slow reader
//! that drains even one byte per `timeout` is not cut off: what is bounded is a stall, and
//! the bytes a stall can pin are bounded by the writer's own back-pressure (the writer waits,
//! it does not queue more).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::metrics::Metrics;

/// A socket whose writes fail after `timeout` without progress.
pub struct WriteDeadline<I> {
    io: I,
    timeout: Duration,
    /// Created at the first write that had to wait, then reset and reused: most connections
    /// never wait and never allocate one.
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether `stall` is running for the write waiting now.
    waiting: bool,
    /// Counts the connections cut off.
    metrics: Arc<Metrics>,
}

impl<I> WriteDeadline<I> {
    /// Wraps `io`.
    pub fn new(io: I, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        WriteDeadline {
            io,
            timeout,
            stall: None,
            waiting: false,
            metrics,
        }
    }

    /// The wrapped socket.
    pub fn get_ref(&self) -> &I {
        &self.io
    }

    /// Passes a finished write through (progress: the clock stops) and times a waiting one;
    /// `cx` is registered with the timer, so the writer is woken to fail when it expires.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.waiting = false;
            return result;
        }
        let deadline = Instant::now() + self.timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.waiting {
            stall.as_mut().reset(deadline);
            self.waiting = true;
        }
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.metrics.write_timed_out();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client read nothing for the write timeout",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WriteDeadline<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.timed(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.timed(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_flush(cx);
        this.timed(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_shutdown(cx);
        this.timed(cx, result)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_timeout() {
        // A pipe with a small buffer whose other end is never read.
        let (near, _far) = tokio::io::duplex(1024);
        let metrics = Arc::new(Metrics::new());
        let mut io = WriteDeadline::new(near, Duration::from_millis(50), Arc::clone(&metrics));
        let started = std::time::Instant::now();
        let error = io
            .write_all(&[0u8; 64 * 1024])
            .await
            .expect_err("the write must time out");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(metrics.render().contains("kezd_write_timeouts_total 1"));
    }

    #[tokio::test]
    async fn a_reader_that_keeps_up_is_never_cut_off() {
        let (near, mut far) = tokio::io::duplex(1024);
        let metrics = Arc::new(Metrics::new());
        let mut io = WriteDeadline::new(near, Duration::from_millis(50), metrics);
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut far, &mut sink)
                .await
                .map(|_| sink.len())
        });
        io.write_all(&[1u8; 256 * 1024]).await.expect("written");
        io.shutdown().await.expect("shut down");
        drop(io);
        assert_eq!(reader.await.expect("joined").expect("read"), 256 * 1024);
    }
}
