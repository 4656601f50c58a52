//! Request smuggling shapes: a request whose body length two parsers could disagree on (both
//! `Content-Length` and `Transfer-Encoding: chunked`, obfuscated `Transfer-Encoding` values, a
//! chunk size with junk), with a second request hidden where one reading sees body and another
//! sees the next request. Behind a proxy that reads it the other way, that hidden request would
//! run as someone else's. kezd must refuse the ambiguous request (4xx or close) or read it one
//! way and close the connection, so the hidden request is never answered.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Reply};
use kez_conformance::{Fail, fail};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "request_smuggling",
    proves: "requests with ambiguous body framing are refused or closed, never answered with a \
             hidden second request, never left hanging",
    timeout: Duration::from_secs(60),
    run,
};

/// Bound on the first answer (the body deadline below plus a margin).
const WITHIN: Duration = Duration::from_secs(8);

/// How long a hidden second answer is waited for after the first: it would come at once.
const HIDDEN_WITHIN: Duration = Duration::from_secs(2);

const SETTINGS: &[(&str, &str)] = &[("http.body_timeout_ms", "2000")];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let host = daemon.host();
    // The request a proxy reading the framing differently would forward as a separate one.
    let hidden = format!("GET /v1/u/smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let post = |framing: &str, body: &str| {
        format!(
            "POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             {framing}\r\n\r\n{body}"
        )
    };
    let chunked_end = format!("0\r\n\r\n{hidden}");
    let shapes = [
        (
            "Content-Length and Transfer-Encoding: chunked",
            post(
                &format!(
                    "Content-Length: {}\r\nTransfer-Encoding: chunked",
                    chunked_end.len()
                ),
                &chunked_end,
            ),
        ),
        (
            "Transfer-Encoding: chunked and Content-Length",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 3",
                &format!("0\r\n\r\n{hidden}"),
            ),
        ),
        (
            "Transfer-Encoding: xchunked",
            post(
                &format!(
                    "Transfer-Encoding: xchunked\r\nContent-Length: {}",
                    chunked_end.len()
                ),
                &chunked_end,
            ),
        ),
        (
            "Transfer-Encoding: chunked, identity",
            post("Transfer-Encoding: chunked, identity", &chunked_end),
        ),
        (
            "two Transfer-Encoding headers",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity",
                &chunked_end,
            ),
        ),
        (
            "a chunk size with junk after it",
            post(
                "Transfer-Encoding: chunked",
                &format!("0x0\r\n\r\n{hidden}"),
            ),
        ),
    ];
    let mut figures = Vec::new();
    let mut failures = Vec::new();
    for (what, request) in shapes {
        let mut stream = wire::connect_from(ATTACKER, daemon.addr(), None)
            .await
            .map_err(|e| Fail::Fail(format!("connecting: {e}")))?;
        let _ = stream.write_all(request.as_bytes()).await;
        let first = wire::read_reply(&mut stream, Instant::now() + WITHIN).await;
        let second = match first {
            Reply::Answer(_) => wire::read_reply(&mut stream, Instant::now() + HIDDEN_WITHIN).await,
            _ => Reply::Closed,
        };
        figures.push(format!("{what}: {}", first.describe()));
        match (&first, &second) {
            (Reply::Silent, _) => failures.push(format!("{what}: no answer and not closed")),
            (Reply::Answer(a), _) if a.status >= 500 => {
                failures.push(format!("{what}: {}", first.describe()));
            }
            (_, Reply::Answer(hidden)) => failures.push(format!(
                "{what}: the hidden request was answered ({})",
                hidden.status
            )),
            _ => {}
        }
    }
    if !failures.is_empty() {
        fail!("{}", failures.join("; "));
    }
    daemon.check_alive().await?;
    Ok(figures)
}
