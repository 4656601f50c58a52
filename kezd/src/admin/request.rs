//! What `kezd admin` asks and what it is answered: the requests, their outcomes and failures,
//! one JSON line each on the admin socket (`<data_dir>/admin.sock`), and the same values when
//! the command works on the store directly. `--json` prints the outcome as it travels.
//!
//! A request line is `{"action":"users.show","handle":"alice"}`; its answer is
//! `{"ok":{"kind":"user",…}}` or `{"error":{"kind":"not_found","message":"…"}}`.

use std::path::PathBuf;

use crate::store::{DestinationReport, TokenRecord, UserEntry};

/// One admin action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action")]
pub enum Request {
    /// A page of users in handle order, after `after`.
    #[serde(rename = "users.list")]
    UsersList {
        /// The last handle of the previous page; none for the first.
        after: Option<String>,
        /// Users per page.
        limit: u32,
    },
    /// One user.
    #[serde(rename = "users.show")]
    UsersShow {
        /// The handle.
        handle: String,
    },
    /// Refuse a user's own requests until unsuspended (SPEC §10 `account_suspended`).
    #[serde(rename = "users.suspend")]
    UsersSuspend {
        /// The handle.
        handle: String,
        /// A note for the audit log and `users show`.
        reason: Option<String>,
    },
    /// Lift a suspension.
    #[serde(rename = "users.unsuspend")]
    UsersUnsuspend {
        /// The handle.
        handle: String,
    },
    /// Delete a user's account as the user can (SPEC §4.7): the same removal and tombstone.
    #[serde(rename = "users.delete")]
    UsersDelete {
        /// The handle.
        handle: String,
        /// A note for the audit log, kept with the tombstone.
        reason: Option<String>,
    },
    /// Every blocked or allowed server, with where the entry comes from.
    #[serde(rename = "servers.list")]
    ServersList,
    /// Block a server (SPEC §9.9), kept in the store.
    #[serde(rename = "servers.block")]
    ServersBlock {
        /// The server name.
        server: String,
        /// A note for the audit log and `servers list`.
        reason: Option<String>,
    },
    /// Remove an admin block.
    #[serde(rename = "servers.allow")]
    ServersAllow {
        /// The server name.
        server: String,
    },
    /// A new registration token (SPEC §4.1 check 10).
    #[serde(rename = "tokens.create")]
    TokensCreate {
        /// Registrations it admits; none for unlimited.
        uses: Option<u32>,
        /// Seconds from now until it expires; none for never.
        expires_in_secs: Option<u64>,
    },
    /// Every registration token.
    #[serde(rename = "tokens.list")]
    TokensList,
    /// Revoke a registration token.
    #[serde(rename = "tokens.revoke")]
    TokensRevoke {
        /// Its public id.
        id: String,
    },
    /// The outbox per destination.
    #[serde(rename = "outbox.show")]
    OutboxShow,
    /// End a destination's backoff now.
    #[serde(rename = "outbox.retry")]
    OutboxRetry {
        /// The destination server.
        server: String,
    },
    /// A consistent copy of the database in a new file.
    #[serde(rename = "backup")]
    Backup {
        /// The new file, an absolute path (the daemon's working directory is not the
        /// caller's).
        file: PathBuf,
    },
}

impl Request {
    /// The action's name, as the request and the audit log carry it (`users.suspend`).
    pub fn action(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| value.get("action")?.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// What the action is about, for the audit log.
    pub fn target(&self) -> Option<String> {
        match self {
            Request::UsersShow { handle }
            | Request::UsersSuspend { handle, .. }
            | Request::UsersUnsuspend { handle }
            | Request::UsersDelete { handle, .. } => Some(handle.clone()),
            Request::ServersBlock { server, .. }
            | Request::ServersAllow { server }
            | Request::OutboxRetry { server } => Some(server.clone()),
            Request::TokensRevoke { id } => Some(id.clone()),
            Request::Backup { file } => Some(file.display().to_string()),
            // A new token's id is chosen as it is made; `tokens list` shows it.
            Request::UsersList { .. }
            | Request::ServersList
            | Request::OutboxShow
            | Request::TokensCreate { .. }
            | Request::TokensList => None,
        }
    }
}

/// What an action did or found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A page of users.
    Users {
        /// The users, in handle order.
        users: Vec<UserEntry>,
        /// Ask with `after` set to this for the next page; none after the last.
        next: Option<String>,
    },
    /// One user.
    User {
        /// The user.
        user: UserEntry,
        /// The highest inbox seq ever assigned to them.
        latest_seq: u64,
    },
    /// A change, or the finding that there was nothing to change.
    Done {
        /// What happened, as a sentence.
        message: String,
        /// False when the state already was as asked (already suspended, say).
        changed: bool,
    },
    /// The servers the policy names.
    Servers {
        /// Each entry with its source.
        servers: Vec<ServerEntry>,
    },
    /// A registration token just made. Its text is shown this once: only its hash is kept.
    TokenCreated {
        /// The public id, for `tokens list` and `tokens revoke`.
        id: String,
        /// The token to hand out.
        token: String,
        /// Registrations it admits; none for unlimited.
        uses_allowed: Option<u32>,
        /// When it expires, Unix milliseconds; none for never.
        expires_at_ms: Option<i64>,
    },
    /// Every registration token.
    Tokens {
        /// Oldest first.
        tokens: Vec<TokenRecord>,
    },
    /// The outbox per destination.
    Outbox {
        /// Destinations with pending messages or a backoff.
        destinations: Vec<DestinationReport>,
    },
    /// A backup written.
    Backup {
        /// The file.
        file: PathBuf,
        /// Its size.
        bytes: u64,
    },
}

/// One server named by the federation policy (SPEC §9.9).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerEntry {
    /// The server name.
    pub server: String,
    /// `block` or `allow`.
    pub rule: Rule,
    /// `config` (the file's `[federation]` lists) or `admin` (the store).
    pub source: Source,
    /// Since when, Unix milliseconds (admin blocks only).
    pub since_ms: Option<i64>,
    /// The operator's note (admin blocks only).
    pub reason: Option<String>,
}

/// What a policy entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Refused.
    Block,
    /// On the allow list (when there is one, only those).
    Allow,
}

/// Where a policy entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The configuration file's `[federation] block` or `allow`.
    Config,
    /// `kezd admin servers block`, kept in the store.
    Admin,
}

/// Why an action failed, as scripts tell failures apart (the exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The store or the daemon failed; exit 1.
    Failed,
    /// The request is malformed (an invalid handle or server name); exit 2, as a usage error.
    Invalid,
    /// The user, server or destination named does not exist; exit 3.
    NotFound,
    /// Not done here, for a reason the message gives with what to do instead (a server
    /// blocked by the configuration file, a backup of PostgreSQL); exit 4.
    Refused,
}

impl FailureKind {
    /// The process exit code (documented in deploy/README.md, "Administration").
    pub fn exit_code(self) -> u8 {
        match self {
            FailureKind::Failed => 1,
            FailureKind::Invalid => 2,
            FailureKind::NotFound => 3,
            FailureKind::Refused => 4,
        }
    }
}

/// A failed action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What went wrong, for a person.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(error: crate::store::StoreError) -> Self {
        let kind = match error {
            crate::store::StoreError::Unsupported(_) => FailureKind::Refused,
            _ => FailureKind::Failed,
        };
        // The whole chain: an operator needs the database's own words.
        Failure::new(kind, super::chain(&error))
    }
}

/// The answer line to one request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Done.
    Ok(Outcome),
    /// Not done.
    Error(Failure),
}

impl From<Result<Outcome, Failure>> for Reply {
    fn from(result: Result<Outcome, Failure>) -> Self {
        match result {
            Ok(outcome) => Reply::Ok(outcome),
            Err(failure) => Reply::Error(failure),
        }
    }
}

impl From<Reply> for Result<Outcome, Failure> {
    fn from(reply: Reply) -> Self {
        match reply {
            Reply::Ok(outcome) => Ok(outcome),
            Reply::Error(failure) => Err(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_have_their_documented_shape() {
        let request = Request::UsersShow {
            handle: "alice".into(),
        };
        let line = serde_json::to_string(&request).expect("serialises");
        assert_eq!(line, r#"{"action":"users.show","handle":"alice"}"#);
        assert_eq!(request.action(), "users.show");
        assert_eq!(serde_json::from_str::<Request>(&line).ok(), Some(request));
        let reply = Reply::Error(Failure::new(FailureKind::NotFound, "no user alice"));
        assert_eq!(
            serde_json::to_string(&reply).expect("serialises"),
            r#"{"error":{"kind":"not_found","message":"no user alice"}}"#
        );
        assert_eq!(Request::ServersList.action(), "servers.list");
    }
}
