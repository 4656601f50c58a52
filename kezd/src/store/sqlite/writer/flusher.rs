//! Group commit with the flush beside the writer: a committed batch's answers wait for an
//! fsync of the log on a thread of their own, while the writer already runs the next batch.
//!
//! Why: with `synchronous=FULL`, SQLite fsyncs the log inside every COMMIT, and the single
//! writer does nothing else meanwhile; with 64 senders waiting on each other's commits, that
//! fsync bounded a send rate the cores could otherwise carry (docs/BENCHMARKS.md: 12,400/s
//! with the fsync in the commit, 16,100/s without it, same CPU per send). So the write
//! connection runs `synchronous=NORMAL` (SQLite writes the log's frames at COMMIT and fsyncs
//! it only before a checkpoint) and this thread fsyncs the log file after each commit,
//! answering a batch only once an fsync that began after its COMMIT returned has completed.
//! One fsync answers every batch committed before it began — the group commit of SPEC §8.6,
//! pipelined.
//!
//! What holds: an answer still means "on stable storage". A power loss can only take back
//! batches nobody was answered for: SQLite's log recovery keeps a prefix of whole transactions
//! (its frames carry a running checksum), and every answered batch is in that prefix. What is
//! weaker than `FULL`: another connection may read a batch in the fraction of a millisecond
//! between its COMMIT and the fsync; only a power loss in that window can take back what such
//! a reader saw (its sender was never answered, and a retry is accepted again).
//!
//! A failed fsync is not retried: the kernel may have dropped the pages it could not write
//! and report the next fsync as clean. The batch and every later one are answered with the
//! failure, so nothing is acknowledged until kezd restarts and SQLite recovers the log.

use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use super::Answer;

/// Hands committed batches' answers to the flushing thread.
pub(in crate::store::sqlite) struct Flusher {
    batches: Sender<Vec<Answer>>,
    thread: JoinHandle<()>,
}

impl Flusher {
    /// Starts the thread; `flush` makes everything written to the log so far durable (an
    /// fsync of the log file).
    pub(in crate::store::sqlite) fn spawn(
        flush: impl FnMut() -> io::Result<()> + Send + 'static,
    ) -> io::Result<Self> {
        let (batches, queue) = channel();
        let thread = std::thread::Builder::new()
            .name("kezd-log-flush".into())
            .spawn(move || run(queue, flush))?;
        Ok(Flusher { batches, thread })
    }

    /// Answers what was handed over and stops the thread: before the write connection
    /// closes, so that every batch is flushed through the log it was written to.
    pub(super) async fn close(self) {
        let Flusher { batches, thread } = self;
        drop(batches);
        if tokio::task::spawn_blocking(move || thread.join())
            .await
            .is_err()
        {
            tracing::error!("the log flushing thread failed");
        }
    }

    /// Answers `answers` once the log is flushed past the commit that just returned.
    pub(super) fn answer_when_flushed(&self, answers: Vec<Answer>) {
        if let Err(returned) = self.batches.send(answers) {
            // The thread is gone (it only stops when dropped, or by a panic): nothing can be
            // confirmed durable, so the callers are told so rather than left waiting.
            let error = flush_failure(io::Error::other("the log flushing thread is gone"));
            returned.0.into_iter().for_each(|a| a.fail(&error).send());
        }
    }
}

fn run(queue: Receiver<Vec<Answer>>, mut flush: impl FnMut() -> io::Result<()>) {
    let mut failed: Option<Arc<sqlx::Error>> = None;
    // Each pass takes every batch committed so far, then one fsync answers them all.
    while let Ok(first) = queue.recv() {
        let mut waiting = first;
        while let Ok(more) = queue.try_recv() {
            waiting.extend(more);
        }
        if failed.is_none()
            && let Err(error) = flush()
        {
            tracing::error!(
                %error,
                "flushing the database log failed; no write is acknowledged until kezd restarts"
            );
            failed = Some(flush_failure(error));
        }
        match &failed {
            None => waiting.into_iter().for_each(Answer::send),
            Some(error) => waiting.into_iter().for_each(|a| a.fail(error).send()),
        }
    }
}

fn flush_failure(error: io::Error) -> Arc<sqlx::Error> {
    Arc::new(sqlx::Error::Io(error))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;
    use crate::store::StoreError;

    fn answer() -> (Answer, oneshot::Receiver<Result<u64, StoreError>>) {
        let (tx, rx) = oneshot::channel();
        (Answer::Count(tx, Ok(1)), rx)
    }

    /// Waits for a step of the flushing thread, failing the test rather than hanging it.
    fn next(steps: &Receiver<()>, what: &str) {
        steps
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what}"));
    }

    /// No answer leaves before the flush that covers it has returned; one flush answers every
    /// batch handed over before it began.
    #[tokio::test]
    async fn answers_wait_for_the_flush() {
        // Each flush says it began, then blocks until the test lets it return (one permit per
        // flush), then says it returned: the test decides what each flush finds waiting.
        let (permit, permits) = sync_channel::<()>(0);
        let (began, starts) = channel::<()>();
        let (flushed, flushes) = channel::<()>();
        let flusher = Flusher::spawn(move || {
            began.send(()).map_err(io::Error::other)?;
            permits.recv().map_err(io::Error::other)?;
            flushed.send(()).map_err(io::Error::other)
        })
        .expect("thread");
        let (first, mut first_rx) = answer();
        flusher.answer_when_flushed(vec![first]);
        next(&starts, "the first flush begins");
        // Two batches handed over while the first flush runs: neither is covered by it.
        let (second, mut second_rx) = answer();
        let (third, mut third_rx) = answer();
        flusher.answer_when_flushed(vec![second]);
        flusher.answer_when_flushed(vec![third]);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(first_rx.try_recv().is_err(), "answered before the flush");
        permit.send(()).expect("flush runs");
        next(&flushes, "the first flush returns");
        assert!(matches!(first_rx.await, Ok(Ok(1))));
        next(&starts, "the second flush begins");
        assert!(
            second_rx.try_recv().is_err(),
            "answered by an earlier flush"
        );
        assert!(third_rx.try_recv().is_err(), "answered by an earlier flush");
        permit.send(()).expect("flush runs");
        assert!(second_rx.await.expect("answered").is_ok());
        assert!(third_rx.await.expect("answered").is_ok());
        next(&flushes, "the second flush returns");
        assert!(
            starts.try_recv().is_err(),
            "one flush for both batches handed over during the first"
        );
        // Closing answers what is still waiting, after its flush.
        let (last, last_rx) = answer();
        flusher.answer_when_flushed(vec![last]);
        next(&starts, "the last flush begins");
        let closing = tokio::spawn(flusher.close());
        permit.send(()).expect("flush runs");
        closing.await.expect("closed");
        assert!(last_rx.await.expect("answered").is_ok());
    }

    /// A failed flush fails its batch and every later one, without flushing again.
    #[tokio::test]
    async fn a_failed_flush_fails_everything_after_it() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let flusher = Flusher::spawn(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(io::Error::other("disk gone"))
        })
        .expect("thread");
        for _ in 0..3 {
            let (a, rx) = answer();
            flusher.answer_when_flushed(vec![a]);
            assert!(matches!(
                rx.await.expect("answered"),
                Err(StoreError::BatchFailed(_))
            ));
        }
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "never flushed again after a failure"
        );
    }
}
