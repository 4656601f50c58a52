//! The command line, declared once with clap. User input is normalised and validated here
//! (addresses, primaries, message ids become kez-spec types), so commands receive values that
//! cannot be invalid and never re-parse strings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kez_spec::{Address, Handle, MessageId, Primary, ServerName};

/// kezctl — the KEZ command line: identities, registration and end-to-end encrypted messages.
///
/// A first session, against a development server (cargo run -p kezd):
///
///   kezctl keys new                                   # your identity (asks a passphrase)
///   kezctl register alice@localhost:6969 --server http://127.0.0.1:6969
///   kezctl keys new --name bob                        # a second identity, to write to
///   kezctl -i bob register bob@localhost:6969 --server http://127.0.0.1:6969
///   id=$(kezctl send bob@localhost:6969 "hello bob")  # prints only the message id
///   kezctl status "$id"                               # stored, queued, delivered, failed
///   kezctl -i bob inbox                               # read, verify and decrypt
///   kezctl -i bob listen                              # follow new messages live
///
/// The identity's home server (the URL used to register) is remembered; --server overrides it.
/// Results go to stdout and commentary to stderr; --json prints results as JSON.
//
// verbatim_doc_comment: clap would otherwise join the example's lines into one paragraph.
#[derive(Debug, Parser)]
#[command(name = "kezctl", version, about, long_about, after_help = EXIT_CODES,
          verbatim_doc_comment)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Printed after `--help`.
pub const EXIT_CODES: &str = "Exit codes: 0 ok, 1 other failure or cancelled, 2 usage, \
3 keystore (no such identity, exists, damaged, not registered), 4 passphrase wrong or missing, \
5 refused by the server, 6 server unreachable or failing, 7 verification failed, \
8 doctor found failures. A closed stdout (kezctl inbox | head -1) ends a command quietly \
with 0.\n\
Environment: KEZ_CONFIG_DIR, KEZ_IDENTITY, KEZ_SERVER, KEZ_CA_FILE, KEZ_RESOLVER, \
KEZ_PASSPHRASE.";

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration directory (default: $XDG_CONFIG_HOME/kez or ~/.config/kez).
    #[arg(long, global = true, env = "KEZ_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Which identity to use (default: "default", or the only one).
    #[arg(short, long, global = true, env = "KEZ_IDENTITY", value_name = "NAME")]
    pub identity: Option<String>,
    /// Base URL of the server to talk to, overriding the identity's home server
    /// (e.g. http://127.0.0.1:6969 for development).
    #[arg(long, global = true, env = "KEZ_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// PEM file of CA certificates to trust besides the system's (test networks).
    #[arg(long, global = true, env = "KEZ_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// DNS server (IP:port) for discovering servers (SRV, A/AAAA), instead of the system's
    /// (test networks with their own DNS).
    #[arg(long, global = true, env = "KEZ_RESOLVER", value_name = "IP:PORT",
          value_parser = crate::discover::parse_resolver)]
    pub resolver: Option<std::net::SocketAddr>,
    /// Seconds each network request (and each doctor step) may take.
    #[arg(long, global = true, default_value_t = 15, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
    /// Print results as JSON for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage identities (ed25519 keys) in the keystore.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Register a handle for the identity: kezctl register alice@kez.lat
    Register {
        /// The address to claim, handle@server.
        #[arg(value_parser = parse_address)]
        address: Address,
        /// The invitation token a server that registers only invited people gave you (sent in
        /// the KEZ-Registration-Token header, never inside the signed registration).
        #[arg(
            long,
            env = "KEZ_INVITE_TOKEN",
            hide_env_values = true,
            value_name = "TOKEN"
        )]
        token: Option<String>,
    },
    /// Manage the identity's account on its home server.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Look up who owns an address or a primary, and check the registration's signature.
    Whois {
        /// handle@server, or ed25519:<64 hex>.
        #[arg(value_parser = parse_target)]
        target: Target,
    },
    /// Send an end-to-end encrypted message. Without TEXT (or with -), reads stdin.
    Send {
        /// The recipient, handle@server.
        #[arg(value_parser = parse_address)]
        to: Address,
        /// The message text.
        text: Option<String>,
    },
    /// Show the delivery status of a message this identity sent.
    Status {
        /// The message id printed by `send`.
        #[arg(value_parser = parse_message_id)]
        id: MessageId,
    },
    /// Fetch, verify and decrypt the inbox (from the saved cursor).
    Inbox {
        /// Start after this seq instead of the saved cursor (0: everything still stored).
        #[arg(long, value_name = "SEQ")]
        since: Option<u64>,
        /// Delete the messages from the server after showing them.
        #[arg(long)]
        ack: bool,
        /// Messages per request (the server caps it).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
    /// Follow the inbox live; resumes from the saved cursor and reconnects after drops.
    Listen {
        /// Start after this seq instead of the saved cursor.
        #[arg(long, value_name = "SEQ")]
        since: Option<u64>,
        /// Stop after this many messages (for scripts).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Diagnose a server as a peer sees it: name, DNS, TLS, WebFinger, keys, clock, round trip.
    Doctor {
        /// The server name (kez.lat, localhost:6969). Its id is not `server`, which is the
        /// global --server option.
        #[arg(value_name = "SERVER")]
        name: String,
    },
    /// Print a shell completion script: kezctl completions bash > /etc/bash_completion.d/kezctl
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `account` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Delete the account for good (asks first): its inbox and undelivered messages go, its
    /// handle is held a while and its key cannot register on that server again.
    Delete {
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new identity (asks for a passphrase, or KEZ_PASSPHRASE).
    New {
        /// Its local name.
        #[arg(long, default_value = crate::keystore::DEFAULT_NAME)]
        name: String,
        /// Store the secret key unencrypted (anyone who can read the file has the identity).
        #[arg(long)]
        no_passphrase: bool,
    },
    /// List identities.
    List,
    /// Show an identity: its primary and, once registered, its address.
    Show {
        /// The identity (default: --identity, "default" or the only one).
        name: Option<String>,
    },
    /// Write an identity in the kez-identity v1 format (see README), to stdout or --out.
    Export {
        /// The identity.
        name: Option<String>,
        /// File to write (created 0600); stdout when absent.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import an identity from a kez-identity file (or - for stdin).
    Import {
        /// The file.
        file: PathBuf,
        /// Store it under this name instead of the one in the file.
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete an identity from this computer (asks first).
    Delete {
        /// The identity.
        name: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

/// What `whois` looks up.
#[derive(Debug, Clone)]
pub enum Target {
    /// By address.
    Address(Address),
    /// By primary.
    Primary(Primary),
}

/// An address typed by a person: trimmed, the handle lowercased, the server name normalised
/// (SPEC §2.2: lowercase, A-labels, no trailing dot).
pub fn parse_address(input: &str) -> Result<Address, String> {
    let input = input.trim();
    let (handle, server) = input
        .rsplit_once('@')
        .ok_or_else(|| format!("{input:?} is not an address: expected handle@server"))?;
    let handle = Handle::parse(&handle.to_lowercase()).map_err(|e| e.to_string())?;
    let server = ServerName::normalize(server).map_err(|e| e.to_string())?;
    Ok(Address::new(handle, server))
}

fn parse_target(input: &str) -> Result<Target, String> {
    if input.trim().starts_with(kez_spec::primary::PREFIX) {
        Primary::parse(&input.trim().to_lowercase())
            .map(Target::Primary)
            .map_err(|e| e.to_string())
    } else {
        parse_address(input).map(Target::Address)
    }
}

fn parse_message_id(input: &str) -> Result<MessageId, String> {
    MessageId::parse(&input.trim().to_lowercase())
        .map_err(|_| "a message id is 64 hex characters".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The clap definition is consistent (no conflicting names or shorts).
    #[test]
    fn cli_definition() {
        Cli::command().debug_assert();
    }

    /// Typed addresses are normalised as SPEC §2.2 says for user input.
    #[test]
    fn address_input() {
        let a = parse_address(" Alice@KEZ.lat. ").expect("normalises");
        assert_eq!(a.to_string(), "alice@kez.lat");
        assert!(parse_address("alice").is_err());
        assert!(parse_address("alice@127.0.0.1").is_err());
    }
}
