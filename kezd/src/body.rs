//! Response bodies: one boxed type that is either bytes in memory or a stream (the live
//! stream's SSE), so every handler has the same return type, optionally holding its bytes
//! against the memory budget. Request bodies are read by [`crate::request_body`].

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Body, Frame, SizeHint};
use serde::Serialize;

use crate::budget::Reservation;
use crate::error::ApiError;

/// The error type of response bodies, as hyper expects: a stream that fails mid-way is
/// reported to hyper, which aborts that response (resets the HTTP/2 stream or closes the
/// HTTP/1 connection) so the client sees a truncated response, not a complete-looking one.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every response's body. Not `Sync` on purpose: streams built from async state rarely are,
/// and hyper needs only `Send`.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body of bytes already in memory.
pub fn full(data: impl Into<Bytes>) -> ResponseBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body streamed chunk by chunk, e.g. SSE events; it ends when the stream ends. An `Err`
/// item aborts the response (see [`BoxError`]).
pub fn stream<S, E>(chunks: S) -> ResponseBody
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    StreamBody::new(chunks.map_ok(Frame::data).map_err(Into::into)).boxed_unsync()
}

/// A response with this status, content type and body.
pub fn response(
    status: StatusCode,
    content_type: &'static str,
    body: ResponseBody,
) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response (`application/json`). Fails only for values serde cannot write as JSON
/// (maps with non-string keys), which is a bug of the handler: answered as `internal`.
pub fn json<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
) -> Result<Response<ResponseBody>, ApiError> {
    json_with_type(status, value, "application/json")
}

/// A JSON response with another JSON media type (`application/jrd+json` for WebFinger).
pub fn json_with_type<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    content_type: &'static str,
) -> Result<Response<ResponseBody>, ApiError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("response is not serialisable: {e}")))?;
    Ok(response(status, content_type, full(bytes)))
}

/// `data` as bytes that keep `reservation` until the last of them is dropped: a response built
/// in memory stays counted in the budget ([`crate::budget`]) until it is written, not only
/// until hyper takes it from the body (which for bytes in memory is at once).
pub fn reserved(data: Vec<u8>, reservation: Reservation) -> Bytes {
    Bytes::from_owner(Reserved {
        data,
        _reservation: reservation,
    })
}

/// Bytes and the budget's hold on them.
struct Reserved {
    /// The bytes.
    data: Vec<u8>,
    /// Dropped with the bytes.
    _reservation: Reservation,
}

impl AsRef<[u8]> for Reserved {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// A response body that keeps `G` until hyper drops it: whatever must last exactly as long as
/// the response (a connection's count of requests in progress).
pub struct Holding<G> {
    /// The body, polled through.
    body: ResponseBody,
    /// Dropped with the body.
    _guard: G,
}

impl<G> Holding<G> {
    /// `body`, keeping `guard` alive with it.
    pub fn new(body: ResponseBody, guard: G) -> Self {
        Holding {
            body,
            _guard: guard,
        }
    }
}

impl<G: Unpin> Body for Holding<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    #[tokio::test]
    async fn reserved_bytes_hold_the_budget_until_the_last_copy_is_dropped() {
        let budget = Budget::new(100);
        let page = reserved(b"page".to_vec(), budget.try_reserve(4).expect("fits"));
        let body = full(page.clone());
        assert_eq!(budget.in_use(), 4);
        let written = body.collect().await.expect("body").to_bytes();
        assert_eq!(written, Bytes::from_static(b"page"));
        assert_eq!(budget.in_use(), 4, "taken from the body, not yet written");
        drop((page, written));
        assert_eq!(budget.in_use(), 0, "the last copy gone");
    }
}
