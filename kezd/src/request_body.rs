//! Reading a request body without letting the sender decide how much memory or time it costs.
//!
//! - **Size**: a declared length over the route's limit is refused before any byte is read; a
//!   chunked body is cut off as soon as it passes the limit (413 `payload_too_large`).
//! - **Memory**: the bytes are copied into one buffer as they arrive. Keeping hyper's frames
//!   instead would pin, for each frame, the whole read buffer it was cut from: a body trickled a
//!   few bytes at a time cost ~8 KB of memory per body byte. The buffer's size is reserved in
//!   the [`Budget`] before it is allocated: the declared length up front, or for a chunked body
//!   step by step as it grows. A body that does not fit gets 503 `unavailable`.
//! - **Time**: the whole body must arrive within `body_timeout`, and after a short grace at an
//!   average of at least `body_min_bytes_per_sec` since the read began (each byte received buys
//!   time, so a stall that catches up passes). Otherwise 408 `request_timeout`, and hyper closes
//!   the connection, whose unread rest cannot be skipped.
//! - **Shutdown**: a body still arriving when the daemon stops is answered at once with 503
//!   `unavailable` (nothing of it was accepted, so the client can send it again elsewhere)
//!   instead of holding the drain.
//!
//! Times count from when the handler starts reading, not from the end of the head: what a
//! handler does first (a transaction fetches its origin's key) is the server's time, not the
//! client's.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;
use tokio::time::Instant;

use crate::body::BoxError;
use crate::budget::{Budget, Reservation};
use crate::config::HttpLimits;
use crate::error::ApiError;

/// Time before the minimum rate applies: a phone waking its radio, a TLS record or a lost
/// segment can delay the first bytes by a few seconds on an honest link.
pub const RATE_GRACE: Duration = Duration::from_secs(5);

/// How one body may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRules {
    /// The route's limit in bytes.
    pub limit: usize,
    /// Time for the whole body.
    pub timeout: Duration,
    /// Slowest average rate after the grace; 0 for none.
    pub min_bytes_per_sec: u64,
    /// Time before the rate applies ([`RATE_GRACE`]).
    pub grace: Duration,
}

impl ReadRules {
    /// The configured deadline and rate with this route's limit.
    pub fn new(http: &HttpLimits, limit: usize) -> Self {
        ReadRules {
            limit,
            timeout: http.body_timeout,
            min_bytes_per_sec: http.body_min_bytes_per_sec,
            grace: RATE_GRACE,
        }
    }

    /// When the bytes after the first `received` must have started arriving, reading since
    /// `started`: the earlier of the whole body's deadline and the rate's.
    fn due(&self, started: Instant, received: usize) -> Instant {
        let whole = started + self.timeout;
        if self.min_bytes_per_sec == 0 {
            return whole;
        }
        // Received bytes as time: exact enough in f64 for any body a route accepts.
        let credit = Duration::from_secs_f64(received as f64 / self.min_bytes_per_sec as f64);
        whole.min(started + self.grace + credit)
    }
}

/// A body read in full, and its bytes held against the budget until this is dropped.
#[derive(Debug)]
pub struct ReadBody {
    /// The body.
    pub bytes: Bytes,
    /// The budget's hold on the buffer.
    pub reservation: Reservation,
}

/// Reads a whole body by `rules` (see the module doc), holding its bytes against `budget`,
/// and giving up with 503 when `stop` completes first.
pub async fn read<B>(
    body: B,
    rules: ReadRules,
    budget: &Budget,
    stop: impl Future<Output = ()>,
) -> Result<ReadBody, ApiError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let limit = rules.limit;
    let too_large = ApiError::PayloadTooLarge { limit };
    let hint = body.size_hint();
    if usize::try_from(hint.lower()).map_or(true, |n| n > limit) {
        return Err(too_large);
    }
    // `lower` is at most `limit` here, so a declared length fits a usize.
    let declared = hint.exact().and_then(|n| usize::try_from(n).ok());
    let mut reservation = budget.try_reserve(declared.map_or(0, as_u64))?;
    let mut buffer = Vec::new();
    let started = Instant::now();
    tokio::pin!(body);
    tokio::pin!(stop);
    loop {
        let due = rules.due(started, buffer.len());
        // Bytes already here are taken first: a body that is complete when the daemon
        // stops is still served; only one still waiting for its sender is answered.
        let frame = tokio::select! {
            biased;
            frame = tokio::time::timeout_at(due, body.frame()) => frame,
            () = &mut stop => {
                return Err(ApiError::Unavailable {
                    reason: "shutting down while the request body was arriving".into(),
                });
            }
        };
        let frame = match frame {
            Err(_elapsed) => {
                return Err(ApiError::RequestTimeout {
                    received: buffer.len(),
                    waited: started.elapsed(),
                });
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                let error: BoxError = error.into();
                return Err(ApiError::malformed(format!(
                    "the request body could not be read: {error}"
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers: nothing to keep
        };
        let needed = buffer.len() + data.len();
        if needed > limit {
            if crate::faults::on("body_read_past_limit") {
                drain(body).await;
            }
            return Err(too_large);
        }
        if needed > buffer.capacity() {
            // A declared length is allocated once; a chunked body doubles, capped at the
            // limit, so its copies cost O(n) and its buffer at most twice its bytes.
            let capacity = declared
                .unwrap_or_else(|| needed.max(buffer.capacity() * 2))
                .clamp(needed, limit);
            reservation.try_resize(as_u64(capacity))?;
            buffer.reserve_exact(capacity - buffer.len());
        }
        buffer.extend_from_slice(&data);
    }
    Ok(ReadBody {
        bytes: Bytes::from(buffer),
        reservation,
    })
}

/// kezd's fault `body_read_past_limit`: reads on (up to [`DRAIN_BYTES`]) before answering.
async fn drain<B>(mut body: std::pin::Pin<&mut B>)
where
    B: Body<Data = Bytes>,
{
    let mut drained = 0;
    while drained < DRAIN_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => drained += frame.data_ref().map_or(0, Bytes::len),
            _ => break,
        }
    }
}

/// How much of a body over its limit [`drain`] reads.
const DRAIN_BYTES: usize = 1 << 20;

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;

    fn rules(limit: usize) -> ReadRules {
        ReadRules {
            limit,
            timeout: Duration::from_secs(60),
            min_bytes_per_sec: 1024,
            grace: RATE_GRACE,
        }
    }

    fn never() -> impl Future<Output = ()> {
        std::future::pending()
    }

    #[tokio::test]
    async fn reads_up_to_the_limit_and_refuses_past_it() {
        let budget = Budget::new(1 << 20);
        let ok = read(
            Full::new(Bytes::from_static(b"12345")),
            rules(5),
            &budget,
            never(),
        )
        .await
        .expect("at the limit");
        assert_eq!(ok.bytes, Bytes::from_static(b"12345"));
        assert_eq!((ok.reservation.bytes(), budget.in_use()), (5, 5));
        drop(ok);
        assert_eq!(budget.in_use(), 0);
        let over = read(
            Full::new(Bytes::from_static(b"123456")),
            rules(5),
            &budget,
            never(),
        )
        .await;
        assert!(matches!(over, Err(ApiError::PayloadTooLarge { limit: 5 })));
    }

    #[tokio::test]
    async fn stops_reading_a_stream_at_the_limit() {
        // An endless body: reading must stop by itself once the limit is passed.
        let endless = stream::repeat_with(|| {
            Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(&[0u8; 1024])))
        });
        let budget = Budget::new(1 << 20);
        let result = read(StreamBody::new(endless), rules(10_000), &budget, never()).await;
        assert!(matches!(result, Err(ApiError::PayloadTooLarge { .. })));
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn a_chunked_body_holds_its_buffer_against_the_budget() {
        let chunks = stream::iter(
            (0..10).map(|_| Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(&[7u8; 100])))),
        );
        let budget = Budget::new(4096);
        let body = read(StreamBody::new(chunks), rules(2048), &budget, never())
            .await
            .expect("fits");
        assert_eq!(body.bytes.len(), 1000);
        let held = body.reservation.bytes();
        assert!((1000..=2000).contains(&held), "{held}");
        assert_eq!(budget.in_use(), held);

        let endless = stream::repeat_with(|| {
            Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(&[0u8; 512])))
        });
        let small = Budget::new(1000);
        let refused = read(StreamBody::new(endless), rules(1 << 20), &small, never()).await;
        assert!(
            matches!(&refused, Err(e) if e.code() == "unavailable"),
            "{refused:?}"
        );
        assert_eq!(small.in_use(), 0);
    }

    #[test]
    fn each_byte_received_buys_time_up_to_the_whole_deadline() {
        let start = Instant::now();
        let rules = rules(1 << 20);
        assert_eq!(rules.due(start, 0), start + rules.grace);
        assert_eq!(
            rules.due(start, 2048),
            start + rules.grace + Duration::from_secs(2)
        );
        assert_eq!(rules.due(start, 1 << 20), start + rules.timeout);
        let no_rate = ReadRules {
            min_bytes_per_sec: 0,
            ..rules
        };
        assert_eq!(no_rate.due(start, 0), start + rules.timeout);
    }

    #[tokio::test]
    async fn a_trickle_under_the_rate_times_out() {
        // A byte every 20 ms: 50 B/s, under 1000 B/s, so cut off when the grace and the
        // credit of its few bytes run out, long before the whole-body deadline.
        let trickle = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((
                Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"x"))),
                (),
            ))
        });
        let rules = ReadRules {
            min_bytes_per_sec: 1000,
            grace: Duration::from_millis(200),
            ..rules(1 << 20)
        };
        let budget = Budget::new(1 << 20);
        let started = Instant::now();
        let result = read(StreamBody::new(trickle), rules, &budget, never()).await;
        assert!(
            matches!(result, Err(ApiError::RequestTimeout { received, .. }) if received > 0),
            "{result:?}"
        );
        let elapsed = started.elapsed();
        assert!(elapsed >= rules.grace, "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(budget.in_use(), 0);
    }

    #[tokio::test]
    async fn a_body_already_here_is_read_even_when_stopping() {
        let budget = Budget::new(1 << 20);
        let read = read(
            Full::new(Bytes::from_static(b"complete")),
            rules(1024),
            &budget,
            std::future::ready(()),
        )
        .await
        .expect("served, not refused");
        assert_eq!(read.bytes, Bytes::from_static(b"complete"));
    }

    #[tokio::test]
    async fn a_stop_answers_a_body_still_arriving() {
        let stalled = stream::pending::<Result<Frame<Bytes>, std::io::Error>>();
        let budget = Budget::new(1 << 20);
        let result = read(
            StreamBody::new(stalled),
            rules(1024),
            &budget,
            std::future::ready(()),
        )
        .await;
        assert!(
            matches!(&result, Err(e) if e.code() == "unavailable"),
            "{result:?}"
        );
    }
}
