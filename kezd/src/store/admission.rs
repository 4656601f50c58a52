//! The last check on a message the store has found to be new: the send rate limits.
//!
//! Why the store runs it: a resend of a message already accepted must be answered as the
//! duplicate it is without using up its sender's quota (SPEC §8.1, §8.7), and only the store
//! knows, at the moment it writes, whether an id is new. Running the limits there, rather than
//! looking the id up before every send, spares each send a database read while keeping the
//! rule exact: a duplicate never reaches the check, and a refused message is not written.

use std::fmt;

use crate::limits::Exceeded;

/// A check run once, just before a new message is written; its refusal is returned as
/// [`StoreError::Refused`](super::StoreError::Refused) and nothing of the message is stored.
pub struct Admission(Box<dyn FnOnce() -> Result<(), Exceeded> + Send>);

impl Admission {
    /// A check that runs `check`.
    pub fn new(check: impl FnOnce() -> Result<(), Exceeded> + Send + 'static) -> Self {
        Self(Box::new(check))
    }

    /// Admits every new message.
    pub fn always() -> Self {
        Self::new(|| Ok(()))
    }

    /// Runs the check.
    pub(crate) fn check(self) -> Result<(), Exceeded> {
        (self.0)()
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Admission")
    }
}
