//! Graceful shutdown as one cloneable handle: the accept loop triggers it once, and every
//! connection, background task and long-lived stream selects on [`Shutdown::signalled`], so a
//! stop reaches all of them without any of them polling a flag.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// The stop signal. Cloning shares it; triggering any clone triggers all.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// `true` once triggered; a watch channel, so late subscribers still see it.
    sender: Arc<watch::Sender<bool>>,
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Shutdown {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Triggers the signal; idempotent.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the signal was triggered.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Completes once the signal is triggered (at once if it already was). The future owns
    /// what it needs, so it can be stored in a stream's state or moved into a task:
    ///
    /// ```
    /// # async fn demo(shutdown: kezd::shutdown::Shutdown) {
    /// let stop = shutdown.signalled();
    /// tokio::pin!(stop);
    /// loop {
    ///     tokio::select! {
    ///         _ = &mut stop => break,
    ///         _ = tokio::time::sleep(std::time::Duration::from_secs(15)) => { /* keep-alive */ }
    ///     }
    /// }
    /// # }
    /// ```
    pub fn signalled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            // The sender lives as long as any Shutdown clone; if all are gone, nobody can
            // trigger any more, and stopping is the right answer too.
            let _ = receiver.wait_for(|triggered| *triggered).await;
        }
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

/// Completes on SIGINT or SIGTERM (Ctrl-C elsewhere): what the binary passes to `serve`.
pub async fn os_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn every_clone_and_late_subscriber_sees_the_signal() {
        let shutdown = Shutdown::new();
        let early = shutdown.signalled();
        let clone = shutdown.clone();
        assert!(!clone.is_triggered());
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(1), early)
            .await
            .expect("an early waiter wakes");
        tokio::time::timeout(Duration::from_secs(1), clone.signalled())
            .await
            .expect("a late waiter completes at once");
        assert!(clone.is_triggered());
    }
}
