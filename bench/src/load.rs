//! The send workload shared by the single-server, cluster and federation scenarios: sender
//! tasks post pre-built envelopes (optionally at a fixed aggregate rate, bounded by a count and
//! a duration), stream readers record when each message id arrives, and at the end every
//! acknowledged message is checked to have been delivered exactly once to the live stream and
//! to be in the inbox exactly once when polled.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http_body_util::Full;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::client::{self, Endpoint, Ident, Msg, SETUP_CONCURRENCY};
use crate::http::Conn;
use crate::sse::{Frame, ItemHead, SseReader};
use crate::stats::Latencies;

/// Delivery bookkeeping for one run, indexed by message number.
pub struct Tracker {
    /// When the tracker was made; times are kept relative to it.
    base: Instant,
    /// The clock's zero, ns after `base`: set when the load starts.
    t0_ns: AtomicU64,
    /// Message id → message number.
    index: HashMap<String, usize>,
    /// Each message's recipient.
    recipient_of: Vec<usize>,
    /// When each POST started, ns after `t0` plus one (0: not sent).
    sent_ns: Vec<AtomicU64>,
    /// Whether the server acknowledged it (201 or 202 with the expected id).
    acked: Vec<AtomicBool>,
    /// When it first arrived on a stream, ns after `t0` plus one (0: not yet).
    delivered_ns: Vec<AtomicU64>,
    /// How many times it arrived on the streams.
    deliveries: Vec<AtomicU32>,
    /// Distinct messages delivered.
    delivered: AtomicUsize,
    /// Events naming an id not in the load, or delivered to the wrong inbox.
    unexpected: AtomicUsize,
    /// Events whose seq was not above the previous one on the same stream.
    disorder: AtomicUsize,
    /// Set to end the sends early: no send starts after it (a load that lasts as long as
    /// something else does, such as a backlog's drain).
    stopped: AtomicBool,
}

impl Tracker {
    /// Bookkeeping for `messages`; the clock starts at [`Tracker::start`].
    pub fn new(messages: &[Msg]) -> Tracker {
        let n = messages.len();
        Tracker {
            base: Instant::now(),
            t0_ns: AtomicU64::new(0),
            index: messages
                .iter()
                .enumerate()
                .map(|(i, m)| (m.id.clone(), i))
                .collect(),
            recipient_of: messages.iter().map(|m| m.recipient).collect(),
            sent_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            acked: (0..n).map(|_| AtomicBool::new(false)).collect(),
            delivered_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            deliveries: (0..n).map(|_| AtomicU32::new(0)).collect(),
            delivered: AtomicUsize::new(0),
            unexpected: AtomicUsize::new(0),
            disorder: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
        }
    }

    /// No send starts after this (sends in flight finish).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// Starts the clock (a tracker is built before the streams open; the clock starts when
    /// the load does).
    pub fn start(&self) {
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.t0_ns.store(now, Ordering::Release);
    }

    /// The clock's zero.
    pub fn t0(&self) -> Instant {
        self.base + Duration::from_nanos(self.t0_ns.load(Ordering::Acquire))
    }

    /// Now, in ns after the clock's zero, plus one (so 0 can mean "never").
    fn now_ns(&self) -> u64 {
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        now.saturating_sub(self.t0_ns.load(Ordering::Relaxed)) + 1
    }

    /// Records a `message` event read on `recipient`'s stream; `last_seq` is the stream's.
    pub fn record(&self, recipient: usize, frame: &Frame, last_seq: &mut u64) {
        let Ok(head) = serde_json::from_str::<ItemHead<'_>>(&frame.data) else {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if head.seq <= *last_seq {
            self.disorder.fetch_add(1, Ordering::Relaxed);
        }
        *last_seq = head.seq;
        let Some(&i) = self.index.get(head.id) else {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if self.recipient_of[i] != recipient {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.deliveries[i].fetch_add(1, Ordering::Relaxed) == 0 {
            self.delivered_ns[i].store(self.now_ns(), Ordering::Relaxed);
            self.delivered.fetch_add(1, Ordering::Release);
        }
    }

    /// Distinct messages delivered so far.
    pub fn delivered(&self) -> usize {
        self.delivered.load(Ordering::Acquire)
    }

    /// Waits until `target` distinct messages have arrived, or `timeout`; whether they did.
    pub async fn wait_delivered(&self, target: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.delivered() < target {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true
    }

    /// Latest first delivery, after `t0`.
    pub fn last_delivery(&self) -> Duration {
        let max = self
            .delivered_ns
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        Duration::from_nanos(max.saturating_sub(1))
    }

    /// Every first delivery's time after `t0`.
    pub fn delivery_times(&self) -> Vec<Duration> {
        self.delivered_ns
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .filter(|&d| d > 0)
            .map(|d| Duration::from_nanos(d - 1))
            .collect()
    }

    /// Earliest first delivery, after `t0` (None if nothing arrived).
    pub fn first_delivery(&self) -> Option<Duration> {
        self.delivered_ns
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .filter(|&d| d > 0)
            .min()
            .map(|d| Duration::from_nanos(d - 1))
    }

    /// POST start → stream event, for every acknowledged and delivered message.
    pub fn latencies(&self) -> Latencies {
        let mut samples = Vec::with_capacity(self.sent_ns.len());
        for i in 0..self.sent_ns.len() {
            let sent = self.sent_ns[i].load(Ordering::Relaxed);
            let got = self.delivered_ns[i].load(Ordering::Relaxed);
            if sent > 0 && got > 0 && self.acked[i].load(Ordering::Relaxed) {
                samples.push(Duration::from_nanos(got.saturating_sub(sent)));
            }
        }
        Latencies::from_samples(samples)
    }

    /// Number of acknowledged messages.
    pub fn acked(&self) -> usize {
        self.acked
            .iter()
            .filter(|a| a.load(Ordering::Relaxed))
            .count()
    }

    /// Whether message `i` was acknowledged.
    pub fn is_acked(&self, i: usize) -> bool {
        self.acked[i].load(Ordering::Relaxed)
    }

    /// Marks messages acknowledged without timing (the backlog's enqueue phase).
    pub fn mark_acked(&self, i: usize) {
        self.acked[i].store(true, Ordering::Relaxed);
    }
}

/// Opens `recipient`'s stream (live-only, or resumed after `since`), reads up to `ready`
/// (recording replayed messages), and spawns a task recording the rest into `tracker`.
pub async fn open_tracked_stream(
    endpoint: &Endpoint,
    ident: &Ident,
    recipient: usize,
    since: Option<u64>,
    tracker: Arc<Tracker>,
) -> Result<JoinHandle<Result<()>>> {
    let body = endpoint.stream(&ident.stream_path(since)).await?;
    let mut reader = SseReader::new(body);
    let mut last_seq = since.unwrap_or(0);
    let ready = reader
        .until_ready(|frame| tracker.record(recipient, frame, &mut last_seq))
        .await?;
    last_seq = last_seq.max(ready);
    Ok(tokio::spawn(async move {
        while let Some(frame) = reader.next_event().await? {
            if frame.event.as_deref() == Some("message") {
                tracker.record(recipient, &frame, &mut last_seq);
            }
        }
        Ok(())
    }))
}

/// Opens a tracked stream for every recipient, `endpoints[r % len]` for recipient `r`.
pub async fn open_all_streams(
    endpoints: &[Endpoint],
    recipients: &[Ident],
    since: Option<u64>,
    tracker: &Arc<Tracker>,
) -> Result<Vec<JoinHandle<Result<()>>>> {
    stream::iter(recipients.iter().enumerate())
        .map(|(r, ident)| {
            let endpoint = &endpoints[r % endpoints.len()];
            open_tracked_stream(endpoint, ident, r, since, tracker.clone())
        })
        .buffered(SETUP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// How the senders pace themselves.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Sender tasks, each with its own identity and connection; message `j` is sent by task
    /// `j % tasks` (the messages were built with the same assignment).
    pub tasks: usize,
    /// Aggregate messages per second (message `j` is not sent before `j / rate` s); `None`:
    /// as fast as the answers come back.
    pub rate: Option<f64>,
    /// No new send starts after this long.
    pub duration: Duration,
}

/// What the senders saw.
#[derive(Debug, Default, Serialize)]
pub struct SendOutcome {
    /// POSTs started.
    pub sent: usize,
    /// 201/202 answers naming the expected id.
    pub acked: usize,
    /// Everything else (other statuses, wrong ids, duplicates, transport errors).
    pub errors: usize,
    /// The first few errors, verbatim.
    pub first_errors: Vec<String>,
    /// From the clock's start to the last answer, seconds.
    pub send_seconds: f64,
}

/// A task's way to post: its own raw connection (plain HTTP) or the shared TLS client.
enum Poster {
    Raw(Option<Conn<Full<Bytes>>>, std::net::SocketAddr, String),
    Reqwest(Endpoint),
}

impl Poster {
    fn for_endpoint(endpoint: &Endpoint) -> Poster {
        match &endpoint.plain {
            Some((addr, host)) => Poster::Raw(None, *addr, host.clone()),
            None => Poster::Reqwest(endpoint.clone()),
        }
    }

    /// Opens the raw connection ahead of the clock.
    async fn connect(&mut self) -> Result<()> {
        if let Poster::Raw(conn @ None, addr, host) = self {
            *conn = Some(Conn::open(*addr, host).await?);
        }
        Ok(())
    }

    async fn post(&mut self, body: Bytes) -> Result<(u16, Bytes)> {
        match self {
            Poster::Raw(conn, addr, host) => {
                if conn.is_none() {
                    *conn = Some(Conn::open(*addr, host).await?);
                }
                let c = conn.as_mut().context("connection")?;
                let result = c.post("/v1/messages", body).await;
                if result.is_err() {
                    // A broken connection is reopened for the next message; this one counts
                    // as an error (it may or may not have been stored).
                    *conn = None;
                }
                result
            }
            Poster::Reqwest(endpoint) => endpoint.post("/v1/messages", body).await,
        }
    }
}

/// Sends the messages as `pace` says, through `endpoints[task % len]`, recording into
/// `tracker`. `expect` is the success status (201 local, 202 remote). Returns when every task
/// has finished.
pub async fn run_sends(
    messages: Arc<Vec<Msg>>,
    endpoints: &[Endpoint],
    pace: Pace,
    expect: u16,
    tracker: Arc<Tracker>,
) -> Result<SendOutcome> {
    // Task k must send as identity k: each identity has one request in flight, like a client.
    if let Some(j) = (0..messages.len()).find(|&j| messages[j].sender != j % pace.tasks) {
        anyhow::bail!(
            "message {j} was built for another sender than task {}",
            j % pace.tasks
        );
    }
    // Connect every sender before the clock reads t0, as a real client would be connected.
    let mut posters = Vec::with_capacity(pace.tasks);
    for task in 0..pace.tasks {
        let mut poster = Poster::for_endpoint(&endpoints[task % endpoints.len()]);
        poster.connect().await?;
        posters.push(poster);
    }
    let t0 = tracker.t0();
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let error_count = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let last_answer_ns = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for (task, mut poster) in posters.into_iter().enumerate() {
        let messages = messages.clone();
        let tracker = tracker.clone();
        let errors = errors.clone();
        let error_count = error_count.clone();
        let sent = sent.clone();
        let last_answer_ns = last_answer_ns.clone();
        handles.push(tokio::spawn(async move {
            let fail = |e: String| {
                error_count.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut v) = errors.lock()
                    && v.len() < 5
                {
                    v.push(e);
                }
            };
            for j in (task..messages.len()).step_by(pace.tasks) {
                if let Some(rate) = pace.rate {
                    let due = t0 + Duration::from_secs_f64(j as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                if t0.elapsed() > pace.duration || tracker.stopped.load(Ordering::Acquire) {
                    break;
                }
                let m = &messages[j];
                tracker.sent_ns[j].store(tracker.now_ns(), Ordering::Relaxed);
                sent.fetch_add(1, Ordering::Relaxed);
                match poster.post(m.body.clone()).await {
                    Ok((status, answer)) => {
                        last_answer_ns.fetch_max(tracker.now_ns(), Ordering::Relaxed);
                        let parsed: serde_json::Value =
                            serde_json::from_slice(&answer).unwrap_or_default();
                        if status == expect
                            && parsed["id"] == m.id.as_str()
                            && parsed.get("duplicate").is_none()
                        {
                            tracker.acked[j].store(true, Ordering::Relaxed);
                        } else {
                            fail(format!(
                                "message {j}: {status} {}",
                                String::from_utf8_lossy(&answer)
                            ));
                        }
                    }
                    Err(e) => fail(format!("message {j}: {e:#}")),
                }
            }
        }));
    }
    for h in handles {
        h.await.context("sender task")?;
    }
    let first_errors = errors.lock().map(|v| v.clone()).unwrap_or_default();
    Ok(SendOutcome {
        sent: sent.load(Ordering::Relaxed),
        acked: tracker.acked(),
        errors: error_count.load(Ordering::Relaxed),
        first_errors,
        send_seconds: Duration::from_nanos(last_answer_ns.load(Ordering::Relaxed)).as_secs_f64(),
    })
}

/// The exactly-once check: every acknowledged message delivered exactly once to its live
/// stream, and exactly once in its recipient's inbox when polled; nothing unexpected, seqs
/// increasing. Returns the problems found (empty: passed) and the poll count.
pub async fn verify(
    tracker: &Tracker,
    messages: &[Msg],
    recipients: &[Ident],
    poll_endpoints: &[Endpoint],
) -> Result<Verification> {
    let mut v = Verification::default();
    for i in 0..messages.len() {
        if !tracker.acked[i].load(Ordering::Relaxed) {
            continue;
        }
        match tracker.deliveries[i].load(Ordering::Relaxed) {
            0 => v.stream_missing += 1,
            1 => {}
            _ => v.stream_duplicates += 1,
        }
    }
    v.stream_unexpected = tracker.unexpected.load(Ordering::Relaxed);
    v.stream_out_of_order = tracker.disorder.load(Ordering::Relaxed);

    // The poll: every inbox, page by page.
    let polled: Vec<Result<Vec<(u64, String)>>> = stream::iter(recipients.iter().enumerate())
        .map(|(r, ident)| client::poll_all(&poll_endpoints[r % poll_endpoints.len()], ident))
        .buffered(SETUP_CONCURRENCY)
        .collect()
        .await;
    let mut seen = vec![0u32; messages.len()];
    for (r, items) in polled.into_iter().enumerate() {
        let items = items?;
        let mut last = 0;
        for (seq, id) in items {
            v.polled += 1;
            if seq <= last {
                v.poll_out_of_order += 1;
            }
            last = seq;
            match tracker.index.get(&id) {
                Some(&i) if messages[i].recipient == r => seen[i] += 1,
                _ => v.poll_unexpected += 1,
            }
        }
    }
    for (acked, &times) in tracker.acked.iter().zip(&seen) {
        if acked.load(Ordering::Relaxed) {
            match times {
                0 => v.poll_missing += 1,
                1 => {}
                _ => v.poll_duplicates += 1,
            }
        } else if times > 0 {
            // Stored although the sender saw no acknowledgement (a transport error): allowed,
            // but worth reporting.
            v.stored_unacked += 1;
        }
    }
    Ok(v)
}

/// The outcome of [`verify`].
#[derive(Debug, Default, Serialize)]
pub struct Verification {
    /// Acknowledged, never on the stream.
    pub stream_missing: usize,
    /// Acknowledged, on the stream more than once.
    pub stream_duplicates: usize,
    /// Stream events for ids not sent to that inbox.
    pub stream_unexpected: usize,
    /// Stream events whose seq did not increase.
    pub stream_out_of_order: usize,
    /// Inbox items read by the final poll.
    pub polled: usize,
    /// Acknowledged, not in the inbox.
    pub poll_missing: usize,
    /// Acknowledged, in the inbox more than once.
    pub poll_duplicates: usize,
    /// Inbox items not sent to that inbox.
    pub poll_unexpected: usize,
    /// Inbox seqs not increasing.
    pub poll_out_of_order: usize,
    /// In the inbox without an acknowledgement (informational).
    pub stored_unacked: usize,
}

impl Verification {
    /// Whether every acknowledged message was delivered exactly once, live and by poll.
    pub fn passed(&self) -> bool {
        self.stream_missing == 0
            && self.stream_duplicates == 0
            && self.stream_unexpected == 0
            && self.stream_out_of_order == 0
            && self.poll_missing == 0
            && self.poll_duplicates == 0
            && self.poll_unexpected == 0
            && self.poll_out_of_order == 0
    }
}

/// Everything one measured send run needs.
pub struct SendRun<'a> {
    /// Sender task `k` posts through `send_endpoints[k % len]`.
    pub send_endpoints: &'a [Endpoint],
    /// Recipient `r`'s stream is opened on `stream_endpoints[r % len]`.
    pub stream_endpoints: &'a [Endpoint],
    /// Recipient `r` is polled on `poll_endpoints[r % len]`.
    pub poll_endpoints: &'a [Endpoint],
    /// The recipients (streams and polls).
    pub recipients: &'a [Ident],
    /// The pre-built load.
    pub messages: Vec<Msg>,
    /// Pacing.
    pub pace: Pace,
    /// The success status (201 local, 202 remote).
    pub expect: u16,
    /// Server processes whose CPU and memory are measured.
    pub pids: Vec<u32>,
    /// Bound on waiting for the last deliveries after the last send.
    pub drain_timeout: Duration,
    /// The processes beside the servers whose costs are sampled with theirs (a cluster's
    /// PostgreSQL and NATS).
    pub beside: Option<&'a mut crate::costs::Beside>,
}

/// Opens the streams, starts the clock, sends, waits for delivery, measures the servers'
/// CPU and memory, and checks exactly-once delivery; everything goes into `report`.
pub async fn measure(run: SendRun<'_>, report: &mut crate::report::Report) -> Result<()> {
    let messages = Arc::new(run.messages);
    let tracker = Arc::new(Tracker::new(&messages));
    let streams = open_all_streams(run.stream_endpoints, run.recipients, None, &tracker).await?;
    let mut beside = run.beside;
    if let Some(beside) = beside.as_deref_mut() {
        beside.before().await?;
    }
    let before = crate::procfs::snapshot(&run.pids)?;
    // The generator shares the cores with the servers: its own CPU is reported beside theirs.
    let own_before = crate::procfs::cpu_seconds(std::process::id())?;

    tracker.start();
    let outcome = run_sends(
        messages.clone(),
        run.send_endpoints,
        run.pace,
        run.expect,
        tracker.clone(),
    )
    .await?;
    let all_arrived = tracker
        .wait_delivered(outcome.acked, run.drain_timeout)
        .await;
    let after = crate::procfs::snapshot(&run.pids)?;
    let own_cpu = crate::procfs::cpu_seconds(std::process::id())? - own_before;
    if let Some(beside) = beside {
        let kezd_cpu: Vec<f64> = after
            .cpu_each
            .iter()
            .zip(&before.cpu_each)
            .map(|(a, b)| a - b)
            .collect();
        let totals = crate::costs::Totals {
            acked: outcome.acked,
            seconds: tracker.last_delivery().as_secs_f64(),
            kezd_cpu: &kezd_cpu,
            generator_cpu: own_cpu,
        };
        beside.after(&totals, report).await?;
    }
    // A short settle so that a late duplicate would still be seen by the check.
    tokio::time::sleep(Duration::from_millis(300)).await;

    report_run(
        &RunFigures {
            tracker: &tracker,
            outcome: &outcome,
            before: &before,
            after: &after,
            own_cpu,
            all_arrived,
            drain_timeout: run.drain_timeout,
        },
        report,
    );
    report_server_side(run.send_endpoints, run.stream_endpoints, report).await?;

    let verification = verify(&tracker, &messages, run.recipients, run.poll_endpoints).await?;
    for stream in streams {
        stream.abort();
    }
    check(&verification, report);
    Ok(())
}

/// What one measured run produced, for [`report_run`].
struct RunFigures<'a> {
    /// Sends and deliveries as they happened.
    tracker: &'a Tracker,
    /// The senders' counts.
    outcome: &'a SendOutcome,
    /// The servers' CPU and memory before the clock started.
    before: &'a crate::procfs::Snapshot,
    /// The same after the last delivery.
    after: &'a crate::procfs::Snapshot,
    /// The load generator's own CPU seconds over the run.
    own_cpu: f64,
    /// Whether every acknowledged message reached a stream within the drain bound.
    all_arrived: bool,
    /// That bound.
    drain_timeout: Duration,
}

/// Puts the run's throughput, latency, CPU and memory into the report, and its failures.
fn report_run(f: &RunFigures<'_>, report: &mut crate::report::Report) {
    let delivered = f.tracker.delivered();
    let last = f.tracker.last_delivery().as_secs_f64();
    let cpu = f.after.cpu_seconds - f.before.cpu_seconds;
    let written = f.after.disk_write_bytes - f.before.disk_write_bytes;
    let latencies = f.tracker.latencies();
    let throughput = if last > 0.0 {
        delivered as f64 / last
    } else {
        0.0
    };
    let steady = crate::stats::steady_rate(f.tracker.delivery_times());
    let ack_rate = if f.outcome.send_seconds > 0.0 {
        f.outcome.acked as f64 / f.outcome.send_seconds
    } else {
        0.0
    };
    let cpu_per_msg_ms = if f.outcome.acked > 0 {
        cpu * 1e3 / f.outcome.acked as f64
    } else {
        0.0
    };
    report.figure("sent", f.outcome.sent);
    report.figure("acked", f.outcome.acked);
    report.figure("errors", f.outcome.errors);
    report.figure("delivered", delivered);
    report.figure("send_seconds", f.outcome.send_seconds);
    report.figure("last_delivery_seconds", last);
    report.figure("acked_per_second", ack_rate);
    report.figure("delivered_per_second", throughput);
    report.figure("steady_delivered_per_second", steady);
    report.figure("send_to_stream_latency", &latencies);
    report.figure("server_cpu_seconds", cpu);
    report.figure("server_cpu_ms_per_message", cpu_per_msg_ms);
    report.figure("server_disk_write_bytes", written);
    report.figure(
        "server_disk_write_bytes_per_message",
        written as f64 / f.outcome.acked.max(1) as f64,
    );
    report.figure("server_memory_kib", &f.after.memory);
    report.figure("generator_cpu_seconds", f.own_cpu);
    let cpu_each: Vec<f64> = f
        .after
        .cpu_each
        .iter()
        .zip(&f.before.cpu_each)
        .map(|(a, b)| a - b)
        .collect();
    report.figure("server_cpu_seconds_each", &cpu_each);
    report.line(format!(
        "sent {} acked {} errors {} delivered {} in {:.2} s",
        f.outcome.sent, f.outcome.acked, f.outcome.errors, delivered, last
    ));
    report.line(format!(
        "throughput: {throughput:.0} msg/s delivered to the live stream ({ack_rate:.0}/s acknowledged)"
    ));
    if let Some(steady) = steady {
        report.line(format!(
            "sustained: {steady:.0} msg/s delivered between the 10th and 90th percentile deliveries"
        ));
    }
    report.line(format!("send -> stream latency: {}", latencies.line()));
    report.line(format!(
        "server CPU: {cpu:.2} s = {cpu_per_msg_ms:.3} ms/message (per server: {})",
        cpu_each
            .iter()
            .map(|c| format!("{c:.2} s"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    report.line(format!(
        "server disk writes (write_bytes): {:.1} MB = {:.1} KB/message",
        written as f64 / 1e6,
        written as f64 / 1e3 / f.outcome.acked.max(1) as f64
    ));
    report.line(format!(
        "load generator CPU (same cores): {:.2} s",
        f.own_cpu
    ));
    for (i, m) in f.after.memory.iter().enumerate() {
        report.line(format!(
            "server {i} memory: VmRSS {} KiB, VmHWM {} KiB",
            m.rss_kib, m.hwm_kib
        ));
    }
    for e in &f.outcome.first_errors {
        report.line(format!("error: {e}"));
    }
    if f.outcome.errors > 0 {
        report.problem(format!("{} sends were not acknowledged", f.outcome.errors));
    }
    if !f.all_arrived {
        report.problem(format!(
            "only {delivered} of {} acknowledged messages reached the streams within {:?}",
            f.outcome.acked, f.drain_timeout
        ));
    }
}

/// Puts the servers' own latency histograms into the report, one scrape per distinct server.
async fn report_server_side(
    send_endpoints: &[Endpoint],
    stream_endpoints: &[Endpoint],
    report: &mut crate::report::Report,
) -> Result<()> {
    let mut bases: Vec<&Endpoint> = Vec::new();
    for e in send_endpoints.iter().chain(stream_endpoints) {
        if !bases.iter().any(|b| b.base == e.base) {
            bases.push(e);
        }
    }
    let mut server_side = serde_json::Map::new();
    for e in bases {
        let scraped = crate::metrics::scrape(e).await;
        for (name, s) in &scraped.series {
            if name.contains("/v1/messages") || name.contains("store") || name.contains("txn") {
                report.line(format!(
                    "server-side {} {name}: {} calls, p50 <= {} ms, p99 <= {} ms",
                    e.base, s.count, s.p50_le_ms, s.p99_le_ms
                ));
            }
        }
        if let Some(catch_ups) = scraped.stream_catch_ups {
            report.line(format!(
                "server-side {} live-stream catch-ups (store reads for a late or lost notification): {catch_ups}",
                e.base
            ));
        }
        server_side.insert(e.base.clone(), serde_json::to_value(scraped)?);
    }
    report.figure("server_side", server_side);
    Ok(())
}

/// Puts a verification into the report and records its failures.
pub fn check(verification: &Verification, report: &mut crate::report::Report) {
    report.figure("verification", verification);
    report.line(format!(
        "exactly-once: stream missing {} duplicates {} unexpected {} out-of-order {}; \
         poll ({} items) missing {} duplicates {} unexpected {}; stored without ack {}",
        verification.stream_missing,
        verification.stream_duplicates,
        verification.stream_unexpected,
        verification.stream_out_of_order,
        verification.polled,
        verification.poll_missing,
        verification.poll_duplicates,
        verification.poll_unexpected,
        verification.stored_unacked
    ));
    if !verification.passed() {
        report.problem("an acknowledged message was not delivered exactly once (see verification)");
    }
}
