//! Getting the passphrase: from `KEZ_PASSPHRASE` for scripts, otherwise from a prompt on the
//! terminal without echo. Never from a command-line flag: arguments are visible to every user
//! of the machine in the process list.

use std::io::IsTerminal;

use zeroize::Zeroizing;

/// The environment variable scripts set.
pub const ENV: &str = "KEZ_PASSPHRASE";

/// Why no passphrase could be had.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    /// No terminal to prompt on, and no `KEZ_PASSPHRASE`.
    #[error("a passphrase is needed: set {ENV} or run kezctl in a terminal")]
    Missing,
    /// The two entries of a new passphrase differ.
    #[error("the passphrases do not match")]
    Mismatch,
    /// An empty new passphrase.
    #[error("the passphrase is empty; to store the key unencrypted, say so with --no-passphrase")]
    Empty,
    /// Reading the terminal failed.
    #[error("reading the passphrase: {0}")]
    Prompt(std::io::Error),
}

/// Where passphrases come from for this run, captured once at start.
#[derive(Clone)]
pub struct PassphraseSource {
    from_env: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for PassphraseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value is secret; say only where it comes from.
        let from = if self.from_env.is_some() {
            "env"
        } else {
            "prompt"
        };
        write!(f, "PassphraseSource({from})")
    }
}

impl PassphraseSource {
    /// Reads `KEZ_PASSPHRASE` now (an empty value counts as unset).
    pub fn from_environment() -> Self {
        let from_env = std::env::var(ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .map(Zeroizing::new);
        PassphraseSource { from_env }
    }

    /// The passphrase that unlocks the identity `name`.
    pub fn unlock(&self, name: &str) -> Result<Zeroizing<String>, PassphraseError> {
        if let Some(p) = &self.from_env {
            return Ok(p.clone());
        }
        prompt(&format!("Passphrase for identity {name:?}: "))
    }

    /// A new passphrase, asked twice on a terminal.
    pub fn new_passphrase(&self, name: &str) -> Result<Zeroizing<String>, PassphraseError> {
        if let Some(p) = &self.from_env {
            return Ok(p.clone());
        }
        let first = prompt(&format!("New passphrase for identity {name:?}: "))?;
        if first.is_empty() {
            return Err(PassphraseError::Empty);
        }
        let second = prompt("Repeat the passphrase: ")?;
        if *first != *second {
            return Err(PassphraseError::Mismatch);
        }
        Ok(first)
    }
}

fn prompt(text: &str) -> Result<Zeroizing<String>, PassphraseError> {
    // rpassword reads /dev/tty; without a terminal there is nobody to ask, so say what to do
    // instead of failing obscurely or blocking a script.
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(PassphraseError::Missing);
    }
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(PassphraseError::Prompt)
}
