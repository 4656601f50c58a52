//! Long-lived HTTP/1.1 responses served off hyper's connection: the live stream's events are
//! written straight to the socket once the response is decided.
//!
//! Why: an idle live stream should cost little more than its socket, and most of what it cost
//! was hyper's per-connection state — an 8 KiB read buffer, an 8 KiB header write buffer and
//! the connection's state machine, all held for as long as the response lasts, although an
//! SSE stream never reads another request and writes only small events. So a handler marks a
//! streaming response [`Detachable`]; for an HTTP/1.1 request the connection then lets hyper
//! go (its buffers are freed) and a small writer sends the same head and the same events,
//! chunked, on the bare socket. HTTP/2 streams share their connection with other requests and
//! are always served by hyper, through the same body.
//!
//! | module | what |
//! | --- | --- |
//! | `handoff` | the socket wrapper that hands the socket back from hyper at the right moment |
//! | `writer` | the response head and the chunked events on the bare socket |

mod handoff;
mod writer;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};

use crate::body::{self, ResponseBody};

pub(crate) use handoff::{Detached, Handoff};

/// A response extension: the response's body events, which the connection may take to write
/// them itself. Whoever takes them first serves them: the connection (detached) or the body
/// hyper polls (not detached).
#[derive(Clone)]
pub struct Detachable {
    events: Arc<Mutex<Option<BoxStream<'static, Bytes>>>>,
}

impl Detachable {
    /// Wraps `events`: returns the body to answer with and the extension to put on the
    /// response.
    pub fn new(events: impl Stream<Item = Bytes> + Send + 'static) -> (ResponseBody, Self) {
        let detachable = Self {
            events: Arc::new(Mutex::new(Some(events.boxed()))),
        };
        // The body takes the events on its first poll; a body whose events were taken (the
        // connection detached) ends at once, and hyper's attempt to write it finds the socket
        // gone.
        let chunks = stream::unfold(Source::Unclaimed(detachable.clone()), |source| async move {
            let mut events = match source {
                Source::Unclaimed(detachable) => detachable.take()?,
                Source::Claimed(events) => events,
            };
            let chunk = events.next().await?;
            Some((Ok::<_, Infallible>(chunk), Source::Claimed(events)))
        });
        (body::stream(chunks), detachable)
    }

    /// Takes the events, unless they were taken already.
    pub(crate) fn take(&self) -> Option<BoxStream<'static, Bytes>> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Where a body served by hyper gets its events.
enum Source {
    /// Not polled yet: the events are still in the extension.
    Unclaimed(Detachable),
    /// Taken from the extension.
    Claimed(BoxStream<'static, Bytes>),
}

impl std::fmt::Debug for Detachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Detachable")
    }
}
