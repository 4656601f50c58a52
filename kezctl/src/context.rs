//! The settings of one run, resolved once from the global options: which keystore, which
//! identity, which server, how to connect, how to print. Commands get a `&Context` and ask it
//! for an unlocked identity or a client, so the rules (passphrase only when needed, `--server`
//! over the home server) live in one place.

use std::time::Duration;

use kez_spec::{ServerName, SigningKey};

use crate::cli::GlobalArgs;
use crate::client::{Client, ClientOptions};
use crate::config_dir::ConfigDir;
use crate::cursors::Cursors;
use crate::error::CliError;
use crate::keyfile::{Home, KeyFile};
use crate::keystore::{Keystore, KeystoreError};
use crate::output::Output;
use crate::passphrase::PassphraseSource;
use crate::record_cache::RecordCache;
use crate::state_dir::StateDir;

/// One run's settings.
#[derive(Debug)]
pub struct Context {
    /// The identities.
    pub keystore: Keystore,
    /// Each identity's inbox cursor.
    pub cursors: Cursors,
    /// Each identity's remembered recipient records.
    pub records: RecordCache,
    /// `--identity`, if given.
    pub identity: Option<String>,
    /// `--server`, if given.
    pub server: Option<String>,
    /// How to connect.
    pub client_options: ClientOptions,
    /// Where passphrases come from.
    pub passphrases: PassphraseSource,
    /// How to print.
    pub out: Output,
}

/// An identity ready to sign.
pub struct Unlocked {
    /// Its key file.
    pub file: KeyFile,
    /// Its secret key.
    pub key: SigningKey,
}

impl Context {
    /// Resolves the global options.
    pub fn from_args(args: &GlobalArgs) -> Result<Self, CliError> {
        let config = ConfigDir::locate(args.config_dir.as_deref())?;
        let state = StateDir::locate(&config, args.config_dir.is_some())?;
        Ok(Context {
            cursors: Cursors::new(&state, &config),
            records: RecordCache::new(&state),
            keystore: Keystore::new(config),
            identity: args.identity.clone(),
            server: args.server.clone(),
            client_options: ClientOptions {
                ca_file: args.ca_file.clone(),
                timeout: Duration::from_secs(args.timeout),
                resolver: args.resolver,
            },
            passphrases: PassphraseSource::from_environment(),
            out: Output::new(args.json),
        })
    }

    /// The chosen identity's name.
    pub fn identity_name(&self) -> Result<String, CliError> {
        Ok(self.keystore.resolve(self.identity.as_deref())?)
    }

    /// The chosen identity's key file, without unlocking it.
    pub fn key_file(&self) -> Result<KeyFile, CliError> {
        Ok(self.keystore.load(&self.identity_name()?)?)
    }

    /// Unlocks a key file, asking for its passphrase only when it is encrypted.
    pub fn unlock(&self, file: KeyFile) -> Result<Unlocked, CliError> {
        let passphrase = if file.is_encrypted() {
            Some(self.passphrases.unlock(&file.name)?)
        } else {
            None
        };
        let key = file.unlock(passphrase.as_deref().map(String::as_str))?;
        Ok(Unlocked { file, key })
    }

    /// The chosen identity, unlocked.
    pub fn unlocked(&self) -> Result<Unlocked, CliError> {
        self.unlock(self.key_file()?)
    }

    /// The chosen identity, unlocked, and its registration.
    pub fn registered(&self) -> Result<(Unlocked, Home), CliError> {
        let file = self.key_file()?;
        let home = file
            .home
            .clone()
            .ok_or_else(|| KeystoreError::NotRegistered(file.name.clone()))?;
        Ok((self.unlock(file)?, home))
    }

    /// A client for the identity's home server (`--server` overrides it).
    pub fn home_client(&self, home: &Home) -> Result<Client, CliError> {
        self.client_for(home.address.server(), Some(home))
    }

    /// A client for the server that answers about `server`: `--server`, else the home
    /// server's URL when `server` is the home server, else `https://<server>` through
    /// discovery.
    pub fn client_for(&self, server: &ServerName, home: Option<&Home>) -> Result<Client, CliError> {
        if let Some(url) = &self.server {
            return Ok(Client::new(url, &self.client_options)?);
        }
        if let Some(home) = home
            && home.address.server() == server
            // A home registered by discovery is stored as https://<server>: keep discovering
            // (its SRV target may move); any other URL was the user's explicit choice.
            && home.server_url != format!("https://{server}")
        {
            return Ok(Client::new(&home.server_url, &self.client_options)?);
        }
        Ok(Client::for_server(server, &self.client_options)?)
    }
}
