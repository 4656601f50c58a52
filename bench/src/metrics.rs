//! kezd's own view of a run, scraped from its `/metrics` (SPEC §4.6) after the load: for each
//! latency histogram (request duration by route, store call duration by operation) the count
//! and the bucket bounds that hold the median and the 99th percentile. Set beside the
//! client-side send→stream latency, it says whether time went inside the server's handlers
//! and store or outside them (scheduling, fan-out, the client). Also the count of live-stream
//! catch-ups: how often a stream read the store because a notification was lost or late.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client::Endpoint;

/// One histogram series, summarised.
#[derive(Debug, Serialize)]
pub struct Series {
    /// Observations.
    pub count: u64,
    /// Upper bound (ms) of the bucket holding the median.
    pub p50_le_ms: f64,
    /// Upper bound (ms) of the bucket holding the 99th percentile (infinite: past the last).
    pub p99_le_ms: f64,
}

/// What one scrape says.
#[derive(Debug, Default, Serialize)]
pub struct Scraped {
    /// Every non-empty latency histogram, keyed by `metric{labels}`.
    pub series: BTreeMap<String, Series>,
    /// `kezd_stream_catch_ups_total`.
    pub stream_catch_ups: Option<u64>,
}

/// Scrapes `/metrics`. Errors give an empty result: the figures are an aid, not a check.
pub async fn scrape(endpoint: &Endpoint) -> Scraped {
    let Some(text) = exposition(endpoint).await else {
        return Scraped::default();
    };
    Scraped {
        series: summarise(&text),
        stream_catch_ups: counter(&text, "kezd_stream_catch_ups_total"),
    }
}

/// A cluster broker's counters (messages sent, received, payload bytes sent, received); zeros
/// when the scrape fails or kezd has none (the in-process broker, or a kezd before them).
pub async fn broker_traffic(endpoint: &Endpoint) -> [f64; 4] {
    let text = exposition(endpoint).await.unwrap_or_default();
    [
        "kezd_broker_messages_sent_total",
        "kezd_broker_messages_received_total",
        "kezd_broker_bytes_sent_total",
        "kezd_broker_bytes_received_total",
    ]
    .map(|name| counter(&text, name).map_or(0.0, |n| n as f64))
}

/// The text of `/metrics`, if the scrape worked.
async fn exposition(endpoint: &Endpoint) -> Option<String> {
    let response = endpoint
        .client
        .get(format!("{}/metrics", endpoint.base))
        .send()
        .await
        .ok()?;
    response.text().await.ok()
}

/// The value of an unlabelled counter.
fn counter(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Parses the cumulative `_bucket` lines of the exposition.
fn summarise(text: &str) -> BTreeMap<String, Series> {
    // series → (upper bound seconds, cumulative count), in the order rendered (ascending).
    let mut buckets: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    for line in text.lines() {
        let Some((name_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((name, labels)) = name_labels.split_once("_bucket{") else {
            continue;
        };
        let Some((labels, le)) = labels.rsplit_once(",le=\"") else {
            continue;
        };
        let le = le.trim_end_matches("\"}");
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::INFINITY)
        };
        let Ok(count) = value.parse::<u64>() else {
            continue;
        };
        buckets
            .entry(format!("{name}{{{labels}}}"))
            .or_default()
            .push((bound, count));
    }
    buckets
        .into_iter()
        .filter_map(|(series, b)| {
            let total = b.last()?.1;
            if total == 0 {
                return None;
            }
            let at = |q: f64| {
                let need = (q * total as f64).ceil() as u64;
                b.iter()
                    .find(|(_, c)| *c >= need)
                    .map_or(f64::INFINITY, |(bound, _)| bound * 1e3)
            };
            Some((
                series,
                Series {
                    count: total,
                    p50_le_ms: at(0.5),
                    p99_le_ms: at(0.99),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_of_median_and_p99() {
        let text = "\
kezd_store_duration_seconds_bucket{op=\"accept\",le=\"0.0005\"} 10
kezd_store_duration_seconds_bucket{op=\"accept\",le=\"0.001\"} 60
kezd_store_duration_seconds_bucket{op=\"accept\",le=\"0.0025\"} 99
kezd_store_duration_seconds_bucket{op=\"accept\",le=\"+Inf\"} 100
kezd_store_duration_seconds_bucket{op=\"ack\",le=\"+Inf\"} 0
";
        let s = summarise(text);
        let accept = &s["kezd_store_duration_seconds{op=\"accept\"}"];
        assert_eq!(accept.count, 100);
        assert!((accept.p50_le_ms - 1.0).abs() < 1e-9);
        assert!((accept.p99_le_ms - 2.5).abs() < 1e-9);
        assert!(!s.contains_key("kezd_store_duration_seconds{op=\"ack\"}"));
    }

    #[test]
    fn a_counter_is_read_by_its_exact_name() {
        let text = "# HELP kezd_stream_catch_ups_total x\nkezd_stream_catch_ups_total_other 9\nkezd_stream_catch_ups_total 42\n";
        assert_eq!(counter(text, "kezd_stream_catch_ups_total"), Some(42));
        assert_eq!(counter(text, "kezd_missing_total"), None);
    }
}
