//! Bodies both ways. Responses use one boxed type that is either bytes in memory or a stream
//! (the live stream's SSE), so every handler has the same return type. Requests are read with
//! a limit enforced while reading: a declared length over it is refused before any byte is
//! read, and a chunked body is cut off as soon as it passes the limit, so a client can never
//! make the daemon buffer more than the route allows.

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, LengthLimitError, Limited, StreamBody};
use hyper::body::{Body, Frame};
use serde::Serialize;

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

/// Reads a whole request body of at most `limit` bytes.
///
/// A declared length over the limit fails before reading; otherwise reading stops at the
/// first frame that passes the limit, so at most `limit` bytes are kept (plus the one frame
/// in flight, which hyper bounds by its read buffer).
pub async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let too_large = ApiError::PayloadTooLarge { limit };
    let declared = body.size_hint().lower();
    if usize::try_from(declared).map_or(true, |n| n > limit) {
        return Err(too_large);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large),
        Err(error) => Err(ApiError::malformed(format!(
            "the request body could not be read: {error}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    #[tokio::test]
    async fn reads_up_to_the_limit_and_refuses_past_it() {
        let ok = read_limited(Full::new(Bytes::from_static(b"12345")), 5).await;
        assert_eq!(ok.ok(), Some(Bytes::from_static(b"12345")));
        let over = read_limited(Full::new(Bytes::from_static(b"123456")), 5).await;
        assert!(matches!(over, Err(ApiError::PayloadTooLarge { limit: 5 })));
    }

    #[tokio::test]
    async fn stops_reading_a_stream_at_the_limit() {
        // An endless body: reading must stop by itself once the limit is passed.
        let endless = stream::repeat_with(|| {
            Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(&[0u8; 1024])))
        });
        let result = read_limited(StreamBody::new(endless), 10_000).await;
        assert!(matches!(result, Err(ApiError::PayloadTooLarge { .. })));
    }
}
