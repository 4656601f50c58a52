//! Conversions between the database's rows and the store's types, shared by the SQLite and
//! PostgreSQL backends so both read the same columns into the same values.

use std::collections::BTreeMap;

use super::{
    Accepted, Delivery, MessageStatus, OutboxBacklog, OutboxItem, StoreError, StoredMessage,
    UserRecord,
};

/// How long a message id is kept beyond the age limit, in both backends, after its acceptance
/// (PostgreSQL) or its envelope's `ts` (SQLite, whole days, sqlite/stored_ids.rs): SPEC §8.7
/// asks for `ts` + 7 days + 300 s, and an accepted `ts` is at most 300 s after acceptance
/// (§8.1 check 9, §9.4 check 8), so 7 days + 600 s after either covers every envelope.
pub(super) const ID_MEMORY_MS: i64 = (7 * 24 * 3600 + 600) * 1000;

/// Deletes at most `$2` outbox rows that finished (delivered or failed) before `$1`, oldest
/// first along the `outbox_finished` index; pending rows are not in it. Both databases take
/// it as written: SQLite numbers `$`-named parameters in the order they first appear.
pub(super) const FORGET_FINISHED_OUTBOX: &str = "DELETE FROM outbox WHERE position IN \
     (SELECT position FROM outbox WHERE state <> 'pending' AND finished_at < $1 \
     ORDER BY finished_at LIMIT $2)";

/// Deletes at most `$2` responses to transactions received before `$1`, oldest first.
pub(super) const FORGET_OLD_TXNS: &str = "DELETE FROM txns WHERE (origin, txn_id) IN \
     (SELECT origin, txn_id FROM txns WHERE received_at < $1 ORDER BY received_at LIMIT $2)";

/// Pending outbox messages, the destinations they wait for, and the destinations backing off;
/// the first two along the `outbox_pending` index, which holds pending rows only.
pub(super) const OUTBOX_BACKLOG: &str = "SELECT \
     (SELECT count(*) FROM outbox WHERE state = 'pending'), \
     (SELECT count(DISTINCT destination) FROM outbox WHERE state = 'pending'), \
     (SELECT count(*) FROM destinations WHERE failures > 0)";

pub(super) fn outbox_backlog((pending, destinations, failing): (i64, i64, i64)) -> OutboxBacklog {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    OutboxBacklog {
        pending: count(pending),
        destinations: count(destinations),
        failing: count(failing),
    }
}

/// Wakes a destination that backs off on this server's own schedule: `$1` now, `$2` the
/// destination, `$3` the retry time its backoff set. The backoff, and the messages it put off
/// to that time, are due now; a backoff set again since (another retry time) is left alone,
/// and so are messages the peer itself deferred (their own retry times).
pub(super) const WAKE_DESTINATION: [&str; 2] = [
    "UPDATE destinations SET retry_at = $1 WHERE destination = $2 AND retry_at = $3",
    "UPDATE outbox SET next_attempt_at = $1 \
     WHERE destination = $2 AND state = 'pending' AND next_attempt_at = $3",
];

/// Seqs and limits are u64 in the API and 64-bit signed integers in both databases. Values
/// past i64::MAX cannot exist there, so clamping keeps "greater than" / "at most" comparisons
/// exact.
pub(super) fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads a stored seq back; the schemas' CHECK keeps it positive.
pub(super) fn seq_from_db(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt { what: "seq" })
}

/// `handle, primary_key, registered_at, registration` of the `users` table.
pub(super) type UserRow = (String, String, i64, String);

pub(super) fn user_from_row(
    (handle, primary, registered_at_ms, registration_json): UserRow,
) -> UserRecord {
    UserRecord {
        handle,
        primary,
        registered_at_ms,
        registration_json,
    }
}

/// `sender, state, attempts, next_attempt_at, last_error` of the `outbox` table.
pub(super) type OutboxStatusRow = (String, String, i64, Option<i64>, Option<String>);

/// The delivery status (SPEC §9.7) of a message in the outbox.
pub(super) fn outbox_status(
    (sender, state, attempts, next, error): OutboxStatusRow,
) -> MessageStatus {
    let status = match state.as_str() {
        "delivered" => "delivered",
        "failed" => "failed",
        _ => "queued",
    };
    MessageStatus {
        sender,
        status,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at_ms: if status == "queued" { next } else { None },
        error,
    }
}

/// The delivery status of a message stored in a local inbox (from the `message_ids` row's
/// sender and seq): `stored` once accepted, also after acknowledgement.
pub(super) fn local_status((sender, seq): (Option<String>, Option<i64>)) -> Option<MessageStatus> {
    match (sender, seq) {
        (Some(sender), Some(_)) => Some(MessageStatus {
            sender,
            status: "stored",
            attempts: 0,
            next_attempt_at_ms: None,
            error: None,
        }),
        _ => None,
    }
}

/// `seq, id, received_at, envelope` of the `messages` table.
pub(super) type MessageRow = (i64, String, i64, String);

pub(super) fn message_from_row(
    (seq, id, received_at_ms, envelope_json): MessageRow,
) -> Result<StoredMessage, StoreError> {
    Ok(StoredMessage {
        seq: seq_from_db(seq)?,
        id,
        received_at_ms,
        envelope_json,
    })
}

/// `id, sender, envelope, accepted_at, attempts, next_attempt_at` of the `outbox` table.
pub(super) type OutboxRow = (i64, String, String, String, i64, i64, Option<i64>);

pub(super) fn outbox_item_from_row(
    (position, id, sender, envelope_json, accepted_at_ms, attempts, next): OutboxRow,
) -> OutboxItem {
    OutboxItem {
        position,
        id,
        sender,
        envelope_json,
        accepted_at_ms,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        // A row never attempted is due from its acceptance.
        next_attempt_at_ms: next.unwrap_or(accepted_at_ms),
    }
}

/// The first acceptance of an id, from its `message_ids.seq` (NULL for a remote route).
pub(super) fn first_acceptance(seq: Option<i64>) -> Result<Accepted, StoreError> {
    Ok(Accepted {
        seq: seq.map(seq_from_db).transpose()?,
        duplicate: true,
    })
}

/// What an attempt outcome writes to an outbox row: its state, next attempt and last error.
pub(super) type OutcomeColumns = (&'static str, Option<i64>, Option<String>);

/// A delivery attempt's outcomes grouped by what they write, so both backends update each
/// group's rows with one statement (a whole transaction's messages are usually delivered,
/// or retried for one reason, together).
pub(super) fn outcome_groups(
    outcomes: Vec<(String, Delivery)>,
) -> BTreeMap<OutcomeColumns, Vec<String>> {
    let mut groups: BTreeMap<OutcomeColumns, Vec<String>> = BTreeMap::new();
    for (id, outcome) in outcomes {
        let columns = match outcome {
            Delivery::Delivered => ("delivered", None, None),
            Delivery::Failed { code } => ("failed", None, Some(code)),
            Delivery::Retry { at_ms, error } => ("pending", Some(at_ms), Some(error)),
        };
        groups.entry(columns).or_default().push(id);
    }
    groups
}
