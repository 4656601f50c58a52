//! What the store keeps for operator administration (`kezd admin`, kezd/src/admin/): suspended
//! users, servers an operator blocked, and the audit log of admin actions — the records, the
//! statements behind them (the same text on both backends), and the one write type both
//! backends run, so an admin command means the same on SQLite and PostgreSQL.

/// A user as an operator sees them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserEntry {
    /// The local handle.
    pub handle: String,
    /// `ed25519:<hex>`.
    pub primary: String,
    /// When this server stored the registration, Unix milliseconds.
    pub registered_at_ms: i64,
    /// Set while the user is suspended.
    pub suspension: Option<Suspension>,
}

/// Why and since when a user is suspended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suspension {
    /// Since when, Unix milliseconds.
    pub at_ms: i64,
    /// The operator's note, if they gave one.
    pub reason: Option<String>,
}

/// A server blocked by an admin command (the configuration file's blocks are not stored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerBlock {
    /// The blocked server name.
    pub server: String,
    /// Since when, Unix milliseconds.
    pub at_ms: i64,
    /// The operator's note, if they gave one.
    pub reason: Option<String>,
}

/// One destination of the outbox as an operator sees it (SPEC §9.6).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DestinationReport {
    /// The destination server.
    pub destination: String,
    /// Messages waiting for it.
    pub pending: u64,
    /// When the oldest of them was accepted, Unix milliseconds.
    pub oldest_ms: Option<i64>,
    /// Consecutive failed attempts (0 when healthy).
    pub failures: u32,
    /// When the destination's backoff ends, Unix milliseconds, if it backs off.
    pub retry_at_ms: Option<i64>,
    /// The earliest time a waiting message may be sent, Unix milliseconds.
    pub next_attempt_ms: Option<i64>,
}

/// One admin action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who: `uid:<n>` of the local user, or `local` when it is not known.
    pub actor: String,
    /// What, e.g. `users.suspend`.
    pub action: String,
    /// On what (a handle, a server, a file), if anything.
    pub target: Option<String>,
    /// `ok`, or the failure's kind and message.
    pub outcome: String,
}

/// A write of administration data; each runs in a transaction of its own and returns the rows
/// it changed (0: nothing to do, e.g. already suspended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminWrite {
    /// Suspend a registered user, unless already suspended.
    Suspend {
        /// The handle.
        handle: String,
        /// Now, Unix milliseconds.
        at_ms: i64,
        /// The operator's note.
        reason: Option<String>,
    },
    /// Lift a user's suspension.
    Unsuspend {
        /// The handle.
        handle: String,
    },
    /// Block a server, unless already blocked here.
    Block {
        /// The server name.
        server: String,
        /// Now, Unix milliseconds.
        at_ms: i64,
        /// The operator's note.
        reason: Option<String>,
    },
    /// Remove an admin block.
    Unblock {
        /// The server name.
        server: String,
    },
    /// Append to the audit log.
    Audit(AuditEntry),
}

/// A statement parameter, so one write is described once and bound by either backend.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
}

impl AdminWrite {
    /// The write as a query of either backend, its parameters bound.
    pub(super) fn query<'q, DB: sqlx::Database>(
        self,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
    where
        String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
        Option<String>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
        i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    {
        let (sql, params) = self.statement();
        params
            .into_iter()
            .fold(sqlx::query(sql), |query, param| match param {
                Param::Text(text) => query.bind(text),
                Param::MaybeText(text) => query.bind(text),
                Param::Int(n) => query.bind(n),
            })
    }

    /// The statement and its parameters, in `$N` order.
    fn statement(self) -> (&'static str, Vec<Param>) {
        use Param::{Int, MaybeText, Text};
        match self {
            AdminWrite::Suspend {
                handle,
                at_ms,
                reason,
            } => (
                "INSERT INTO suspensions (handle, suspended_at, reason) VALUES ($1, $2, $3) \
                 ON CONFLICT (handle) DO NOTHING",
                vec![Text(handle), Int(at_ms), MaybeText(reason)],
            ),
            AdminWrite::Unsuspend { handle } => (
                "DELETE FROM suspensions WHERE handle = $1",
                vec![Text(handle)],
            ),
            AdminWrite::Block {
                server,
                at_ms,
                reason,
            } => (
                "INSERT INTO server_blocks (server, blocked_at, reason) VALUES ($1, $2, $3) \
                 ON CONFLICT (server) DO NOTHING",
                vec![Text(server), Int(at_ms), MaybeText(reason)],
            ),
            AdminWrite::Unblock { server } => (
                "DELETE FROM server_blocks WHERE server = $1",
                vec![Text(server)],
            ),
            AdminWrite::Audit(entry) => (
                "INSERT INTO admin_audit (at, actor, action, target, outcome) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    Int(entry.at_ms),
                    Text(entry.actor),
                    Text(entry.action),
                    MaybeText(entry.target),
                    Text(entry.outcome),
                ],
            ),
        }
    }
}

/// Users after handle `$1`, in handle order, at most `$2`, each with their suspension.
pub(super) const USERS_PAGE: &str = "SELECT u.handle, u.primary_key, u.registered_at, \
     s.suspended_at, s.reason FROM users u LEFT JOIN suspensions s ON s.handle = u.handle \
     WHERE u.handle > $1 ORDER BY u.handle LIMIT $2";

/// User `$1` with their suspension.
pub(super) const USER_ENTRY: &str = "SELECT u.handle, u.primary_key, u.registered_at, \
     s.suspended_at, s.reason FROM users u LEFT JOIN suspensions s ON s.handle = u.handle \
     WHERE u.handle = $1";

/// Every suspended handle: few, loaded whole by each instance.
pub(super) const SUSPENDED: &str = "SELECT handle FROM suspensions ORDER BY handle";

/// Every admin block.
pub(super) const SERVER_BLOCKS: &str =
    "SELECT server, blocked_at, reason FROM server_blocks ORDER BY server";

/// Per destination with pending messages or a backoff: pending count, oldest acceptance,
/// failures, the backoff's end, the earliest next attempt.
pub(super) const DESTINATIONS: &str = "SELECT n.destination, \
     (SELECT count(*) FROM outbox o WHERE o.destination = n.destination AND o.state = 'pending'), \
     (SELECT min(o.accepted_at) FROM outbox o \
      WHERE o.destination = n.destination AND o.state = 'pending'), \
     d.failures, d.retry_at, \
     (SELECT min(o.next_attempt_at) FROM outbox o \
      WHERE o.destination = n.destination AND o.state = 'pending') \
     FROM (SELECT destination FROM outbox WHERE state = 'pending' \
           UNION SELECT destination FROM destinations WHERE failures > 0) n \
     LEFT JOIN destinations d ON d.destination = n.destination ORDER BY n.destination";

/// `handle, primary_key, registered_at, suspended_at, reason`.
pub(super) type UserEntryRow = (String, String, i64, Option<i64>, Option<String>);

pub(super) fn user_entry(
    (handle, primary, registered_at_ms, at, reason): UserEntryRow,
) -> UserEntry {
    UserEntry {
        handle,
        primary,
        registered_at_ms,
        suspension: at.map(|at_ms| Suspension { at_ms, reason }),
    }
}

/// `destination, pending, oldest, failures, retry_at, next_attempt_at`.
pub(super) type DestinationRow = (
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub(super) fn destination_report(
    (destination, pending, oldest_ms, failures, retry_at, next_attempt_ms): DestinationRow,
) -> DestinationReport {
    let failures = u32::try_from(failures.unwrap_or(0)).unwrap_or(u32::MAX);
    DestinationReport {
        destination,
        pending: u64::try_from(pending).unwrap_or(0),
        oldest_ms,
        failures,
        // A destination without failures does not back off, whatever its row still says.
        retry_at_ms: retry_at.filter(|_| failures > 0),
        next_attempt_ms,
    }
}

pub(super) fn server_block((server, at_ms, reason): (String, i64, Option<String>)) -> ServerBlock {
    ServerBlock {
        server,
        at_ms,
        reason,
    }
}
