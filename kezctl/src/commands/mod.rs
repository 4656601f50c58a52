//! One file per command; [`dispatch`] routes a parsed command line to it.

pub mod account;
pub mod completions;
pub mod doctor;
pub mod inbox;
pub mod keys;
pub mod listen;
pub mod register;
pub mod send;
pub mod status;
pub mod whois;

use crate::cli::{AccountCommand, Command};
use crate::context::Context;
use crate::error::CliError;

/// Runs `command`.
pub async fn dispatch(ctx: &Context, command: Command) -> Result<(), CliError> {
    match command {
        Command::Keys(keys) => keys::run(ctx, keys),
        Command::Register { address, token } => {
            register::run(ctx, &address, token.as_deref()).await
        }
        Command::Account(AccountCommand::Delete { yes }) => account::delete(ctx, yes).await,
        Command::Whois { target } => whois::run(ctx, &target).await,
        Command::Send { to, text } => send::run(ctx, &to, text).await,
        Command::Status { id } => status::run(ctx, &id).await,
        Command::Inbox { since, ack, limit } => inbox::run(ctx, since, ack, limit).await,
        Command::Listen { since, count } => listen::run(ctx, since, count).await,
        Command::Doctor { name } => doctor::run(ctx, &name).await,
        Command::Completions { shell } => completions::run(shell),
    }
}
