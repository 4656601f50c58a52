//! The command line, parsed once into the configuration's sources: `kezd [serve]` runs the
//! daemon, `kezd check-config` validates and prints the effective configuration, `kezd keys
//! rotate` replaces the server's signing key (SPEC §9.2), `kezd healthcheck` asks a running
//! kezd whether it is healthy (for container health checks), `kezd admin …` administers users,
//! the federation policy, the outbox and backups (kezd/src/admin/). Flags are the highest-precedence
//! layer; `--set KEY=VALUE` reaches every key, the named flags are the common ones.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::admin::command::AdminArgs;
use crate::config::sources::CONFIG_FILE_VARIABLE;
use crate::config::{ConfigError, FlagSetting, Sources};

/// The KEZ daemon: stores and forwards signed, end-to-end encrypted envelopes.
#[derive(Debug, Parser)]
#[command(
    name = "kezd",
    version,
    about,
    long_about = None,
    after_help = "Settings come from defaults < the --config file < KEZ_* environment variables \
                  (KEZ_ + the key uppercased, dots as underscores: KEZ_HTTP_MAX_CONNECTIONS) \
                  < flags. See kezd.example.toml for every key."
)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Where the configuration comes from.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the daemon until SIGINT or SIGTERM (the default).
    Serve,
    /// Validate the configuration and print it with every default filled in; exit 1 if invalid.
    CheckConfig,
    /// Manage the server's signing keys (`<data_dir>/server-keys.json`).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Ask a running kezd `GET /v1/healthz` on the configured address (over HTTPS when `[tls]`
    /// is set) or at `--url`; exit 0 on 200, 1 with the reason otherwise.
    Healthcheck(HealthcheckArgs),
    /// Administer this server: users, blocked servers, the outbox, backups. Goes through the
    /// running kezd (its socket `<data_dir>/admin.sock`), or works on the store when none
    /// runs. Exit codes: 0 done, 1 failed, 2 usage, 3 not found, 4 refused (the message
    /// says what to do instead).
    Admin(AdminArgs),
}

/// `kezd healthcheck …`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct HealthcheckArgs {
    /// Ask this URL instead of the configured address, e.g. `http://127.0.0.1:6969` (the path
    /// defaults to `/v1/healthz`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// `kezd keys …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum KeysCommand {
    /// Retire the current key (still verifiable for 7 days, for what it signed before now) and
    /// create the next one; print its id. A running kezd picks the new key up on its next use
    /// of the key file, without a restart.
    Rotate,
}

/// Configuration flags, accepted before or after the subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, env = CONFIG_FILE_VARIABLE, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (`bind`).
    #[arg(long, global = true, value_name = "IP:PORT")]
    pub bind: Option<String>,
    /// This server's name (`server_name`).
    #[arg(long, global = true, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Data directory (`data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Browser app directory (`web_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub web_dir: Option<String>,
    /// TLS certificate chain, PEM (`tls.cert`).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// TLS private key, PEM (`tls.key`).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_key: Option<String>,
    /// Any key, e.g. `--set http.max_connections=500`; repeatable.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl SettingsArgs {
    /// The sources these flags and the given environment describe.
    pub fn sources<I>(&self, env: I) -> Result<Sources, ConfigError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let named = [
            ("bind", "--bind", &self.bind),
            ("server_name", "--server-name", &self.server_name),
            ("data_dir", "--data-dir", &self.data_dir),
            ("web_dir", "--web-dir", &self.web_dir),
            ("tls.cert", "--tls-cert", &self.tls_cert),
            ("tls.key", "--tls-key", &self.tls_key),
        ];
        let mut flags: Vec<FlagSetting> = named
            .into_iter()
            .filter_map(|(key, flag, value)| {
                value.as_ref().map(|value| FlagSetting {
                    key: key.to_owned(),
                    value: value.clone(),
                    flag,
                })
            })
            .collect();
        for setting in &self.set {
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| ConfigError::BadSetArgument(setting.clone()))?;
            flags.push(FlagSetting {
                key: key.trim().to_owned(),
                value: value.to_owned(),
                flag: "--set",
            });
        }
        // Variables that are not UTF-8 cannot be KEZ settings; they are skipped, not fatal.
        let env = env
            .into_iter()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Ok(Sources {
            file: self.config.clone(),
            env,
            flags,
        })
    }
}
