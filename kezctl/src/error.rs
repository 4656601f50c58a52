//! Every way a kezctl command can fail, as one typed error whose variant decides the process
//! exit code. Scripts branch on the exit code (documented in the crate doc and README), people
//! read the message; neither depends on the text of a server's `message` (SPEC §10).

use std::path::PathBuf;

use crate::client::ClientError;
use crate::config_dir::NoConfigDir;
use crate::file_error::FileError;
use crate::keyfile::KeyFileError;
use crate::keystore::KeystoreError;
use crate::passphrase::PassphraseError;
use crate::state_dir::NoStateDir;

/// The documented exit codes. Stable: scripts rely on them.
pub mod exit {
    /// Success; also a reader of stdout that stopped reading (a closed pipe).
    pub const OK: u8 = 0;
    /// An unexpected failure (a local I/O error, a bug), or a prompt the user declined.
    pub const FAILURE: u8 = 1;
    /// The command line was not understood (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// The keystore: no such identity, one already exists, a damaged key file, not registered.
    pub const KEYSTORE: u8 = 3;
    /// The passphrase is wrong, missing, or the two entries differ.
    pub const PASSPHRASE: u8 = 4;
    /// The server understood the request and refused it (a SPEC §10 error code).
    pub const REFUSED: u8 = 5;
    /// The server could not be reached, timed out, was unavailable or answered nonsense.
    pub const UNREACHABLE: u8 = 6;
    /// Something failed cryptographic verification: a record, a recipient's key that changed,
    /// or messages in the inbox.
    pub const VERIFICATION: u8 = 7;
    /// `doctor` ran and at least one check failed.
    pub const DOCTOR_FAILED: u8 = 8;
}

/// A discovery failure as a sentence.
fn describe_federation(e: &kez_federation::FederationError) -> String {
    use kez_federation::FederationError as F;
    match e {
        F::NotFound { what } => format!("not found: {what}"),
        F::Unavailable { reason } => format!("cannot reach the server (via discovery): {reason}"),
        F::Invalid { reason } => format!("the server's answer does not verify: {reason}"),
        other => other.to_string(),
    }
}

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments that parse but make no sense together.
    #[error("{0}")]
    Usage(String),
    /// The keystore refused.
    #[error(transparent)]
    Keystore(KeystoreError),
    /// A key file could not be read, decoded or unlocked.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The passphrase could not be had.
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
    /// Talking to a server failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Discovery or a remote lookup failed (SPEC §9.1, §4.4).
    #[error("{}", describe_federation(.0))]
    Federation(#[from] kez_federation::FederationError),
    /// Data from the network failed verification (a handle record, a registration).
    #[error("verification failed: {0}")]
    Verification(String),
    /// Some inbox messages failed verification or decryption; they were reported, not shown.
    #[error("{0} message(s) failed verification or decryption (reported above, not shown as text)")]
    BadMessages(usize),
    /// `doctor` found failures.
    #[error("the server failed {0} check(s)")]
    DoctorFailed(usize),
    /// The user answered "no".
    #[error("cancelled")]
    Cancelled,
    /// A local file could not be read or written.
    #[error(transparent)]
    Io(#[from] FileError),
    /// Terminal or standard stream I/O failed.
    #[error("{0}")]
    Terminal(std::io::Error),
    /// Whoever read stdout stopped reading (a closed pipe: `kezctl inbox | head -1`). Not a
    /// failure: the command ends quietly with status 0.
    #[error("stdout was closed")]
    StdoutClosed,
}

impl CliError {
    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Keystore(_) => exit::KEYSTORE,
            CliError::KeyFile(KeyFileError::WrongPassphrase) => exit::PASSPHRASE,
            CliError::KeyFile(_) => exit::KEYSTORE,
            CliError::Passphrase(_) => exit::PASSPHRASE,
            CliError::Client(e) if e.is_refusal() => exit::REFUSED,
            CliError::Client(_) => exit::UNREACHABLE,
            CliError::Federation(e) if crate::discover::is_refusal(e) => exit::REFUSED,
            CliError::Federation(kez_federation::FederationError::Invalid { .. }) => {
                exit::VERIFICATION
            }
            CliError::Federation(_) => exit::UNREACHABLE,
            CliError::Verification(_) | CliError::BadMessages(_) => exit::VERIFICATION,
            CliError::DoctorFailed(_) => exit::DOCTOR_FAILED,
            CliError::Cancelled | CliError::Io(_) | CliError::Terminal(_) => exit::FAILURE,
            CliError::StdoutClosed => exit::OK,
        }
    }

    /// A short stable word for `--json` error output.
    pub fn kind(&self) -> &'static str {
        match self {
            CliError::Usage(_) => "usage",
            CliError::Keystore(_) => "keystore",
            CliError::KeyFile(KeyFileError::WrongPassphrase) => "wrong_passphrase",
            CliError::KeyFile(_) => "key_file",
            CliError::Passphrase(_) => "passphrase",
            CliError::Client(e) if e.is_refusal() => "refused",
            CliError::Client(_) => "unreachable",
            CliError::Federation(e) if crate::discover::is_refusal(e) => "refused",
            CliError::Federation(kez_federation::FederationError::Invalid { .. }) => "verification",
            CliError::Federation(_) => "unreachable",
            CliError::Verification(_) => "verification",
            CliError::BadMessages(_) => "bad_messages",
            CliError::DoctorFailed(_) => "doctor_failed",
            CliError::Cancelled => "cancelled",
            CliError::Io(_) | CliError::Terminal(_) => "io",
            CliError::StdoutClosed => "stdout_closed",
        }
    }

    /// The SPEC §10 code when a server refused, for `--json` output.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            CliError::Client(e) => e.code(),
            _ => None,
        }
    }

    /// True when the command already printed its result (the report with the failures in
    /// it), so `--json` must not print a second document.
    pub fn already_reported(&self) -> bool {
        matches!(self, CliError::BadMessages(_) | CliError::DoctorFailed(_))
    }

    /// True when a server could not be asked: unreachable, timed out, or failing (5xx) —
    /// as opposed to a server that answered (refused, not found, or said something that does
    /// not verify). Only this kind of failure may be bridged by remembered data.
    pub fn is_unavailable(&self) -> bool {
        use kez_federation::FederationError as F;
        match self {
            CliError::Client(ClientError::Unreachable { .. } | ClientError::Timeout { .. }) => true,
            CliError::Client(ClientError::Api { status, .. }) => *status >= 500,
            CliError::Federation(F::Unavailable { .. }) => true,
            _ => false,
        }
    }

    /// True when nothing is to be said about this error at all: stdout was closed by its
    /// reader, which is how a pipeline ends, not a failure.
    pub fn is_quiet(&self) -> bool {
        matches!(self, CliError::StdoutClosed)
    }

    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CliError {
        let wrap = FileError::at(path);
        move |source| CliError::Io(wrap(source))
    }
}

impl From<KeystoreError> for CliError {
    /// A keystore file that cannot be read or written is a local failure, not a refusal: it
    /// keeps the exit code and kind of every other I/O failure.
    fn from(e: KeystoreError) -> Self {
        match e {
            KeystoreError::File(file) => CliError::Io(file),
            refusal => CliError::Keystore(refusal),
        }
    }
}

impl From<NoConfigDir> for CliError {
    /// No configuration directory is a usage problem: the user must name one.
    fn from(e: NoConfigDir) -> Self {
        CliError::Usage(e.to_string())
    }
}

impl From<NoStateDir> for CliError {
    /// No state directory is a usage problem, like no configuration directory.
    fn from(e: NoStateDir) -> Self {
        CliError::Usage(e.to_string())
    }
}
