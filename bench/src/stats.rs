//! Latency percentiles from a sorted vector of every sample (exact, nearest rank): runs are
//! bounded to at most a few hundred thousand messages, so keeping every sample is cheap and
//! needs no histogram's bucketing error.

use std::time::Duration;

use serde::Serialize;

/// Summary of a latency sample, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latencies {
    /// Samples.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Latencies {
    /// Sorts the samples and reads the percentiles off them.
    pub fn from_samples(mut samples: Vec<Duration>) -> Latencies {
        if samples.is_empty() {
            return Latencies::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        // Nearest rank: the smallest sample with at least q of the samples at or below it.
        let rank = |q: f64| {
            let r = (q * n as f64).ceil() as usize;
            samples[r.clamp(1, n) - 1]
        };
        let total: Duration = samples.iter().sum();
        Latencies {
            count: n,
            p50_ms: ms(rank(0.50)),
            p90_ms: ms(rank(0.90)),
            p99_ms: ms(rank(0.99)),
            p999_ms: ms(rank(0.999)),
            max_ms: ms(samples[n - 1]),
            mean_ms: ms(total) / n as f64,
        }
    }

    /// One line for people.
    pub fn line(&self) -> String {
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} samples)",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

/// The sustained rate of a run: deliveries per second between its 10th and 90th percentile
/// delivery times, leaving out the pipeline's filling at the start and its last stragglers,
/// which weigh heavily in a run of a few seconds. None with fewer than ten deliveries.
pub fn steady_rate(mut delivered_at: Vec<Duration>) -> Option<f64> {
    let n = delivered_at.len();
    if n < 10 {
        return None;
    }
    delivered_at.sort_unstable();
    let (from, to) = (n / 10, n - 1 - n / 10);
    let span = (delivered_at[to] - delivered_at[from]).as_secs_f64();
    (span > 0.0).then(|| (to - from) as f64 / span)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slow start and a late straggler do not lower the sustained rate.
    #[test]
    fn steady_rate_leaves_out_the_ends() {
        // 100 deliveries one ms apart from 1 s on, then one at 10 s.
        let mut times: Vec<Duration> = (0..100).map(|i| Duration::from_millis(1000 + i)).collect();
        times.push(Duration::from_secs(10));
        let rate = steady_rate(times).expect("enough deliveries");
        assert!((rate - 1000.0).abs() < 1.0, "{rate}");
        assert_eq!(steady_rate(vec![Duration::from_secs(1); 9]), None);
        assert_eq!(steady_rate(vec![Duration::from_secs(1); 20]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let l = Latencies::from_samples(samples);
        assert_eq!(l.count, 100);
        assert!((l.p50_ms - 50.0).abs() < 1e-9);
        assert!((l.p99_ms - 99.0).abs() < 1e-9);
        assert!((l.max_ms - 100.0).abs() < 1e-9);
    }

    #[test]
    fn empty_sample_is_zero() {
        assert_eq!(Latencies::from_samples(Vec::new()).count, 0);
    }
}
