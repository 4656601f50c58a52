//! The writer's count of committed transactions, shared with the readers that poll: a
//! reader that took the count before it read the database, and finds it unchanged later,
//! knows nothing was written in between and can skip its next read. The checkpointer skips
//! its pass on a quiet store, and a live stream's keep-alive check skips its inbox read
//! (through [`Store::local_commits`](crate::store::Store::local_commits)), so an idle daemon
//! does not keep reading a database that does not change.
//!
//! Sound because the writer is the only one that writes (see writer.rs) and counts a
//! transaction only after its COMMIT returned: a transaction counted after a reader took the
//! count changes the count that reader compares with; one counted before was committed
//! before the reader's read began, which therefore saw it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Committed write transactions since the store opened.
#[derive(Debug, Clone, Default)]
pub(super) struct Commits(Arc<AtomicU64>);

impl Commits {
    /// Counts a transaction whose COMMIT has returned.
    pub(super) fn count(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    /// The count now.
    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}
