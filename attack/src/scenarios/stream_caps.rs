//! Stream caps: live streams (`GET /v1/inbox/{handle}/stream`, SPEC §8.5) held open past
//! `[stream] max_per_handle` for one handle and past `[stream] max_per_address` from one
//! address. The stream over either cap gets 429 with `Retry-After` and the §10 JSON body, while
//! the same handle's stream from another address is still served when only the address cap
//! was reached.

use std::sync::Arc;
use std::time::Duration;

use kez_conformance::server::{Resp, Server, check_error_shape};
use kez_conformance::sse::Sse;
use kez_conformance::user::User;
use kez_conformance::{Fail, fail};

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::HONEST;

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "stream_caps",
    proves: "a stream past [stream] max_per_handle or max_per_address gets 429 JSON with \
             Retry-After; another address is not affected by the address cap",
    timeout: Duration::from_secs(60),
    run,
};

/// Streams one handle may hold (configured).
const PER_HANDLE: usize = 2;
/// Streams one address may hold (configured): two handles' worth.
const PER_ADDRESS: usize = 4;

const SETTINGS: &[(&str, &str)] = &[
    ("stream.max_per_handle", "2"),
    ("stream.max_per_address", "4"),
];

/// The codes a stream cap may answer with: the agreed one, or §8.5's `rate_limited`.
const CODES: &[&str] = &["too_many_streams", "rate_limited"];

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let server = daemon.server().clone();
    let users = [
        User::registered(&server).await?,
        User::registered(&server).await?,
        User::registered(&server).await?,
    ];
    let mut open: Vec<Sse> = Vec::new();

    // One handle up to its cap, then one more.
    for _ in 0..PER_HANDLE {
        open.push(open_ok(&users[0]).await?);
    }
    let over_handle = users[0].stream(None).await?.into_resp().await?;
    expect_cap(&over_handle, "a stream past max_per_handle")?;

    // Another handle fills the address's cap; a third handle is then refused.
    for _ in 0..PER_ADDRESS - PER_HANDLE {
        open.push(open_ok(&users[1]).await?);
    }
    let over_address = users[2].stream(None).await?.into_resp().await?;
    expect_cap(&over_address, "a stream past max_per_address")?;

    // The third handle from another address is under both caps.
    let elsewhere: Arc<Server> = daemon.server_from(HONEST).await?;
    let honest = User {
        server: elsewhere,
        ..users[2].clone()
    };
    let from_honest = honest.stream(None).await?;
    if from_honest.status != 200 {
        let resp = from_honest.into_resp().await?;
        fail!(
            "a stream from {HONEST} after {PER_ADDRESS} streams from the attacker's address: \
             {} {:?}",
            resp.status,
            resp.code()
        );
    }
    drop(open);
    daemon.check_alive().await?;
    Ok(vec![format!(
        "stream {} for one handle and stream {} from one address: 429 {:?} / {:?}; from \
         {HONEST}: 200",
        PER_HANDLE + 1,
        PER_ADDRESS + 1,
        over_handle.code().unwrap_or_default(),
        over_address.code().unwrap_or_default()
    )])
}

/// Opens a live stream and fails unless it is accepted.
async fn open_ok(user: &User) -> Result<Sse, Fail> {
    user.stream(None).await?.expect_open().await
}

/// Fails unless `resp` is a 429 §10 error of [`CODES`] with `Retry-After` in seconds.
fn expect_cap(resp: &Resp, what: &str) -> Result<(), Fail> {
    let code = resp.code();
    if resp.status != 429 || !code.as_deref().is_some_and(|c| CODES.contains(&c)) {
        fail!(
            "{what}: expected 429 {CODES:?}, got {} {}",
            resp.status,
            code.unwrap_or_else(|| "(no §10 code)".into())
        );
    }
    check_error_shape(resp)?;
    if resp
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .is_none()
    {
        fail!("{what}: 429 without Retry-After in seconds");
    }
    Ok(())
}
