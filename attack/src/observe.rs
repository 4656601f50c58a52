//! What an attack did to kezd, from the outside: the gauges kezd exposes on `/metrics`
//! (`kezd_inflight_bytes` against `kezd_inflight_bytes_budget`, `kezd_connections_open`) and
//! the process's resident memory from `/proc/<pid>/status`. The in-flight gauge is the bound
//! kezd promises and is asserted exactly; RSS depends on the allocator and the machine, so
//! scenarios assert only a loose bound on it and print the measured figures.

use std::sync::Arc;
use std::time::Duration;

use kez_conformance::server::Server;
use kez_conformance::{Fail, fail};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Request and response bytes kezd holds in memory right now.
pub const INFLIGHT: &str = "kezd_inflight_bytes";
/// The configured cap on [`INFLIGHT`].
pub const BUDGET: &str = "kezd_inflight_bytes_budget";
/// Connections open right now.
pub const CONNECTIONS: &str = "kezd_connections_open";

/// How often the in-flight watcher scrapes during an attack.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One scrape of `/metrics`.
pub async fn scrape(observer: &Server) -> Result<String, Fail> {
    let resp = observer.get("/metrics").await?.expect(200)?;
    Ok(String::from_utf8_lossy(&resp.body).into_owned())
}

/// The value of an unlabelled sample `name` in an exposition text.
pub fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// A gauge that must be present.
pub async fn require_gauge(observer: &Server, name: &str) -> Result<f64, Fail> {
    let text = scrape(observer).await?;
    match gauge(&text, name) {
        Some(value) => Ok(value),
        None => fail!("/metrics has no {name}"),
    }
}

/// Polls `name` until `done(value)` holds or `within` passes; returns the last value and
/// whether it held. Polling is how an outside observer waits for kezd's own events.
pub async fn wait_gauge(
    observer: &Server,
    name: &str,
    within: Duration,
    done: impl Fn(f64) -> bool,
) -> Result<(f64, bool), Fail> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = require_gauge(observer, name).await?;
        if done(value) {
            return Ok((value, true));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((value, false));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

/// Resident memory of `pid` in KiB: (VmRSS, VmHWM).
pub fn memory_kib(pid: u32) -> Result<(u64, u64), Fail> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| Fail::Fail(format!("reading /proc/{pid}/status: {e}")))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| Fail::Fail(format!("/proc/{pid}/status has no {name}")))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// The largest in-flight figure seen while an attack ran, and the budget.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inflight {
    /// Highest `kezd_inflight_bytes` sampled.
    pub max: f64,
    /// `kezd_inflight_bytes_budget` (the last sample).
    pub budget: f64,
    /// Scrapes taken.
    pub samples: u32,
}

impl Inflight {
    /// Fails unless kezd exposed both gauges and never held more than its budget.
    pub fn check(&self) -> Result<(), Fail> {
        if self.samples == 0 {
            fail!("/metrics never exposed {INFLIGHT} and {BUDGET} during the attack");
        }
        if self.max > self.budget {
            fail!(
                "{INFLIGHT} reached {} bytes, over {BUDGET} {}",
                self.max,
                self.budget
            );
        }
        Ok(())
    }
}

/// Scrapes the in-flight gauges in the background until stopped.
#[derive(Debug)]
pub struct InflightWatch {
    /// Tells the sampler to stop.
    stop: watch::Sender<bool>,
    /// The sampler.
    task: JoinHandle<Inflight>,
}

impl InflightWatch {
    /// Starts sampling through `observer`.
    pub fn start(observer: Arc<Server>) -> InflightWatch {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut seen = Inflight::default();
            while !*stopped.borrow() {
                if let Ok(text) = scrape(&observer).await
                    && let (Some(now), Some(budget)) =
                        (gauge(&text, INFLIGHT), gauge(&text, BUDGET))
                {
                    seen.max = seen.max.max(now);
                    seen.budget = budget;
                    seen.samples += 1;
                }
                let _ = tokio::time::timeout(SAMPLE_EVERY, stopped.changed()).await;
            }
            seen
        });
        InflightWatch { stop, task }
    }

    /// Stops sampling and returns what was seen.
    pub async fn finish(self) -> Inflight {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_reads_unlabelled_samples_only() {
        let text = "# TYPE kezd_inflight_bytes gauge\nkezd_inflight_bytes 12\n\
                    kezd_inflight_bytes_budget 268435456\nkezd_live_streams{x=\"1\"} 3\n";
        assert_eq!(gauge(text, INFLIGHT), Some(12.0));
        assert_eq!(gauge(text, BUDGET), Some(268_435_456.0));
        assert_eq!(gauge(text, "kezd_live_streams"), None);
        assert_eq!(gauge(text, "kezd_inflight"), None);
    }
}
