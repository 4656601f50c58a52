//! What the store remembers of conversations (SPEC §11; the rules that read it are in
//! kezd/src/conversation.rs): the record, the statements behind it, the same text on both
//! backends, and the reading of their rows.

/// What the server remembers about the two directions between a sender and a recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conversation {
    /// When a message from the sender to the recipient was last recorded, Unix milliseconds.
    pub sent_ms: Option<i64>,
    /// When a message from the recipient to the sender was last recorded, Unix milliseconds.
    pub replied_ms: Option<i64>,
}

/// Both directions between `$1` (the sender) and `$2` (the recipient), by primary key.
pub(super) const LOOK_UP: &str = "SELECT sender, last_at FROM conversations \
     WHERE (sender = $1 AND recipient = $2) OR (sender = $2 AND recipient = $1)";

/// Records one direction at `$3`; a record never moves back in time.
pub(super) const RECORD: &str = "INSERT INTO conversations (sender, recipient, last_at) \
     VALUES ($1, $2, $3) ON CONFLICT (sender, recipient) \
     DO UPDATE SET last_at = excluded.last_at WHERE conversations.last_at < excluded.last_at";

/// Forgets at most `$2` conversations recorded before `$1`, oldest first.
pub(super) const FORGET: &str = "DELETE FROM conversations WHERE (sender, recipient) IN \
     (SELECT sender, recipient FROM conversations WHERE last_at < $1 ORDER BY last_at LIMIT $2)";

/// The conversation of `sender` with `recipient`, from [`LOOK_UP`]'s rows (whose first
/// column is the row's sender). A conversation with oneself is both directions at once.
pub(super) fn from_rows(sender: &str, recipient: &str, rows: Vec<(String, i64)>) -> Conversation {
    let mut conversation = Conversation::default();
    for (from, last_at) in rows {
        if from == sender {
            conversation.sent_ms = Some(last_at);
        }
        if from == recipient {
            conversation.replied_ms = Some(last_at);
        }
    }
    conversation
}
