//! Scenario 3c, `kez-bench federation --backlog K`: the outage and the drain. b.test is
//! killed, K messages are queued on a.test, b stays down for `--outage-secs` and is restarted;
//! the drain (every message arriving on b's resumed streams) is timed from the restart. a's own
//! users send to each other at `--local-rate` meanwhile (local.rs): for `--local-secs` while b
//! is down and nothing drains, then through the drain, so that the two p99s compare what the
//! drain costs a's local sends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use kez_testnet::Testnet;

use super::FederationArgs;
use super::local::{Local, Phase};
use crate::client::{self, Endpoint, Ident, Msg};
use crate::load::{self, Pace, Tracker};
use crate::procfs;
use crate::report::Report;
use crate::scenario::send::ms;
use crate::stats::Latencies;

/// Runs the backlog mode (see the file doc).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    net: &mut Testnet,
    a: &Endpoint,
    b: &Endpoint,
    senders: &[Ident],
    recipients: &[Ident],
    k: usize,
    args: &FederationArgs,
    report: &mut Report,
) -> Result<()> {
    report.param("backlog", k);
    report.param("outage_secs", args.outage_secs);
    report.param("backoff_max_secs", args.backoff_max_secs);
    let messages = Arc::new(client::build_messages(senders, recipients, k)?);
    let a_pid = net.node("a.test")?.pid().unwrap_or(0);
    let local = register_local(a, args, report).await?;

    net.kill("b.test").await?;
    let killed = Instant::now();
    let (enqueue, outcome) = enqueue_while_down(&messages, a, k, args, report).await?;
    let (unloaded, during) = match &local {
        Some(local) => local_while_down(local, a, args, report).await?,
        None => (None, None),
    };
    let outage = Duration::from_secs(args.outage_secs);
    if let Some(rest) = outage.checked_sub(killed.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    report.figure("outage_seconds", killed.elapsed().as_secs_f64());

    // The drain clock starts at the restart; b's own start-up is part of the drain.
    let drain = Arc::new(Tracker::new(&messages));
    for i in 0..messages.len() {
        if enqueue_acked(&enqueue, i) {
            drain.mark_acked(i);
        }
    }
    let a_cpu_before = procfs::cpu_seconds(a_pid)?;
    drain.start();
    let local_sends = local
        .as_ref()
        .zip(during.as_ref())
        .map(|(l, p)| l.start(a, p));
    net.restart("b.test").await?;
    let b_start = drain.t0().elapsed();
    let b_pid = net.node("b.test")?.pid().unwrap_or(0);
    // Resumed streams from seq 0: what arrived before they opened is replayed, the rest
    // is live, and either way each message must arrive exactly once.
    let streams =
        load::open_all_streams(std::slice::from_ref(b), recipients, Some(0), &drain).await?;
    let all = drain
        .wait_delivered(outcome.acked, Duration::from_secs(args.drain_timeout))
        .await;
    let a_cpu = procfs::cpu_seconds(a_pid)? - a_cpu_before;
    let b_cpu = procfs::cpu_seconds(b_pid)?;
    let during = match (during, local_sends) {
        (Some(phase), Some(sends)) => Some(phase.finish(a, sends, report).await?),
        _ => None,
    };
    let delivered = drain.delivered();
    let last = drain.last_delivery().as_secs_f64();
    let first = drain.first_delivery().map_or(0.0, |d| d.as_secs_f64());
    let rate_from_restart = delivered as f64 / last.max(1e-9);
    let rate_from_first = delivered as f64 / (last - first).max(1e-9);
    report.figure("b_start_to_serving_ms", ms(b_start));
    report.figure("drain_delivered", delivered);
    report.figure("drain_first_delivery_seconds", first);
    report.figure("drain_last_delivery_seconds", last);
    report.figure("drain_per_second_from_restart", rate_from_restart);
    report.figure("drain_per_second_from_first_delivery", rate_from_first);
    report.figure(
        "a_cpu_ms_per_message",
        a_cpu * 1e3 / delivered.max(1) as f64,
    );
    report.figure(
        "b_cpu_ms_per_message",
        b_cpu * 1e3 / delivered.max(1) as f64,
    );
    report.figure(
        "memory_kib",
        [procfs::memory(a_pid)?, procfs::memory(b_pid)?],
    );
    report.line(format!(
        "b.test restarted (serving after {:.0} ms); drained {delivered} of {} in {last:.2} s after the restart = {rate_from_restart:.0}/s (first delivery at {first:.2} s, {rate_from_first:.0}/s from then)",
        ms(b_start),
        outcome.acked
    ));
    report.line(format!(
        "server CPU during the drain: a {a_cpu:.2} s, b {b_cpu:.2} s ({:.3} + {:.3} ms/message)",
        a_cpu * 1e3 / delivered.max(1) as f64,
        b_cpu * 1e3 / delivered.max(1) as f64
    ));
    if let (Some(unloaded), Some(during)) = (unloaded, during) {
        compare_local(args.local_rate, &unloaded, &during, report);
    }
    if !all {
        report.problem(format!(
            "only {delivered} of {} queued messages drained within {} s",
            outcome.acked, args.drain_timeout
        ));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let verification = load::verify(&drain, &messages, recipients, std::slice::from_ref(b)).await?;
    for s in streams {
        s.abort();
    }
    load::check(&verification, report);
    Ok(())
}

/// a's local users, unless `--local-rate` is 0.
async fn register_local(
    a: &Endpoint,
    args: &FederationArgs,
    report: &mut Report,
) -> Result<Option<Local>> {
    report.param("local_rate", args.local_rate);
    report.param("local_secs", args.local_secs);
    report.param("local_senders", args.local_senders);
    if args.local_rate <= 0.0 {
        return Ok(None);
    }
    let n = args.local_senders;
    Ok(Some(Local::register(a, n, n, 2, args.local_rate).await?))
}

/// a's local sends with nothing draining (b is down and a's outbox waits for it), timed; then
/// the sends for the drain, built and with their streams open.
async fn local_while_down(
    local: &Local,
    a: &Endpoint,
    args: &FederationArgs,
    report: &mut Report,
) -> Result<(Option<Latencies>, Option<Phase>)> {
    let secs = Duration::from_secs(args.local_secs);
    let phase = local.prepare(a, 0, "unloaded", secs).await?;
    let sends = local.start(a, &phase);
    tokio::time::sleep(secs).await;
    let unloaded = phase.finish(a, sends, report).await?;
    let longest = Duration::from_secs(args.drain_timeout);
    let during = local.prepare(a, 1, "during_drain", longest).await?;
    Ok((Some(unloaded), Some(during)))
}

/// The target: local sends' p99 during the drain at most twice the unloaded one.
fn compare_local(rate: f64, unloaded: &Latencies, during: &Latencies, report: &mut Report) {
    let ratio = during.p99_ms / unloaded.p99_ms.max(1e-9);
    report.figure("local_p99_during_drain_over_unloaded", ratio);
    report.line(format!(
        "a.test local sends at {rate}/s: p99 {:.2} ms during the drain, {:.2} ms unloaded = {ratio:.2}x (target <= 2x)",
        during.p99_ms, unloaded.p99_ms
    ));
}

/// Queues the backlog on a while b is down; reports how fast a accepted it.
async fn enqueue_while_down(
    messages: &Arc<Vec<Msg>>,
    a: &Endpoint,
    k: usize,
    args: &FederationArgs,
    report: &mut Report,
) -> Result<(Arc<Tracker>, load::SendOutcome)> {
    let enqueue = Arc::new(Tracker::new(messages));
    enqueue.start();
    let outcome = load::run_sends(
        messages.clone(),
        std::slice::from_ref(a),
        Pace {
            tasks: args.senders,
            rate: None,
            duration: Duration::from_secs(args.duration),
        },
        202,
        enqueue.clone(),
    )
    .await?;
    report.figure("enqueue_acked", outcome.acked);
    report.figure("enqueue_seconds", outcome.send_seconds);
    report.line(format!(
        "queued {} of {k} on a.test in {:.2} s ({:.0}/s) while b.test was down",
        outcome.acked,
        outcome.send_seconds,
        outcome.acked as f64 / outcome.send_seconds.max(1e-9)
    ));
    if outcome.errors > 0 {
        report.problem(format!("{} sends to a.test failed", outcome.errors));
        for e in &outcome.first_errors {
            report.line(format!("error: {e}"));
        }
    }
    Ok((enqueue, outcome))
}

/// Whether the enqueue phase saw message `i` acknowledged.
fn enqueue_acked(tracker: &Tracker, i: usize) -> bool {
    tracker.is_acked(i)
}
