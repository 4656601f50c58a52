//! The `kezd admin` command line, parsed into a [`Request`], and running it: through the
//! daemon's admin socket when a daemon answers there, on the store directly otherwise. The
//! outcome goes to stdout (human text, or one JSON line with `--json`), a failure to stderr,
//! and the exit code says which (request.rs, [`FailureKind::exit_code`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::Config;

use super::request::{Failure, FailureKind, Outcome, Request};
use super::{client, direct, output, server};

/// `kezd admin …`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct AdminArgs {
    /// Print the outcome (or the failure) as one line of JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The groups of admin actions.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum AdminCommand {
    /// This server's users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Servers this one refuses to federate with (SPEC §9.9).
    #[command(subcommand)]
    Servers(ServersCommand),
    /// Invitation tokens for `registration.policy = "token"` (SPEC §4.1).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Messages waiting for other servers.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Write a consistent copy of an SQLite store to a new file (mode 0600) while kezd runs;
    /// for PostgreSQL, print the command that backs it up and exit 4.
    Backup {
        /// The new file.
        file: PathBuf,
    },
}

/// `kezd admin users …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum UsersCommand {
    /// List users in handle order, a page at a time.
    List {
        /// Start after this handle (the last of the previous page).
        #[arg(long, value_name = "HANDLE")]
        after: Option<String>,
        /// Users per page (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one user.
    Show {
        /// The handle.
        handle: String,
    },
    /// Refuse the user's own requests (send, poll, stream, acknowledge, status) with 403
    /// `account_suspended` and end their open streams; messages to them are still accepted
    /// and kept.
    Suspend {
        /// The handle.
        handle: String,
        /// A note kept with the suspension and in the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a suspension.
    Unsuspend {
        /// The handle.
        handle: String,
    },
    /// Delete the account for good, as the user can (SPEC §4.7): the handle record, the inbox
    /// and the user's undelivered outbound messages go; the handle is held for 8 days and
    /// 5 minutes, the key for good; lookups answer 410 `account_deleted`.
    Delete {
        /// The handle.
        handle: String,
        /// A note kept with the tombstone and in the audit log.
        #[arg(long)]
        reason: Option<String>,
        /// Required: a deletion cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

/// `kezd admin servers …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ServersCommand {
    /// Every blocked or allowed server, with its source (the configuration file or an admin
    /// block).
    List,
    /// Block a server: its requests are refused and nothing is delivered to it, on every
    /// instance, until `servers allow`. Kept in the store; survives reloads and restarts.
    Block {
        /// The server name.
        server: String,
        /// A note kept with the block and in the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift an admin block. A server blocked by the configuration file is refused (exit 4):
    /// edit the file and reload.
    Allow {
        /// The server name.
        server: String,
    },
}

/// `kezd admin tokens …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum TokensCommand {
    /// Make a token and print it (this once: only its hash is kept) with its id.
    Create {
        /// Registrations it admits; without it, any number.
        #[arg(long, value_name = "N")]
        uses: Option<u32>,
        /// How long it is valid: a number and s, m, h, d or w (`7d`); without it, until
        /// revoked.
        #[arg(long, value_name = "DURATION", value_parser = super::tokens::parse_duration)]
        expires: Option<std::time::Duration>,
    },
    /// Every token: id, uses, expiry, whether revoked.
    List,
    /// Revoke a token: it admits nobody from now on.
    Revoke {
        /// The token's id (from `create` or `list`).
        id: String,
    },
}

/// `kezd admin outbox …`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum OutboxCommand {
    /// Per destination: pending messages, consecutive failures, backoff and next attempt.
    Show,
    /// End a destination's backoff now and deliver what waits for it.
    Retry {
        /// The destination server.
        server: String,
    },
}

impl AdminCommand {
    /// The request this command makes; a relative backup path is made absolute here, since
    /// the daemon's working directory is not the caller's.
    pub fn request(self) -> Result<Request, Failure> {
        Ok(match self {
            AdminCommand::Users(command) => match command {
                UsersCommand::List { after, limit } => Request::UsersList { after, limit },
                UsersCommand::Show { handle } => Request::UsersShow { handle },
                UsersCommand::Suspend { handle, reason } => {
                    Request::UsersSuspend { handle, reason }
                }
                UsersCommand::Unsuspend { handle } => Request::UsersUnsuspend { handle },
                UsersCommand::Delete { yes: false, .. } => {
                    return Err(Failure::new(
                        FailureKind::Invalid,
                        "deleting an account cannot be undone: pass --yes",
                    ));
                }
                UsersCommand::Delete { handle, reason, .. } => {
                    Request::UsersDelete { handle, reason }
                }
            },
            AdminCommand::Servers(command) => match command {
                ServersCommand::List => Request::ServersList,
                ServersCommand::Block { server, reason } => {
                    Request::ServersBlock { server, reason }
                }
                ServersCommand::Allow { server } => Request::ServersAllow { server },
            },
            AdminCommand::Tokens(command) => match command {
                TokensCommand::Create { uses, expires } => Request::TokensCreate {
                    uses,
                    expires_in_secs: expires.map(|d| d.as_secs()),
                },
                TokensCommand::List => Request::TokensList,
                TokensCommand::Revoke { id } => Request::TokensRevoke { id },
            },
            AdminCommand::Outbox(command) => match command {
                OutboxCommand::Show => Request::OutboxShow,
                OutboxCommand::Retry { server } => Request::OutboxRetry { server },
            },
            AdminCommand::Backup { file } => Request::Backup {
                file: std::path::absolute(&file).map_err(|error| {
                    Failure::new(FailureKind::Invalid, format!("{}: {error}", file.display()))
                })?,
            },
        })
    }
}

/// Runs `kezd admin` with `config` (loaded from `config_file`, if any); the exit code.
pub fn run(config: &Config, config_file: Option<PathBuf>, args: AdminArgs) -> ExitCode {
    // Warnings only (a cluster that could not be told, say): the store's own lines are for
    // the daemon's log.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .try_init();
    let result = match args.command.request() {
        Ok(request) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(execute(config, config_file, request)),
            Err(error) => Err(Failure::new(
                FailureKind::Failed,
                format!("starting the runtime: {error}"),
            )),
        },
        Err(failure) => Err(failure),
    };
    match result {
        Ok(outcome) => {
            if args.json {
                println!("{}", output::json(&outcome));
            } else {
                print!("{}", output::human(&outcome));
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            if args.json {
                println!("{}", serde_json::to_string(&failure).unwrap_or_default());
            }
            eprintln!("kezd admin: {}", failure.message);
            ExitCode::from(failure.kind.exit_code())
        }
    }
}

/// Asks the daemon if one answers on the data directory's admin socket; otherwise runs the
/// request on the store directly.
async fn execute(
    config: &Config,
    config_file: Option<PathBuf>,
    request: Request,
) -> Result<Outcome, Failure> {
    let socket = config.data_dir.join(server::SOCKET_NAME);
    match client::connect(&socket).await {
        Ok(Some(stream)) => client::ask(stream, &request).await,
        Ok(None) => direct::execute(config, config_file, request).await,
        Err(error) => Err(Failure::new(
            FailureKind::Failed,
            format!("connecting to {}: {error}", socket.display()),
        )),
    }
}
