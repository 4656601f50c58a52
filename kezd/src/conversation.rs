//! Conversations, the memory behind SPEC §11's first-contact rule and the recipient's two
//! budgets: which limits a send counts against depends on whether its two addresses have
//! written to each other before.
//!
//! The server remembers a conversation from A to B once it has accepted a message from A to B
//! (into a local inbox, into its outbox, or from a transaction). It is remembered in the store,
//! not in memory, so a restart or another instance of a cluster agrees on it; a send looks it
//! up once (one indexed read) and writes it only when it is new or a day old, so an ongoing
//! conversation costs no write per message. Conversations are forgotten a year after the last
//! such record, which bounds the table by the pairs active within a year.

use std::time::Duration;

use crate::metrics::Metrics;
pub use crate::store::Conversation;
use crate::store::Store;

/// How long a conversation is remembered after its last recorded message (SPEC §11).
pub const MEMORY: Duration = Duration::from_secs(365 * 24 * 3600);

/// How stale a conversation's record may get before a new message records it again: the
/// bound on how early it can be forgotten, traded against one write per message.
const REFRESH_MS: i64 = 24 * 3600 * 1000;

// The record is the store's (it only remembers); what a record means for a send is decided
// here, beside the rest of SPEC §11's rules.
impl Conversation {
    /// Neither has written to the other: the send counts against the sender's
    /// `first_contacts_per_hour`.
    pub fn is_first_contact(&self) -> bool {
        self.sent_ms.is_none() && self.replied_ms.is_none()
    }

    /// The recipient has written to the sender, which makes the sender one of the recipient's
    /// contacts: the send counts against `recipient_per_minute`, not the strangers' budget.
    pub fn from_contact(&self) -> bool {
        self.replied_ms.is_some()
    }

    /// Whether accepting the message at `now_ms` should be recorded: the direction is new, or
    /// its record is a day old.
    pub fn needs_record(&self, now_ms: i64) -> bool {
        self.sent_ms
            .is_none_or(|sent| now_ms.saturating_sub(sent) >= REFRESH_MS)
    }
}

/// Records accepted messages' conversations, `(sender, recipient)` each. The messages are
/// already accepted, so a failure is logged, not returned: it costs at most one more first
/// contact later, never a message.
pub async fn record(
    store: &dyn Store,
    metrics: &Metrics,
    pairs: Vec<(String, String)>,
    now_ms: i64,
) {
    if pairs.is_empty() {
        return;
    }
    let result = metrics
        .time_store(
            "record_conversations",
            store.record_conversations(pairs, now_ms),
        )
        .await;
    if let Err(error) = result {
        tracing::warn!(error = ?error, "recording conversations failed: {error}");
    }
}
