//! Runs cases: expands each into jobs (one per server, per ordered pair, per spawned server
//! with a rogue, or per store of the spawned servers for own-node cases), runs the jobs in parallel up to a bound, each under its case's timeout and
//! with panics caught, and returns one [`Outcome`] per job in registry order.
//!
//! The jobs run as futures on the calling task (`buffer_unordered`), not as spawned tasks:
//! dropping the run (Ctrl-C) drops every case at once, releasing the testnet for teardown.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};

use crate::case::{Case, CaseFn, CaseFuture, Fail, Own, Pair, Rogue, Single};
use crate::env::Env;

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The server did what the SPEC says.
    Pass,
    /// It did not (or could not be asked).
    Fail,
    /// The case does not apply here; the reason says why.
    Skip,
}

impl Status {
    /// `pass`, `fail` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// The result of one job.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The case id.
    pub id: &'static str,
    /// The case's SPEC sections.
    pub sections: &'static [&'static str],
    /// The case's description.
    pub description: &'static str,
    /// What it ran against: `a.test`, `a.test→b.test`.
    pub target: String,
    /// Pass, fail or skip.
    pub status: Status,
    /// Why it failed or skipped (empty on pass).
    pub reason: String,
    /// How long it took.
    pub duration: Duration,
}

/// One case against one target.
struct Job {
    order: usize,
    case: Case,
    target: String,
    run: JobRun,
}

enum JobRun {
    Go(CaseFuture),
    Done(Status, String),
}

/// Expands `cases` over `env`'s targets.
fn jobs(env: &Arc<Env>, cases: &[Case]) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut push = |case: &Case, target: String, run: JobRun| {
        jobs.push(Job {
            order: jobs.len(),
            case: case.clone(),
            target,
            run,
        });
    };
    for case in cases {
        match case.run {
            CaseFn::Single(f) => {
                for t in env.targets.iter().take(env.single_targets) {
                    let run = match &t.server {
                        Ok(server) => JobRun::Go(f(Single {
                            env: env.clone(),
                            server: server.clone(),
                        })),
                        Err(e) => JobRun::Done(Status::Fail, e.clone()),
                    };
                    push(case, t.label.clone(), run);
                }
            }
            CaseFn::Pair(f) => {
                if env.targets.len() < 2 {
                    push(
                        case,
                        "-".into(),
                        JobRun::Done(
                            Status::Skip,
                            "needs two servers (--server twice, or --spawn 2)".into(),
                        ),
                    );
                }
                for a in &env.targets {
                    for b in &env.targets {
                        if std::ptr::eq(a, b) {
                            continue;
                        }
                        let label = format!("{}→{}", a.label, b.label);
                        let run = match (&a.server, &b.server) {
                            (Ok(sa), Ok(sb)) => JobRun::Go(f(Pair {
                                env: env.clone(),
                                a: sa.clone(),
                                b: sb.clone(),
                            })),
                            (Err(e), _) | (_, Err(e)) => JobRun::Done(Status::Fail, e.clone()),
                        };
                        push(case, label, run);
                    }
                }
            }
            CaseFn::Rogue(f) => match &env.testnet {
                None => push(
                    case,
                    "-".into(),
                    JobRun::Done(
                        Status::Skip,
                        "needs the rogue peer, which runs on a spawned testnet only (--spawn)"
                            .into(),
                    ),
                ),
                Some(net) => {
                    for t in env.targets.iter().take(env.single_targets) {
                        let run = match &t.server {
                            Ok(server) => JobRun::Go(f(Rogue {
                                env: env.clone(),
                                server: server.clone(),
                                net: net.clone(),
                            })),
                            Err(e) => JobRun::Done(Status::Fail, e.clone()),
                        };
                        push(case, t.label.clone(), run);
                    }
                }
            },
            CaseFn::Own(f) => match &env.own {
                None => push(
                    case,
                    "-".into(),
                    JobRun::Done(
                        Status::Skip,
                        "needs a node of its own, configured by the suite and restarted in \
                         place (--spawn)"
                            .into(),
                    ),
                ),
                Some(own) => {
                    for (label, backend) in own.backends() {
                        let run = JobRun::Go(f(Own {
                            env: env.clone(),
                            backend: backend.clone(),
                        }));
                        push(case, label, run);
                    }
                }
            },
        }
    }
    jobs
}

/// Runs `cases` against `env`, at most `parallel` jobs at a time.
pub async fn run(env: &Arc<Env>, cases: &[Case], parallel: usize) -> Vec<Outcome> {
    let jobs = jobs(env, cases);
    let mut outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(jobs)
        .map(|job| async move {
            let order = job.order;
            (order, run_job(job).await)
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    outcomes.sort_by_key(|(order, _)| *order);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

async fn run_job(job: Job) -> Outcome {
    let started = Instant::now();
    let (status, reason) = match job.run {
        JobRun::Done(status, reason) => (status, reason),
        JobRun::Go(future) => {
            let guarded = AssertUnwindSafe(future).catch_unwind();
            match tokio::time::timeout(job.case.timeout, guarded).await {
                Err(_) => (
                    Status::Fail,
                    format!("the case did not finish within {:?}", job.case.timeout),
                ),
                Ok(Err(panic)) => (Status::Fail, format!("panic: {}", panic_text(&panic))),
                Ok(Ok(Ok(()))) => (Status::Pass, String::new()),
                Ok(Ok(Err(Fail::Fail(reason)))) => (Status::Fail, reason),
                Ok(Ok(Err(Fail::Skip(reason)))) => (Status::Skip, reason),
            }
        }
    };
    Outcome {
        id: job.case.id,
        sections: job.case.sections,
        description: job.case.description,
        target: job.target,
        status,
        reason,
        duration: started.elapsed(),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
