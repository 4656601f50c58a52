//! Deep and wide JSON: request bodies within the size limit that are costly to parse — arrays
//! and objects nested a hundred thousand deep (a recursive parser's stack), and one object with
//! thousands of members (a strict parser's duplicate check, §3.3). kezd must answer
//! each promptly with 400 and the SPEC §10 body, and keep serving: no stack overflow, no stall.

use std::time::Duration;

use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Reply};
use kez_conformance::fail;

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "deep_json",
    proves: "bodies nested up to 100,000 deep or with thousands of members get a prompt 400 with a §10 body \
             on send and registration, and kezd keeps serving",
    timeout: Duration::from_secs(60),
    run,
};

/// Bound on each answer: parsing 256 KB, however shaped, is milliseconds.
const WITHIN: Duration = Duration::from_secs(5);

/// Nesting depth (one byte a level, within the 262,144-byte send limit).
const DEPTH: usize = 100_000;

/// Members of the wide object sent (about 15 bytes each, within the send limit).
const MEMBERS: usize = 15_000;

/// Nesting depth and members for registration, within its limit `max_body_bytes` (262,144).
const REGISTER_DEPTH: usize = 60_000;
const REGISTER_MEMBERS: usize = 4_000;

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, &[]).await?;
    let arrays = "[".repeat(DEPTH);
    let objects = "{\"a\":".repeat(DEPTH / 5);
    let in_envelope = format!("{{\"to\":\"bob\",\"envelope\":{}", "[".repeat(DEPTH));
    let bodies = [
        ("/v1/messages", "arrays nested 100,000 deep", arrays),
        ("/v1/messages", "objects nested 20,000 deep", objects),
        (
            "/v1/messages",
            "an envelope nested 100,000 deep",
            in_envelope,
        ),
        ("/v1/messages", "an object of 15,000 members", wide(MEMBERS)),
        (
            "/v1/register",
            "arrays nested 60,000 deep",
            "[".repeat(REGISTER_DEPTH),
        ),
        (
            "/v1/register",
            "an object of 4,000 members",
            wide(REGISTER_MEMBERS),
        ),
    ];
    let mut figures = Vec::new();
    for (path, shape, body) in bodies {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            daemon.host(),
            body.len()
        );
        let started = Instant::now();
        let reply = wire::exchange(ATTACKER, daemon.addr(), request.as_bytes(), WITHIN).await?;
        let what = format!("POST {path} with {shape}");
        match &reply {
            Reply::Answer(answer) => {
                answer.expect_error(&what, 400, &["malformed_request", "duplicate_member"])?
            }
            other => fail!("{what}: {}", other.describe()),
        }
        figures.push(format!("{what}: 400 in {:?}", started.elapsed()));
    }
    daemon.check_alive().await?;
    Ok(figures)
}

/// `{"m0":0,"m1":1,…}` with `n` members.
fn wide(n: usize) -> String {
    let members: Vec<String> = (0..n).map(|i| format!("\"m{i}\":{i}")).collect();
    format!("{{{}}}", members.join(","))
}
