//! The last check on a message the store has found to be new: the send rate limits.
//!
//! Why the store runs it: a resend of a message already accepted must be answered as the
//! duplicate it is without using up its sender's quota (SPEC §8.1, §8.7), and only the store
//! knows, at the moment it writes, whether an id is new. Running the limits there, rather than
//! looking the id up before every send, spares each send a database read while keeping the
//! rule exact: a duplicate never reaches the check, and a refused message is not written.
//!
//! The store knows nothing of the limits themselves: a check answers with a [`Refusal`], the
//! store's own account of it, which the caller turns back into its answer.

use std::fmt;
use std::time::Duration;

/// Why an admission check refused a message: the name of the limit that was reached and when
/// a message can next succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {limit} limit is reached; retry after {retry_after:?}")]
pub struct Refusal {
    /// The limit's name (SPEC §11), as logs and the error message name it.
    pub limit: &'static str,
    /// How long to wait.
    pub retry_after: Duration,
}

/// A check run once, just before a new message is written; its refusal is returned as
/// [`StoreError::Refused`](super::StoreError::Refused) and nothing of the message is stored.
pub struct Admission(Box<dyn FnOnce() -> Result<(), Refusal> + Send>);

impl Admission {
    /// A check that runs `check`.
    pub fn new(check: impl FnOnce() -> Result<(), Refusal> + Send + 'static) -> Self {
        Self(Box::new(check))
    }

    /// Admits every new message.
    pub fn always() -> Self {
        Self::new(|| Ok(()))
    }

    /// Runs the check.
    pub(crate) fn check(self) -> Result<(), Refusal> {
        (self.0)()
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Admission")
    }
}
