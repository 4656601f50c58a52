//! Counters for operators, served at `/metrics` in the Prometheus text format. Written with
//! atomics rather than a metrics crate: a handful of series, all labelled by bounded sets
//! (route patterns, never raw paths; status codes; store operation names). The outbox's
//! gauges are counted in the store at each scrape instead (`render_outbox`), so that every
//! instance sharing a database reports the same backlog. The process's own figures (memory,
//! CPU, file descriptors) and the build are appended by [`crate::process_metrics`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::broker::Traffic;
use crate::budget::Budget;
use crate::store::OutboxBacklog;

/// Upper bounds (seconds) of the latency histogram buckets: from sub-millisecond reads to
/// multi-second fsync stalls.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram. Bucket counts are stored per bucket and summed when rendered.
#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket; the last slot is past every bound (`+Inf` only).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of observations in microseconds (integer, so it can be atomic).
    sum_micros: AtomicU64,
    /// Number of observations.
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (slot, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[slot].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// A map whose entries are created once and then updated through a read lock, so the hot
/// path never takes the write lock after warm-up.
#[derive(Debug, Default)]
struct Family<K: Ord, V: Default> {
    entries: RwLock<BTreeMap<K, V>>,
}

impl<K: Ord + Clone, V: Default> Family<K, V> {
    fn with<R>(&self, key: &K, f: impl FnOnce(&V) -> R) -> R {
        {
            let read = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(value) = read.get(key) {
                return f(value);
            }
        }
        let mut write = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        f(write.entry(key.clone()).or_default())
    }

    fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        let read = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        for (key, value) in read.iter() {
            f(key, value);
        }
    }
}

/// Every series the daemon exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by (route pattern, status).
    requests: Family<(&'static str, u16), AtomicU64>,
    /// Time to the response head, by route pattern. For streams this is the time to open.
    durations: Family<&'static str, Histogram>,
    /// Store call latency by operation.
    store: Family<&'static str, Histogram>,
    /// Messages accepted for delivery (new, not duplicates).
    sends_accepted: AtomicU64,
    /// Live streams open now.
    live_streams: AtomicI64,
    /// Store reads by live streams to fill a gap in their notifications.
    stream_catch_ups: AtomicU64,
    /// Connections open now.
    connections_open: AtomicI64,
    /// Connections closed at once because the connection limit was reached.
    connections_refused: AtomicU64,
    /// Connections closed at once because their client address had its share open.
    connections_refused_per_address: AtomicU64,
    /// Connections closed after the idle timeout with nothing in progress.
    connections_idle_closed: AtomicU64,
    /// Connections closed because the client read nothing for the write timeout.
    write_timeouts: AtomicU64,
    /// Live streams refused at the per-handle or per-address cap.
    streams_refused: AtomicU64,
    /// Transactions sent to other servers, by outcome.
    federation_txns: Family<&'static str, AtomicU64>,
    /// Envelopes in answered transactions to other servers, by result.
    federation_envelopes: Family<&'static str, AtomicU64>,
}

/// Decrements the live-stream gauge when dropped, so a stream ended any way (client gone,
/// shutdown, error) is never counted forever. Owns a handle to the metrics so it can live in
/// a `'static` stream body.
#[derive(Debug)]
pub struct LiveStreamGuard {
    metrics: Arc<Metrics>,
}

impl LiveStreamGuard {
    /// Counts one store read by this stream to fill a gap (a notification lost, or so late
    /// that waiting for it would cost more than reading it).
    pub fn count_catch_up(&self) {
        self.metrics
            .stream_catch_ups
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for LiveStreamGuard {
    fn drop(&mut self) {
        self.metrics.live_streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Decrements the open-connections gauge when dropped, including when the connection's task
/// is aborted at the end of a drain.
#[derive(Debug)]
pub struct ConnectionGuard {
    metrics: Arc<Metrics>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.metrics
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Records one finished request (the service calls this).
    pub fn observe_request(&self, route: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .with(&(route, status), |n| n.fetch_add(1, Ordering::Relaxed));
        self.durations.with(&route, |h| h.observe(elapsed));
    }

    /// Records the latency of one store call.
    pub fn observe_store(&self, operation: &'static str, elapsed: Duration) {
        self.store.with(&operation, |h| h.observe(elapsed));
    }

    /// Awaits a store call and records its latency:
    /// `metrics.time_store("accept", store.accept(message)).await`.
    pub async fn time_store<F: Future>(&self, operation: &'static str, call: F) -> F::Output {
        let started = Instant::now();
        let output = call.await;
        self.observe_store(operation, started.elapsed());
        output
    }

    /// Counts one accepted (new) message.
    pub fn send_accepted(&self) {
        self.sends_accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a live stream as open until the guard is dropped; keep the guard in the
    /// stream's state.
    pub fn live_stream(self: &Arc<Self>) -> LiveStreamGuard {
        self.live_streams.fetch_add(1, Ordering::Relaxed);
        LiveStreamGuard {
            metrics: Arc::clone(self),
        }
    }

    /// Counts a connection as open until the guard is dropped.
    pub fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            metrics: Arc::clone(self),
        }
    }

    /// A connection was refused at the connection limit.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was refused at the per-address cap.
    pub fn connection_refused_per_address(&self) {
        self.connections_refused_per_address
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed for idling.
    pub fn connection_idle_closed(&self) {
        self.connections_idle_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was cut off at the write deadline.
    pub fn write_timed_out(&self) {
        self.write_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// A live stream was refused at a stream cap.
    pub fn stream_refused(&self) {
        self.streams_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one transaction sent to another server and how it ended: `answered` (a result
    /// per envelope), `transient` (retried after a backoff), `refused` (failed for good),
    /// `too_large` (sent again smaller).
    pub fn federation_txn(&self, outcome: &'static str) {
        self.federation_txns
            .with(&outcome, |n| n.fetch_add(1, Ordering::Relaxed));
    }

    /// Counts `n` envelopes of answered transactions with `result`: `delivered`, `deferred` or
    /// `failed`.
    pub fn federation_envelopes(&self, result: &'static str, n: u64) {
        self.federation_envelopes
            .with(&result, |count| count.fetch_add(n, Ordering::Relaxed));
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP kezd_http_requests_total HTTP requests by route pattern and status.\n",
        );
        out.push_str("# TYPE kezd_http_requests_total counter\n");
        self.requests.for_each(|(route, status), n| {
            let _ = writeln!(
                out,
                "kezd_http_requests_total{{route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                n.load(Ordering::Relaxed)
            );
        });
        out.push_str("# HELP kezd_http_request_duration_seconds Time to the response head by route pattern.\n");
        out.push_str("# TYPE kezd_http_request_duration_seconds histogram\n");
        self.durations.for_each(|route, h| {
            let labels = format!("route=\"{}\"", escape(route));
            h.render(&mut out, "kezd_http_request_duration_seconds", &labels);
        });
        out.push_str("# HELP kezd_store_duration_seconds Store call latency by operation.\n");
        out.push_str("# TYPE kezd_store_duration_seconds histogram\n");
        self.store.for_each(|op, h| {
            let labels = format!("op=\"{}\"", escape(op));
            h.render(&mut out, "kezd_store_duration_seconds", &labels);
        });
        render_counters(
            &mut out,
            ("kezd_federation_transactions_total", "outcome"),
            "Transactions sent to other servers, by outcome.",
            &self.federation_txns,
        );
        render_counters(
            &mut out,
            ("kezd_federation_envelopes_total", "result"),
            "Envelopes in answered transactions to other servers, by result.",
            &self.federation_envelopes,
        );
        let scalars: [(&str, &str, &str, i128); 9] = [
            (
                "kezd_sends_accepted_total",
                "counter",
                "Messages accepted for delivery.",
                self.sends_accepted.load(Ordering::Relaxed).into(),
            ),
            (
                "kezd_live_streams",
                "gauge",
                "Live streams open.",
                self.live_streams.load(Ordering::Relaxed).into(),
            ),
            (
                "kezd_stream_catch_ups_total",
                "counter",
                "Store reads by live streams to fill a gap in their notifications.",
                self.stream_catch_ups.load(Ordering::Relaxed).into(),
            ),
            (
                "kezd_connections_open",
                "gauge",
                "Connections open.",
                self.connections_open.load(Ordering::Relaxed).into(),
            ),
            (
                "kezd_connections_refused_total",
                "counter",
                "Connections closed at the connection limit.",
                self.connections_refused.load(Ordering::Relaxed).into(),
            ),
            (
                "kezd_connections_refused_per_address_total",
                "counter",
                "Connections closed at the per-address connection cap.",
                self.connections_refused_per_address
                    .load(Ordering::Relaxed)
                    .into(),
            ),
            (
                "kezd_connections_idle_closed_total",
                "counter",
                "Connections closed after the idle timeout.",
                self.connections_idle_closed.load(Ordering::Relaxed).into(),
            ),
            (
                "kezd_write_timeouts_total",
                "counter",
                "Connections closed because the client stopped reading.",
                self.write_timeouts.load(Ordering::Relaxed).into(),
            ),
            (
                "kezd_streams_refused_total",
                "counter",
                "Live streams refused at the per-handle or per-address cap.",
                self.streams_refused.load(Ordering::Relaxed).into(),
            ),
        ];
        for (name, kind, help, value) in scalars {
            scalar(&mut out, (name, kind), help, value);
        }
        crate::process_metrics::render(&mut out);
        out
    }
}

/// Appends the outbox's gauges, as the store counted them for this scrape.
pub fn render_outbox(out: &mut String, backlog: OutboxBacklog) {
    let gauges = [
        (
            "kezd_federation_outbox_pending",
            "Messages waiting to be delivered to other servers.",
            backlog.pending,
        ),
        (
            "kezd_federation_outbox_destinations",
            "Servers that messages wait for.",
            backlog.destinations,
        ),
        (
            "kezd_federation_destinations_failing",
            "Servers backing off after failed deliveries.",
            backlog.failing,
        ),
    ];
    for (name, help, value) in gauges {
        scalar(out, (name, "gauge"), help, value);
    }
}

/// Appends the memory budget's gauges: bytes held now and the cap (`[http] max_inflight_bytes`).
pub fn render_inflight(out: &mut String, budget: &Budget) {
    scalar(
        out,
        ("kezd_inflight_bytes", "gauge"),
        "Request and response bytes held in memory now.",
        budget.in_use(),
    );
    scalar(
        out,
        ("kezd_inflight_bytes_budget", "gauge"),
        "The most request and response bytes held in memory at once.",
        budget.limit(),
    );
    scalar(
        out,
        ("kezd_inflight_clients", "gauge"),
        "Client addresses holding request or response bytes in memory now, each within its share.",
        budget.clients(),
    );
}

/// Appends whether the broker's link is up (1) or down (0): while down, streams get other
/// instances' messages only from the store, at their keep-alive (always 1 in-process). With a
/// cluster broker, also its traffic: divided by `kezd_sends_accepted_total`, the broker
/// messages and bytes each send costs.
pub fn render_broker(out: &mut String, connected: bool, traffic: Option<Traffic>) {
    scalar(
        out,
        ("kezd_broker_connected", "gauge"),
        "Whether the live fanout broker (NATS) is connected: 1 yes, 0 no.",
        u8::from(connected),
    );
    let Some(t) = traffic else {
        return;
    };
    for (name, help, value) in [
        (
            "kezd_broker_messages_sent_total",
            "Messages published to the broker.",
            t.messages_sent,
        ),
        (
            "kezd_broker_messages_received_total",
            "Messages received from the broker.",
            t.messages_received,
        ),
        (
            "kezd_broker_bytes_sent_total",
            "Payload bytes published to the broker.",
            t.bytes_sent,
        ),
        (
            "kezd_broker_bytes_received_total",
            "Payload bytes received from the broker.",
            t.bytes_received,
        ),
    ] {
        scalar(out, (name, "counter"), help, value);
    }
}

/// One series without labels, with its help and type.
fn scalar(out: &mut String, (name, kind): (&str, &str), help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// A counter family with one label: `name{label="value"} n` for each value seen.
fn render_counters(
    out: &mut String,
    (name, label): (&str, &str),
    help: &str,
    family: &Family<&'static str, AtomicU64>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    family.for_each(|value, n| {
        let _ = writeln!(
            out,
            "{name}{{{label}=\"{}\"}} {}",
            escape(value),
            n.load(Ordering::Relaxed)
        );
    });
}

/// Escapes a label value (backslash, quote, newline), as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Arc::new(Metrics::new());
        metrics.observe_request("/v1/u/{handle}", 200, Duration::from_millis(3));
        metrics.observe_request("/v1/u/{handle}", 200, Duration::from_secs(20));
        metrics.observe_store("accept", Duration::from_micros(700));
        metrics.send_accepted();
        metrics.federation_txn("answered");
        metrics.federation_txn("answered");
        metrics.federation_txn("too_large");
        metrics.federation_envelopes("delivered", 7);
        let guard = metrics.live_stream();
        let text = metrics.render();
        assert!(
            text.contains("kezd_http_requests_total{route=\"/v1/u/{handle}\",status=\"200\"} 2")
        );
        assert!(text.contains(
            "kezd_http_request_duration_seconds_bucket{route=\"/v1/u/{handle}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "kezd_http_request_duration_seconds_bucket{route=\"/v1/u/{handle}\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("kezd_store_duration_seconds_count{op=\"accept\"} 1"));
        assert!(text.contains("kezd_sends_accepted_total 1"));
        assert!(text.contains("kezd_federation_transactions_total{outcome=\"answered\"} 2"));
        assert!(text.contains("kezd_federation_transactions_total{outcome=\"too_large\"} 1"));
        assert!(text.contains("# TYPE kezd_federation_envelopes_total counter\n"));
        assert!(text.contains("kezd_federation_envelopes_total{result=\"delivered\"} 7"));
        assert!(text.contains("kezd_live_streams 1"));
        drop(guard);
        assert!(metrics.render().contains("kezd_live_streams 0"));
    }

    #[test]
    fn renders_the_outbox_gauges() {
        let mut text = String::new();
        let backlog = OutboxBacklog {
            pending: 12,
            destinations: 3,
            failing: 1,
        };
        render_outbox(&mut text, backlog);
        assert!(text.contains("# TYPE kezd_federation_outbox_pending gauge\n"));
        assert!(text.contains("\nkezd_federation_outbox_pending 12\n"));
        assert!(text.contains("\nkezd_federation_outbox_destinations 3\n"));
        assert!(text.contains("\nkezd_federation_destinations_failing 1\n"));
    }

    #[test]
    fn renders_the_inflight_gauges() {
        let budget = Budget::new(1000);
        let held = budget.try_reserve(300).expect("fits");
        let mut text = String::new();
        render_inflight(&mut text, &budget);
        assert!(text.contains("# TYPE kezd_inflight_bytes gauge\nkezd_inflight_bytes 300\n"));
        assert!(text.contains("\nkezd_inflight_bytes_budget 1000\n"));
        drop(held);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
