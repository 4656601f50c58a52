//! What a scenario is — a name to select it by (`--only NAME`), a sentence saying what it
//! proves, a timeout, and an async run function — and the runner that bounds it in time. A
//! scenario passes with the figures it measured (printed, never asserted beyond loose bounds)
//! or fails with the reason kezd did not hold.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use kez_conformance::Fail;

/// What a passing scenario measured, one figure per line (e.g. `RSS 41 → 44 MiB`).
pub type Figures = Vec<String>;

/// The result of a scenario.
pub type Outcome = Result<Figures, Fail>;

/// A boxed scenario future.
pub type RunFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What every scenario gets.
#[derive(Debug, Clone)]
pub struct Env {
    /// The kezd binary to start (each scenario starts its own, configured for its attack).
    pub kezd: PathBuf,
}

/// One attack.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// Its name, the file it lives in under `scenarios/`.
    pub name: &'static str,
    /// What kezd must do under it, one sentence.
    pub proves: &'static str,
    /// Bound on the whole scenario, kezd's start included.
    pub timeout: Duration,
    /// The attack.
    pub run: fn(Env) -> RunFuture,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .finish()
    }
}

/// A scenario's result and how long it took.
#[derive(Debug)]
pub struct Ran {
    /// Which scenario.
    pub name: &'static str,
    /// Passed with figures, or failed.
    pub outcome: Outcome,
    /// Wall time.
    pub took: Duration,
}

/// Runs `scenario`, failing it when it outlives its timeout (its kezd is killed as the
/// future is dropped).
pub async fn run(scenario: &Scenario, env: Env) -> Ran {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(scenario.timeout, (scenario.run)(env)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Fail::Fail(format!(
            "did not finish within its timeout of {:?}",
            scenario.timeout
        ))),
    };
    Ran {
        name: scenario.name,
        outcome,
        took: started.elapsed(),
    }
}
