//! a's own traffic beside a backlog's drain (scenario 3c): senders on a.test post to
//! recipients on a.test at a steady rate, with live streams on a.test. Run once while b.test
//! is down and nothing drains (unloaded) and once through the drain, at the same rate, it
//! shows whether forwarding a large outbox slows the sends a's own users make meanwhile: the
//! target is a send→stream p99 during the drain of at most twice the unloaded one.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::task::JoinHandle;

use crate::client::{self, Endpoint, Ident, Msg};
use crate::load::{self, Pace, SendOutcome, Tracker};
use crate::report::Report;
use crate::stats::Latencies;

/// How long the last local sends may take to reach their streams once the sends stop.
const SETTLE: Duration = Duration::from_secs(30);

/// a's local users and the rate they send at.
pub struct Local {
    /// On a.test; sender task `k` is identity `k`, one request in flight each.
    senders: Vec<Ident>,
    /// Recipients on a.test per phase (each phase its own, so that its poll finds only its
    /// own messages).
    recipients: Vec<Vec<Ident>>,
    /// Aggregate sends per second.
    rate: f64,
}

/// One phase of local sends, built and with its streams open before its clock starts.
pub struct Phase {
    /// What the report calls it (`unloaded`, `during_drain`).
    name: &'static str,
    /// Its recipients.
    recipients: Vec<Ident>,
    messages: Arc<Vec<Msg>>,
    tracker: Arc<Tracker>,
    streams: Vec<JoinHandle<Result<()>>>,
    /// No send starts after this long.
    longest: Duration,
}

impl Local {
    /// Registers `senders` senders and, for each of `phases` phases, `recipients` recipients on
    /// `a`.
    pub async fn register(
        a: &Endpoint,
        senders: usize,
        recipients: usize,
        phases: usize,
        rate: f64,
    ) -> Result<Local> {
        let senders = Ident::many("ls", senders.max(1), "a.test")?;
        client::register_all(a, &senders).await?;
        let mut all = Vec::with_capacity(phases);
        for phase in 0..phases {
            let idents = Ident::many(&format!("l{phase}r"), recipients.max(1), "a.test")?;
            client::register_all(a, &idents).await?;
            all.push(idents);
        }
        Ok(Local {
            senders,
            recipients: all,
            rate,
        })
    }

    /// Builds the sends of phase `index` (at most `longest` of them at the rate) and opens its
    /// recipients' streams on `a`.
    pub async fn prepare(
        &self,
        a: &Endpoint,
        index: usize,
        name: &'static str,
        longest: Duration,
    ) -> Result<Phase> {
        let recipients = self
            .recipients
            .get(index)
            .context("no recipients registered for this phase")?
            .clone();
        let count = ((self.rate * longest.as_secs_f64()).ceil() as usize).max(self.senders.len());
        let messages = Arc::new(client::build_messages(&self.senders, &recipients, count)?);
        let tracker = Arc::new(Tracker::new(&messages));
        let streams =
            load::open_all_streams(std::slice::from_ref(a), &recipients, None, &tracker).await?;
        Ok(Phase {
            name,
            recipients,
            messages,
            tracker,
            streams,
            longest,
        })
    }

    /// Starts the phase's clock and its sends, which go on until [`Phase::finish`] or its
    /// longest duration.
    pub fn start(&self, a: &Endpoint, phase: &Phase) -> JoinHandle<Result<SendOutcome>> {
        phase.tracker.start();
        let pace = Pace {
            tasks: self.senders.len(),
            rate: Some(self.rate),
            duration: phase.longest,
        };
        let (messages, tracker, a) = (phase.messages.clone(), phase.tracker.clone(), a.clone());
        tokio::spawn(async move {
            load::run_sends(messages, std::slice::from_ref(&a), pace, 201, tracker).await
        })
    }
}

impl Phase {
    /// Stops the sends, waits for their deliveries, checks them exactly once on `a`, and puts
    /// their send→stream latency into `report`.
    pub async fn finish(
        self,
        a: &Endpoint,
        sends: JoinHandle<Result<SendOutcome>>,
        report: &mut Report,
    ) -> Result<Latencies> {
        self.tracker.stop();
        let outcome = sends.await.context("local sender task")??;
        let all = self.tracker.wait_delivered(outcome.acked, SETTLE).await;
        // A short settle so that a late duplicate would still be seen by the check.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let latencies = self.tracker.latencies();
        let name = self.name;
        report.figure(&format!("local_{name}_sent"), outcome.sent);
        report.figure(&format!("local_{name}_latency"), &latencies);
        report.line(format!(
            "a.test local sends {name}: {} sent over {:.1} s, send -> stream {}",
            outcome.sent,
            outcome.send_seconds,
            latencies.line()
        ));
        if outcome.errors > 0 {
            report.problem(format!("{} local sends ({name}) failed", outcome.errors));
            for e in &outcome.first_errors {
                report.line(format!("error: {e}"));
            }
        }
        if !all {
            report.problem(format!(
                "only {} of {} local sends ({name}) reached the streams",
                self.tracker.delivered(),
                outcome.acked
            ));
        }
        let verification = load::verify(
            &self.tracker,
            &self.messages,
            &self.recipients,
            std::slice::from_ref(a),
        )
        .await?;
        for s in self.streams {
            s.abort();
        }
        load::check(&verification, report);
        Ok(latencies)
    }
}
