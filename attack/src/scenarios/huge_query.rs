//! Huge query strings and paths: a request line far over kezd's head limit, a query of
//! hundreds of parameters within it, and a path segment of thousands of characters where a
//! handle is expected. kezd must refuse each (4xx or a close for what is over the head limit,
//! 400/401 with the SPEC §10 body for what it parses) promptly, never hang or answer 5xx.

use std::time::Duration;

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "huge_query",
    proves: "a 100 KB request line is refused or closed; hundreds of query parameters and a \
             7 KB handle get a §10 400/401, promptly",
    timeout: Duration::from_secs(60),
    run,
};

/// Bound on each exchange.
const WITHIN: Duration = Duration::from_secs(5);

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, &[]).await?;
    let host = daemon.host();
    let get = |target: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
    };
    let mut figures = Vec::new();

    let over_limit = format!("/v1/healthz?q={}", "a".repeat(100 * 1024));
    let reply = wire::exchange(ATTACKER, daemon.addr(), &get(&over_limit), WITHIN).await?;
    reply.expect_refused("a 100 KB request line")?;
    figures.push(format!("100 KB request line: {}", reply.describe()));

    // Within the head limit, so kezd itself parses them.
    let params: Vec<String> = (0..600).map(|i| format!("since={i}")).collect();
    let parsed = [
        (
            "600 query parameters on a poll",
            format!("/v1/inbox/alice?{}", params.join("&")),
            &[400u16, 401][..],
        ),
        (
            "a 7,000-character handle",
            format!("/v1/u/{}", "a".repeat(7000)),
            &[400][..],
        ),
        (
            "a 7,000-character server name",
            format!("/v1/u/bob@{}.test", "a".repeat(7000)),
            &[400][..],
        ),
    ];
    for (what, target, statuses) in parsed {
        let reply = wire::exchange(ATTACKER, daemon.addr(), &get(&target), WITHIN).await?;
        match &reply {
            Reply::Answer(answer)
                if statuses.contains(&answer.status) && answer.error_code().is_some() => {}
            other => fail!(
                "{what}: expected {statuses:?} with a §10 body, got {}",
                other.describe()
            ),
        }
        figures.push(format!("{what}: {}", reply.describe()));
    }
    daemon
        .check_alive()
        .await
        .map_err(|e| Fail::Fail(format!("after the huge queries: {e}")))?;
    Ok(figures)
}
