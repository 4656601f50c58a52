//! When a connection is idle: no request is being answered on it. A connection counts its
//! requests from the moment hyper hands one to the service until the response body is
//! dropped (fully written, or abandoned by a reset), so an open HTTP/2 live stream keeps its
//! connection busy for as long as it lasts. The connection closes one that has been idle for
//! `[http] idle_timeout_ms` (gracefully: HTTP/2 sends GOAWAY), so a peer that keeps a
//! connection open and does nothing — which HTTP/2 pings alone never catch, since a live peer
//! answers them — cannot hold a connection slot forever.
//!
//! HTTP/1.1 keep-alive connections are also closed sooner by hyper's header timeout: after a
//! response, hyper waits for the next request head under `[http] header_read_timeout_ms`.

use tokio::sync::watch;

/// One connection's count of requests in progress.
pub struct Activity {
    busy: watch::Sender<usize>,
}

/// One request in progress; dropping it ends it.
pub struct Busy {
    busy: watch::Sender<usize>,
}

impl Activity {
    /// A connection with nothing in progress.
    pub fn new() -> Self {
        Activity {
            busy: watch::Sender::new(0),
        }
    }

    /// Counts a request as in progress until the returned [`Busy`] is dropped.
    pub fn begin(&self) -> Busy {
        self.busy.send_modify(|n| *n += 1);
        Busy {
            busy: self.busy.clone(),
        }
    }

    /// Watches the count: the connection re-arms its idle timer when it falls to zero.
    pub fn watch(&self) -> watch::Receiver<usize> {
        self.busy.subscribe()
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.busy.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_follows_requests_and_their_bodies() {
        let activity = Activity::new();
        let watch = activity.watch();
        let first = activity.begin();
        let body = crate::body::Holding::new(crate::body::empty(), activity.begin());
        assert_eq!(*watch.borrow(), 2);
        drop(first);
        assert_eq!(*watch.borrow(), 1);
        drop(body);
        assert_eq!(*watch.borrow(), 0);
    }
}
