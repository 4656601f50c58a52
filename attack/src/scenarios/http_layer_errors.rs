//! HTTP-layer errors: requests that break HTTP/1.1 itself — a head over kezd's size limit, a
//! malformed request line, a NUL byte in a header, two different `Content-Length`s. kezd (or
//! hyper under it) must answer 4xx or close the connection, never hang and never take the
//! request as valid; an oversize head gets 431. Answers hyper writes before a request exists
//! may have no body (SPEC §10 allows it, deploy/README.md lists them); an answer that has a
//! body must be the §10 JSON.

use std::time::Duration;

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "http_layer_errors",
    proves: "a 104 KiB head gets 431; a bad request line, a NUL byte and two Content-Lengths \
             get a 4xx or a close, never a hang or a 2xx/5xx; any error body is §10 JSON",
    timeout: Duration::from_secs(60),
    run,
};

/// Bound on each exchange: an answer or a close must come well within it.
const WITHIN: Duration = Duration::from_secs(5);

/// The oversize head: this many headers of 8 KiB each, 104 KiB in all — over hyper's 8 KiB
/// read buffer kezd configures today and over any head limit a server sets, so it is refused
/// whatever limit kezd chooses.
const BIG_HEADERS: usize = 13;
const OVERSIZE: usize = BIG_HEADERS * 8 * 1024;

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, &[]).await?;
    let host = daemon.host();
    let mut figures = Vec::new();
    let mut failures = Vec::new();

    let big: String = (0..BIG_HEADERS)
        .map(|i| format!("X-Big-{i}: {}\r\n", "a".repeat(8 * 1024 - 12)))
        .collect();
    let oversize = format!("GET /v1/healthz HTTP/1.1\r\nHost: {host}\r\n{big}\r\n");
    let reply = wire::exchange(ATTACKER, daemon.addr(), oversize.as_bytes(), WITHIN).await?;
    let mut answers = vec![("a 104 KiB head", reply.clone())];
    match &reply {
        Reply::Answer(answer) if answer.status == 431 => {}
        other => failures.push(format!(
            "a {OVERSIZE}-byte head: expected 431, got {}",
            other.describe()
        )),
    }
    figures.push(format!("oversize head: {}", reply.describe()));

    let malformed: [(&str, Vec<u8>); 5] = [
        (
            "a request line with a fourth part",
            format!("GET /v1/healthz HTTP/1.1 extra\r\nHost: {host}\r\n\r\n").into_bytes(),
        ),
        (
            "a request line of binary garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
        ),
        (
            "a NUL byte in a header value",
            format!("GET /v1/healthz HTTP/1.1\r\nHost: {host}\r\nX-Nul: a\0b\r\n\r\n").into_bytes(),
        ),
        (
            "a NUL byte in the path",
            format!("GET /v1/u/al\0ice HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        ),
        (
            "two different Content-Lengths",
            format!(
                "POST /v1/register HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                 Content-Length: 2\r\nContent-Length: 40\r\n\r\n{{}}"
            )
            .into_bytes(),
        ),
    ];
    for (what, request) in malformed {
        let reply = wire::exchange(ATTACKER, daemon.addr(), &request, WITHIN).await?;
        if let Err(Fail::Fail(reason) | Fail::Skip(reason)) = reply.expect_refused(what) {
            failures.push(reason);
        }
        figures.push(format!("{what}: {}", reply.describe()));
        answers.push((what, reply));
    }
    for (what, reply) in &answers {
        if let Reply::Answer(answer) = reply
            && !answer.body.is_empty()
            && answer.error_code().is_none()
        {
            failures.push(format!(
                "{what}: a {} with a body that is not the §10 JSON: {}",
                answer.status,
                wire::excerpt(&answer.body)
            ));
        }
    }
    if !failures.is_empty() {
        fail!("{}", failures.join("; "));
    }
    daemon.check_alive().await?;
    Ok(figures)
}
