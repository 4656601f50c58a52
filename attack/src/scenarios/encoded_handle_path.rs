//! Percent-encoded handles in paths: `GET /v1/inbox/%61lice` with alice's valid credential. A
//! credential binds the path as sent (SPEC §7.7), and a path segment is never percent-decoded
//! into a handle: a segment that is not a valid handle as sent is refused like any invalid
//! handle, 401 `unauthorized` where a credential is checked (§7.1). The same credential on the
//! plain path is accepted, so the refusal is about the spelling, not the credential.

use std::time::Duration;

use kez_conformance::sse::Sse;
use kez_conformance::user::User;
use kez_spec::auth::AuthRequest;
use reqwest::Method;

use crate::daemon::Daemon;
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use kez_conformance::fail;

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "encoded_handle_path",
    proves: "/v1/inbox/%61lice (poll and stream) with alice's credential gets 401 \
             unauthorized, while the plain path with the same credential is served",
    timeout: Duration::from_secs(30),
    run,
};

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let daemon = Daemon::start(&env.kezd, &[]).await?;
    let user = User::registered(daemon.server()).await?;
    let handle = user.handle.as_str();
    // The first character percent-encoded: the same handle once decoded.
    let Some(first) = handle.bytes().next() else {
        fail!("an empty handle");
    };
    let encoded = format!("%{first:02X}{}", &handle[1..]);

    let poll = user.credential(AuthRequest::Poll {
        handle: &user.handle,
        since: 0,
    });
    let plain = user
        .server
        .get_with(&format!("/v1/inbox/{handle}"), &[("x-kez-auth", &poll)])
        .await?;
    if plain.status != 200 {
        fail!(
            "the control poll on /v1/inbox/{handle} answered {}",
            plain.status
        );
    }
    user.server
        .get_with(&format!("/v1/inbox/{encoded}"), &[("x-kez-auth", &poll)])
        .await?
        .expect_error(401, "unauthorized")?;

    let live = user.credential(AuthRequest::StreamLive {
        handle: &user.handle,
    });
    // Opened as a stream: on a server that accepts it, the answer never ends.
    let path = format!("/v1/inbox/{encoded}/stream?auth={live}");
    Sse::open(&user.server, Method::GET, &path, &[])
        .await?
        .into_resp()
        .await?
        .expect_error(401, "unauthorized")?;
    daemon.check_alive().await?;
    Ok(vec![format!(
        "GET /v1/inbox/{encoded} and /v1/inbox/{encoded}/stream with {handle}'s credentials: \
         401 unauthorized"
    )])
}
