//! `[http]`: connection, timeout and body limits, and the memory budget that must hold the
//! largest body a route accepts.

use std::num::NonZeroUsize;
use std::time::Duration;

use super::ConfigError;
use super::checks::{as_u64, invalid, millis, nonzero_usize, positive_millis};
use super::raw::RawHttp;

/// Limits on connections and requests, against exhaustion and slow clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections open at once; over it, new connections are closed at once.
    pub max_connections: NonZeroUsize,
    /// Time a connection gets to complete its TLS handshake and each request head.
    pub header_read_timeout: Duration,
    /// Body limit of every route that does not set its own.
    pub max_body_bytes: NonZeroUsize,
    /// Body limit of `POST /v1/messages` (SPEC §6.5: 262,144).
    pub max_message_bytes: NonZeroUsize,
    /// Time in-flight requests and streams get to finish after a shutdown signal.
    pub drain_timeout: Duration,
    /// Connections open at once per client address group (see `ipv6_prefix_len`); over it, a
    /// new connection from that group is closed at once. Trusted proxies are not capped.
    pub max_connections_per_address: NonZeroUsize,
    /// IPv6 clients are counted by this many leading bits (one subscriber's network).
    pub ipv6_prefix_len: u8,
    /// A connection with no request or response in progress for this long is closed
    /// (HTTP/2 with GOAWAY).
    pub idle_timeout: Duration,
    /// A connection whose writes make no progress for this long is closed.
    pub write_timeout: Duration,
    /// Time a request body gets to arrive in full, from when kezd starts reading it; later
    /// bodies get 408 `request_timeout` and their connection is closed.
    pub body_timeout: Duration,
    /// Slowest average rate (bytes per second) a body may arrive at once its grace is over
    /// ([`crate::request_body`]); 0 for no minimum rate.
    pub body_min_bytes_per_sec: u64,
    /// Request and response bytes in memory at once ([`crate::budget`]); at least the
    /// largest body a route accepts, so every acceptable request can fit.
    pub max_inflight_bytes: u64,
    /// The part of `max_inflight_bytes` one client address may hold ([`crate::budget`]);
    /// at least the largest body a route accepts and twice a poll page.
    pub max_inflight_bytes_per_address: u64,
}

impl HttpLimits {
    /// Validates `[http]`.
    pub(super) fn from_raw(raw: RawHttp) -> Result<Self, ConfigError> {
        let http = HttpLimits {
            max_connections: nonzero_usize("http.max_connections", raw.max_connections)?,
            header_read_timeout: positive_millis(
                "http.header_read_timeout_ms",
                raw.header_read_timeout_ms,
            )?,
            max_body_bytes: nonzero_usize("http.max_body_bytes", raw.max_body_bytes)?,
            max_message_bytes: nonzero_usize("http.max_message_bytes", raw.max_message_bytes)?,
            drain_timeout: Duration::from_millis(raw.drain_timeout_ms),
            max_connections_per_address: nonzero_usize(
                "http.max_connections_per_address",
                raw.max_connections_per_address,
            )?,
            ipv6_prefix_len: u8::try_from(raw.ipv6_prefix_len)
                .ok()
                .filter(|bits| *bits <= 128)
                .ok_or_else(|| invalid("http.ipv6_prefix_len", "must be 0 … 128"))?,
            idle_timeout: positive_millis("http.idle_timeout_ms", raw.idle_timeout_ms)?,
            write_timeout: positive_millis("http.write_timeout_ms", raw.write_timeout_ms)?,
            body_timeout: positive_millis("http.body_timeout_ms", raw.body_timeout_ms)?,
            body_min_bytes_per_sec: raw.body_min_bytes_per_sec,
            max_inflight_bytes: raw.max_inflight_bytes,
            max_inflight_bytes_per_address: raw.max_inflight_bytes_per_address,
        };
        let largest_body = [
            http.max_body_bytes.get(),
            http.max_message_bytes.get(),
            kez_spec::api::txn::MAX_BYTES,
        ]
        .into_iter()
        .max()
        .unwrap_or(usize::MAX);
        for (key, bytes) in [
            ("http.max_inflight_bytes", http.max_inflight_bytes),
            (
                "http.max_inflight_bytes_per_address",
                http.max_inflight_bytes_per_address,
            ),
        ] {
            if u64::try_from(largest_body).map_or(true, |n| bytes < n) {
                return Err(invalid(
                    key,
                    format!(
                        "must hold the largest request body a route accepts ({largest_body} bytes)"
                    ),
                ));
            }
        }
        Ok(http)
    }

    /// `[http]` as written in the file.
    pub(super) fn to_raw(&self) -> RawHttp {
        RawHttp {
            max_connections: as_u64(self.max_connections.get()),
            header_read_timeout_ms: millis(self.header_read_timeout),
            max_body_bytes: as_u64(self.max_body_bytes.get()),
            max_message_bytes: as_u64(self.max_message_bytes.get()),
            drain_timeout_ms: millis(self.drain_timeout),
            max_connections_per_address: as_u64(self.max_connections_per_address.get()),
            ipv6_prefix_len: self.ipv6_prefix_len.into(),
            idle_timeout_ms: millis(self.idle_timeout),
            write_timeout_ms: millis(self.write_timeout),
            body_timeout_ms: millis(self.body_timeout),
            body_min_bytes_per_sec: self.body_min_bytes_per_sec,
            max_inflight_bytes: self.max_inflight_bytes,
            max_inflight_bytes_per_address: self.max_inflight_bytes_per_address,
        }
    }
}
