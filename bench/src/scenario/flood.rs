//! Scenario 5, fair under floods (SPEC §11): one client address floods kezd as fast as it can
//! with sends from handles of its own to the honest recipients (strangers to them), while
//! honest senders, each on a loopback address of its own (127.0.0.2, 127.0.0.3, …, so kezd
//! sees different clients), send to recipients that wrote to them first. The honest latency,
//! from each message's scheduled time to its answer, is measured twice in one invocation:
//! alone, then under the flood. Target: honest p99 under the flood within 2× of unloaded.
//!
//! Unlike the other scenarios, kezd runs with SPEC §11's default limits (only registrations
//! are raised, for the setup): the limits are what is measured, since they are what turns a
//! flood into cheap refusals.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::Full;

use crate::client::{self, Endpoint, Ident, Msg};
use crate::http::Conn;
use crate::report::Report;
use crate::server::{Kezd, KezdOptions, UNLIMITED};
use crate::stats::Latencies;

/// The flooding client's address: apart from every honest one.
const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 1);

/// Distinct envelopes the flooder cycles through (a real flooder's are new each time; these
/// are new to kezd until the client limit refuses them before their body is read).
const FLOOD_ENVELOPES: usize = 2_000;

/// Flags of `kez-bench flood`.
#[derive(Debug, Args)]
pub struct FloodArgs {
    /// Honest senders, each on a client address of its own (127.0.0.2 onwards; at most 250).
    #[arg(long, default_value_t = 50)]
    honest: usize,
    /// Honest recipients; honest sender i writes to recipient i mod N, which wrote to it
    /// first (so it is the recipient's contact). Must divide `--honest`.
    #[arg(long, default_value_t = 10)]
    recipients: usize,
    /// The honest senders' aggregate rate, messages/s.
    #[arg(long, default_value_t = 20.0)]
    honest_rate: f64,
    /// Handles of the flooding client.
    #[arg(long, default_value_t = 10)]
    flood_handles: usize,
    /// Connections of the flooding client, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    flood_connections: usize,
    /// The flood's aggregate rate, requests/s, spread over its connections; 0 (the default)
    /// for as fast as answers come. A paced flood models an attacker on another machine:
    /// unpaced, the flooding client here takes the CPU it competes for with kezd.
    #[arg(long, default_value_t = 0.0)]
    flood_rate: f64,
    /// Seconds of each phase (unloaded, then under the flood).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

/// Runs the scenario.
pub async fn run(options: &KezdOptions, args: FloodArgs) -> Result<Vec<Report>> {
    if args.honest == 0 || args.honest > 250 || args.recipients == 0 {
        bail!("--honest must be 1..=250 and --recipients at least 1");
    }
    if !args.honest.is_multiple_of(args.recipients) {
        bail!("--recipients must divide --honest");
    }
    let mut report = Report::new("flood");
    report.param("honest", args.honest);
    report.param("recipients", args.recipients);
    report.param("honest_rate", args.honest_rate);
    report.param("flood_handles", args.flood_handles);
    report.param("flood_connections", args.flood_connections);
    report.param("flood_rate", args.flood_rate);
    report.param("seconds", args.seconds);
    report.param("durability", options.durability.as_str());

    let dir = tempfile::Builder::new().prefix("kez-bench-").tempdir()?;
    let mut kezd = Kezd::start(options, dir.path(), "kezd", default_limits()).await?;
    let endpoint = Endpoint::plain(kezd.addr, &kezd.server_name)?;
    let server = kezd.server_name.clone();
    let honest = Ident::many("h", args.honest, &server)?;
    let recipients = Ident::many("r", args.recipients, &server)?;
    let flooders = Ident::many("f", args.flood_handles, &server)?;
    for idents in [&honest, &recipients, &flooders] {
        client::register_all(&endpoint, idents).await?;
    }
    make_contacts(&endpoint, &recipients, &honest).await?;
    let per_phase = (args.honest_rate * args.seconds as f64).ceil() as usize;
    let mut honest_msgs = client::build_messages(&honest, &recipients, 2 * per_phase)?;
    let loaded_msgs = honest_msgs.split_off(per_phase);
    let flood_msgs: Arc<Vec<Bytes>> = Arc::new(
        client::build_messages(&flooders, &recipients, FLOOD_ENVELOPES)?
            .into_iter()
            .map(|m| m.body)
            .collect(),
    );
    let target = Target {
        addr: kezd.addr,
        host: kezd.server_name.clone(),
    };

    let unloaded = honest_phase(&target, args.honest, honest_msgs, args.honest_rate).await?;
    let flooded = flooded_phase(&target, &args, flood_msgs, loaded_msgs).await;
    kezd.stop().await?;
    let (loaded, flood_answers, flood_seconds) = flooded?;
    report_phases(
        &mut report,
        &unloaded,
        &loaded,
        &flood_answers,
        flood_seconds,
    );
    Ok(vec![report])
}

/// Puts both phases and the flood into the report; honest sends refused are problems.
fn report_phases(
    report: &mut Report,
    unloaded: &Phase,
    loaded: &Phase,
    flood_answers: &Answers,
    flood_seconds: f64,
) {
    let flood_total: usize = flood_answers.statuses.values().sum();
    report.figure(
        "flood_requests_per_second",
        flood_total as f64 / flood_seconds,
    );
    report.figure("flood_statuses", &flood_answers.statuses);
    report.figure("flood_connection_errors", flood_answers.errors);
    for (name, phase) in [("unloaded", unloaded), ("flooded", loaded)] {
        report.figure(&format!("honest_{name}"), &phase.latencies);
        report.figure(&format!("honest_{name}_statuses"), &phase.answers.statuses);
        report.line(format!("honest, {name}: {}", phase.latencies.line()));
        let refused: usize = phase
            .answers
            .statuses
            .iter()
            .filter(|(status, _)| **status != 201)
            .map(|(_, n)| n)
            .sum();
        if refused + phase.answers.errors > 0 {
            report.problem(format!(
                "honest sends {name}: {refused} not 201 ({:?}), {} failed",
                phase.answers.statuses, phase.answers.errors
            ));
        }
    }
    let ratio = loaded.latencies.p99_ms / unloaded.latencies.p99_ms.max(f64::MIN_POSITIVE);
    report.figure("honest_p99_ratio", ratio);
    report.line(format!(
        "flood: {:.0} requests/s from one address ({:?}); honest p99 flooded / unloaded = \
         {ratio:.2} (target ≤ 2: {})",
        flood_total as f64 / flood_seconds,
        flood_answers.statuses,
        if ratio <= 2.0 { "met" } else { "missed" }
    ));
}

/// Each recipient writes to its honest senders first: they become its contacts (SPEC §11), so
/// their sends are not first contacts.
async fn make_contacts(endpoint: &Endpoint, recipients: &[Ident], honest: &[Ident]) -> Result<()> {
    for (r, recipient) in recipients.iter().enumerate() {
        let contacts: Vec<Ident> = honest
            .iter()
            .skip(r)
            .step_by(recipients.len())
            .cloned()
            .collect();
        let hello =
            client::build_messages(std::slice::from_ref(recipient), &contacts, contacts.len())?;
        for msg in hello {
            let (status, body) = endpoint.post("/v1/messages", msg.body).await?;
            if status != 201 {
                bail!(
                    "setup send answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }
    Ok(())
}

/// The honest phase under the flood: the flood connections start, the honest senders send,
/// the flood stops. Returns the honest phase, the flood's answers and how long it ran.
async fn flooded_phase(
    target: &Target,
    args: &FloodArgs,
    flood_msgs: Arc<Vec<Bytes>>,
    loaded_msgs: Vec<Msg>,
) -> Result<(Phase, Answers, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let flood_started = Instant::now();
    let flood: Vec<_> = (0..args.flood_connections)
        .map(|k| {
            tokio::spawn(flood_task(
                target.clone(),
                flood_msgs.clone(),
                (k, args.flood_connections),
                pace(args.flood_rate, args.flood_connections),
                stop.clone(),
            ))
        })
        .collect();
    let loaded = honest_phase(target, args.honest, loaded_msgs, args.honest_rate).await;
    stop.store(true, Ordering::Relaxed);
    let mut flood_answers = Answers::default();
    for task in flood {
        flood_answers.add(task.await.context("flood task")?);
    }
    let flood_seconds = flood_started.elapsed().as_secs_f64();
    Ok((loaded?, flood_answers, flood_seconds))
}

/// SPEC §11's defaults, spelled out because the bench's kezd otherwise raises every limit;
/// only registrations are raised, so the setup can register every identity.
fn default_limits() -> toml::Table {
    let mut rate = toml::Table::new();
    for (key, value) in [
        ("client_per_minute", 600),
        ("register_per_hour", i64::from(UNLIMITED)),
        ("sender_per_minute", 120),
        ("recipient_per_minute", 600),
        ("recipient_strangers_per_minute", 60),
        ("first_contacts_per_hour", 100),
        ("origin_per_minute", 6000),
    ] {
        rate.insert(key.into(), value.into());
    }
    let mut tables = toml::Table::new();
    tables.insert("rate".into(), rate.into());
    tables
}

/// Where the load goes.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    host: String,
}

impl Target {
    async fn connect(&self, local: IpAddr) -> Result<Conn<Full<Bytes>>> {
        Conn::open_from(self.addr, &self.host, local).await
    }
}

/// Answers by status, and requests that got none (a broken connection).
#[derive(Debug, Default)]
struct Answers {
    statuses: BTreeMap<u16, usize>,
    errors: usize,
}

impl Answers {
    fn add(&mut self, other: Answers) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.errors += other.errors;
    }
}

/// One phase of honest sends.
struct Phase {
    latencies: Latencies,
    answers: Answers,
}

/// The client address of honest sender `i`.
fn honest_address(i: usize) -> IpAddr {
    let last = u8::try_from(i + 2).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Sends `msgs` open-loop at `rate` (message j at j / rate s), each from its sender's own
/// connection and address; latency counts from the scheduled time, so a send held up behind
/// a slow one counts its wait.
async fn honest_phase(target: &Target, senders: usize, msgs: Vec<Msg>, rate: f64) -> Result<Phase> {
    let mut schedules: Vec<Vec<(Duration, Bytes)>> = vec![Vec::new(); senders];
    for (j, msg) in msgs.into_iter().enumerate() {
        schedules[msg.sender].push((Duration::from_secs_f64(j as f64 / rate), msg.body));
    }
    let mut conns = Vec::with_capacity(senders);
    for i in 0..senders {
        conns.push(target.connect(honest_address(i)).await?);
    }
    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(schedules)
        .enumerate()
        .map(|(i, (mut conn, schedule))| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(schedule.len());
                let mut answers = Answers::default();
                for (at, body) in schedule {
                    tokio::time::sleep_until(start + at).await;
                    match conn.post("/v1/messages", body).await {
                        Ok((status, _)) => {
                            *answers.statuses.entry(status).or_default() += 1;
                            samples.push((start + at).elapsed());
                        }
                        Err(_) => {
                            answers.errors += 1;
                            if let Ok(fresh) = target.connect(honest_address(i)).await {
                                conn = fresh;
                            }
                        }
                    }
                }
                (samples, answers)
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut answers = Answers::default();
    for task in tasks {
        let (s, a) = task.await.context("honest sender task")?;
        samples.extend(s);
        answers.add(a);
    }
    Ok(Phase {
        latencies: Latencies::from_samples(samples),
        answers,
    })
}

/// The interval between one flooding connection's requests for an aggregate `rate` over
/// `connections`; `None` for as fast as answers come.
fn pace(rate: f64, connections: usize) -> Option<Duration> {
    (rate > 0.0).then(|| Duration::from_secs_f64(connections as f64 / rate))
}

/// One flooding connection: sends as fast as answers come (or one request per `every`) until
/// `stop`, reconnecting when kezd closes the connection (as it may after refusing a request
/// whose body it did not read). A paced connection that falls behind sends at once, without
/// bursting to catch up.
async fn flood_task(
    target: Target,
    msgs: Arc<Vec<Bytes>>,
    (k, connections): (usize, usize),
    every: Option<Duration>,
    stop: Arc<AtomicBool>,
) -> Answers {
    let mut answers = Answers::default();
    let local = IpAddr::V4(FLOODER);
    let mut conn = None;
    let mut j = k;
    let mut ticks = every.map(|every| {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    while !stop.load(Ordering::Relaxed) {
        if let Some(ticks) = ticks.as_mut() {
            ticks.tick().await;
        }
        let mut open = match conn.take() {
            Some(open) => open,
            None => match target.connect(local).await {
                Ok(open) => open,
                Err(_) => {
                    answers.errors += 1;
                    tokio::task::yield_now().await;
                    continue;
                }
            },
        };
        match open
            .post("/v1/messages", msgs[j % msgs.len()].clone())
            .await
        {
            Ok((status, _)) => {
                *answers.statuses.entry(status).or_default() += 1;
                conn = Some(open);
            }
            Err(_) => answers.errors += 1,
        }
        // Connection k sends envelopes k, k + connections, …: no two send the same one.
        j += connections;
    }
    answers
}
