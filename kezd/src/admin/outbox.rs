//! `kezd admin outbox …`: what waits to be delivered to other servers (SPEC §9.5, §9.6), per
//! destination, and ending a destination's backoff now — after its operator says it is back,
//! say, rather than waiting out an exponential backoff of hours.

use super::context::{Context, now_ms};
use super::request::{Failure, FailureKind, Outcome};

/// Each destination with pending messages or a backoff.
pub async fn show(context: &Context) -> Result<Outcome, Failure> {
    let destinations = context.store.destination_reports().await?;
    Ok(Outcome::Outbox { destinations })
}

/// Ends `server`'s backoff now, with the messages it put off, and wakes delivery.
pub async fn retry(context: &Context, server: &str) -> Result<Outcome, Failure> {
    let reports = context.store.destination_reports().await?;
    let Some(report) = reports.into_iter().find(|r| r.destination == server) else {
        return Err(Failure::new(
            FailureKind::NotFound,
            format!("nothing waits for {server} in the outbox"),
        ));
    };
    let woken = match report.retry_at_ms {
        Some(retry_at) => {
            context
                .store
                .outbox_wake(server, retry_at, now_ms())
                .await?
        }
        None => false,
    };
    if let Some(federate) = context.daemon().and_then(|state| state.federate()) {
        // This instance's memory of the backoff goes with it, and delivery looks now.
        federate.answered(server);
        federate.wake.notify_one();
    }
    let message = if woken {
        format!(
            "{server}: backoff ended; {} pending message(s) are due now",
            report.pending
        )
    } else {
        format!(
            "{server} was not backing off; {} pending message(s)",
            report.pending
        )
    };
    Ok(Outcome::Done {
        message,
        changed: woken,
    })
}
