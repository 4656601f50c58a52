//! Statements whose text is the same on both backends: sqlx's SQLite accepts PostgreSQL's
//! numbered `$N` parameters (a reused number binds the same value), so where the dialects
//! agree the SQL is written once, and each backend keeps only the statements where they
//! differ (SQLite's `rowid`, PostgreSQL's arrays and row locks).

/// An inbox page (SPEC §8.2) of `$1` after seq `$2`: at most `$3` messages and only as many
/// as fit in `$4` bytes of envelope text, but always the first. One statement, so one snapshot:
/// the page is a prefix of the committed seqs above `$2`, never a set with a hole that a later
/// commit fills. The inner query sizes the first `$3` envelopes by `octet_length`, which both
/// databases answer without reading the text (SQLite from the record header, PostgreSQL from
/// the TOAST header); only the page's envelopes are read.
pub(super) const INBOX_PAGE: &str = "SELECT seq, id, received_at, envelope FROM messages \
     WHERE recipient = $1 AND seq > $2 AND seq <= ( \
       SELECT MAX(seq) FROM ( \
         SELECT seq, size, SUM(size) OVER (ORDER BY seq) AS total FROM ( \
           SELECT seq, octet_length(envelope) AS size FROM messages \
           WHERE recipient = $1 AND seq > $2 ORDER BY seq LIMIT $3 \
         ) AS first \
       ) AS sized WHERE total <= $4 OR total = size \
     ) ORDER BY seq";

/// The highest seq ever assigned in `$1`'s inbox, if it ever had one.
pub(super) const LATEST_SEQ: &str = "SELECT last_seq FROM inbox_counters WHERE recipient = $1";

/// The outbox row of message `$1` (SPEC §9.7): a remote recipient's delivery status.
pub(super) const OUTBOX_STATUS: &str =
    "SELECT sender, state, attempts, next_attempt_at, last_error FROM outbox WHERE id = $1";

/// The stored response to transaction `$2` from origin `$1` (SPEC §9.4).
pub(super) const TXN_RESPONSE: &str = "SELECT response FROM txns WHERE origin = $1 AND txn_id = $2";

/// At most `$2` ids of `$table` (keyed by id, indexed by accepted_at) accepted before `$1`,
/// oldest first (SPEC §8.7), except those still in the outbox, whose row would make a
/// re-accept fail: the ids retention forgets.
macro_rules! forgettable_ids {
    ($table:literal) => {
        concat!(
            "SELECT m.id FROM ",
            $table,
            " m WHERE m.accepted_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = m.id) \
             ORDER BY m.accepted_at LIMIT $2"
        )
    };
}

/// The ids retention forgets, to be found on a read connection (SQLite: its writer deletes them).
pub(super) use forgettable_ids;

/// Forgets the ids of `forgettable_ids!` in one statement (PostgreSQL).
pub(super) const FORGET_IDS: &str = concat!(
    "DELETE FROM message_ids WHERE id IN (",
    forgettable_ids!("message_ids"),
    ")"
);

/// The inboxes that may hold more than `$1` messages (SPEC §8.4): last_seq − min(seq) + 1
/// bounds an inbox's row count from above (seqs are unique and never exceed last_seq), and MIN
/// over the (recipient, seq) key is one index seek per inbox. last_seq alone bounds it too
/// (seqs start at 1), and is checked first: on a store with a million inboxes, nearly all of
/// them never reached the limit, and a seek into the messages index for each one made every
/// sweep hold the SQLite writer for about a second.
pub(super) const OVER_LIMIT_INBOXES: &str = "SELECT c.recipient FROM inbox_counters c \
     WHERE c.last_seq > $1 AND c.last_seq - (SELECT MIN(m.seq) FROM messages m \
     WHERE m.recipient = c.recipient) + 1 > $1";

/// The newest seq of `$1`'s inbox beyond its newest `$2`, if it holds more than `$2`.
pub(super) const RETENTION_CUTOFF: &str = "SELECT seq FROM messages WHERE recipient = $1 \
     ORDER BY seq DESC LIMIT 1 OFFSET $2";
