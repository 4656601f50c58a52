//! The socket wrapper a connection gives hyper, through which it takes the socket back.
//!
//! hyper owns a connection's socket until the connection ends, and has no way to give it back
//! in the middle of an HTTP/1.1 response other than an upgrade (101). So the connection hands
//! hyper a wrapper instead. When the service answers with a [`Detachable`] response, it records
//! the response's head and events here and raises a flag; hyper's next use of the socket, the
//! write of that response, finds the flag, parks the real socket here and fails, so hyper ends
//! the connection and frees its buffers without writing a byte. The connection then takes the
//! parked socket, the head and the events, and writes them itself ([`Detached::serve`]).
//!
//! hyper writes and flushes each response before it answers the next request, so nothing of
//! an earlier response is still unwritten when the flag is raised. Request bytes the client
//! sent after the stream's request (pipelining, which no SSE client does) are dropped with
//! hyper's read buffer.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use http::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Detachable;
use crate::body::ResponseBody;

/// One connection's hand-off point, shared by its socket wrapper and its service.
pub(crate) struct Handoff<I> {
    /// Raised by the service when it answered with a detachable response; read by the socket
    /// wrapper on every use, so a plain atomic load is all a normal request pays.
    requested: AtomicBool,
    parked: Mutex<Parked<I>>,
}

/// What the connection needs to serve a detached response.
struct Parked<I> {
    io: Option<I>,
    head: Option<Bytes>,
    events: Option<BoxStream<'static, Bytes>>,
}

/// A response taken off hyper, with the socket to write it on.
pub(crate) struct Detached<I> {
    pub(super) io: I,
    pub(super) head: Bytes,
    pub(super) events: BoxStream<'static, Bytes>,
}

impl<I> Handoff<I> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            requested: AtomicBool::new(false),
            parked: Mutex::new(Parked {
                io: None,
                head: None,
                events: None,
            }),
        })
    }

    /// The socket wrapper to give hyper.
    pub(crate) fn wrap(self: &Arc<Self>, io: I) -> HandoffIo<I> {
        HandoffIo {
            io: Some(io),
            handoff: Arc::clone(self),
        }
    }

    /// Detaches `response` if it is [`Detachable`]: its events and head are kept here, and
    /// hyper's write of it will fail. Only for HTTP/1.1 requests (the caller checks).
    pub(crate) fn detach(&self, response: &mut Response<ResponseBody>) {
        let Some(detachable) = response.extensions_mut().remove::<Detachable>() else {
            return;
        };
        let Some(events) = detachable.take() else {
            return;
        };
        let mut parked = self.lock();
        parked.head = Some(super::writer::head(response));
        parked.events = Some(events);
        drop(parked);
        self.requested.store(true, Ordering::Release);
    }

    /// Whether a response was detached: hyper's connection then ends with the wrapper's error,
    /// which is no error of the connection's.
    pub(crate) fn requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// After hyper's connection ended: the detached response, if there is one.
    pub(crate) fn detached(&self) -> Option<Detached<I>> {
        let mut parked = self.lock();
        match (parked.io.take(), parked.head.take(), parked.events.take()) {
            (Some(io), Some(head), Some(events)) => Some(Detached { io, head, events }),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Parked<I>> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The socket as hyper sees it: the real one until a detach is requested, then an error.
pub(crate) struct HandoffIo<I> {
    io: Option<I>,
    handoff: Arc<Handoff<I>>,
}

impl<I: Unpin> HandoffIo<I> {
    /// The real socket, or the error that ends hyper's connection once it is parked.
    fn io(&mut self) -> io::Result<Pin<&mut I>> {
        if self.handoff.requested.load(Ordering::Acquire)
            && let Some(io) = self.io.take()
        {
            self.handoff.lock().io = Some(io);
        }
        self.io
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::other("the connection was detached from hyper"))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for HandoffIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_read(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for HandoffIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_write(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_write_vectored(cx, bufs),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(I::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_flush(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_shutdown(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}
