//! Reloading the configuration on SIGHUP, without dropping a connection. What can change live
//! is applied: the TLS certificate and key (re-read even when their paths are unchanged, as a
//! renewal replaces the files; connections already open keep theirs), the federation policy
//! (`[federation] block` and `allow`; blocks made with `kezd admin servers block` live in the
//! store and stay), the spam limits (`[rate]`; their counters start over) and the log filter
//! (`log.level`, unless `RUST_LOG` overrides it). Every other changed key is logged as needing a
//! restart and keeps its running value. A configuration that does not load, or a certificate
//! that cannot serve this server, changes nothing: the running settings stay and the log says
//! why.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::certificate;
use crate::config::{Config, Sources};
use crate::federate::policy::Lists;
use crate::limits::Limiters;
use crate::logging::LevelHandle;
use crate::state::AppState;
use crate::tls;

/// Keys applied by a reload, beside every `rate.*` key; every other changed key needs a
/// restart.
const LIVE_KEYS: [&str; 5] = [
    "tls.cert",
    "tls.key",
    "federation.block",
    "federation.allow",
    "log.level",
];

/// The sources to reload from and the settings in force.
#[derive(Debug)]
pub struct Reloader {
    /// The same file, environment and flags as at start: only the file can have changed.
    sources: Sources,
    /// The configuration in force: the one loaded at start with what reloads applied.
    current: Config,
    /// Changes the log filter; `None` when `RUST_LOG` set it.
    log_level: Option<LevelHandle>,
}

impl Reloader {
    /// A reloader for a daemon started with `current` from `sources`, whose configured log
    /// filter `log_level` changes.
    pub fn new(sources: Sources, current: Config, log_level: Option<LevelHandle>) -> Self {
        Reloader {
            sources,
            current,
            log_level,
        }
    }

    /// Loads the sources again and applies what can change live to `state`, logging what
    /// changed, what needs a restart, or why nothing changed.
    pub fn reload(&mut self, state: &AppState) {
        let loaded = match Config::load(&self.sources) {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::error!(
                    %error,
                    "configuration not reloaded: the file is invalid; the running settings stay"
                );
                return;
            }
        };
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        let new = loaded.config;
        // Turning TLS on or off changes what the listener speaks: that takes a restart.
        let tls_live = self.current.tls.is_some() && new.tls.is_some();
        let is_live = |key: &&str| {
            (LIVE_KEYS.contains(key) || key.starts_with("rate."))
                && (tls_live || !key.starts_with("tls."))
        };
        let changed = changed_keys(&self.current, &new);
        let (live, restart): (Vec<&str>, Vec<&str>) =
            changed.iter().map(String::as_str).partition(is_live);
        let acceptor = match (&self.current.tls, &new.tls) {
            (Some(_), Some(files)) => match new_acceptor(files, &new) {
                Ok(acceptor) => Some(acceptor),
                Err(error) => {
                    tracing::error!(
                        %error,
                        "configuration not reloaded: the TLS certificate cannot be used; the running settings stay"
                    );
                    return;
                }
            },
            _ => None,
        };
        for key in &restart {
            tracing::warn!(
                key,
                "changed in the configuration file, but needs a restart"
            );
        }
        if let Some(acceptor) = acceptor {
            state.tls().replace(Some(acceptor));
            self.current.tls.clone_from(&new.tls);
        }
        if let Some(federate) = state.federate() {
            federate
                .policy
                .replace_configured(Lists::configured(&new.federation));
        }
        self.current.federation.block = new.federation.block;
        self.current.federation.allow = new.federation.allow;
        if new.rate != self.current.rate {
            state.replace_limiters(Limiters::new(&new.rate));
            self.current.rate = new.rate;
        }
        // Before the line that says the reload is done, so everything after it is filtered
        // as configured (that line too: a stricter level may leave it out).
        self.set_log_level(new.log.level);
        tracing::info!(
            changed = live.join(", "),
            needs_restart = restart.join(", "),
            tls_reloaded = self.current.tls.is_some(),
            "configuration reloaded"
        );
    }

    fn set_log_level(&mut self, level: String) {
        if level == self.current.log.level {
            return;
        }
        match &self.log_level {
            Some(handle) => match handle.set(&level) {
                Ok(()) => self.current.log.level = level,
                Err(error) => tracing::error!(%error, "log.level not changed"),
            },
            None => tracing::warn!("log.level changed, but RUST_LOG sets the log filter"),
        }
    }
}

/// A TLS acceptor for `files`, refused if the certificate would fail peers now.
fn new_acceptor(
    files: &crate::config::TlsFiles,
    config: &Config,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    let acceptor = tls::acceptor(files).map_err(|e| e.to_string())?;
    let now = SystemTime::now();
    let valid = certificate::check(files, &config.server_name, now).map_err(|e| e.to_string())?;
    if let Some(warning) = valid.expiry_warning(now) {
        tracing::warn!("{warning}");
    }
    Ok(acceptor)
}

/// The dotted keys whose effective values differ.
fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    let (old, new) = (flatten(old), flatten(new));
    let mut keys: Vec<String> = old
        .iter()
        .filter(|(key, value)| new.get(*key) != Some(value))
        .map(|(key, _)| key.clone())
        .chain(new.keys().filter(|key| !old.contains_key(*key)).cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A configuration as dotted key → value.
fn flatten(config: &Config) -> BTreeMap<String, toml::Value> {
    let mut keys = BTreeMap::new();
    let Ok(toml::Value::Table(table)) = toml::Value::try_from(config.to_raw()) else {
        return keys;
    };
    for (name, value) in table {
        match value {
            toml::Value::Table(section) => {
                for (sub, value) in section {
                    keys.insert(format!("{name}.{sub}"), value);
                }
            }
            other => {
                keys.insert(name, other);
            }
        }
    }
    keys
}

/// Reloads on every SIGHUP until the daemon stops. The signal handler is installed by
/// [`Hangups::listen`] before this runs, so a SIGHUP at any time after start reloads
/// rather than ending the process (its default action).
pub async fn run(state: AppState, mut reloader: Reloader, mut hangups: Hangups) {
    let stop = state.shutdown().signalled();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            received = hangups.recv() => {
                if !received {
                    return;
                }
                tracing::info!("SIGHUP: reloading the configuration");
                // Files are read on a blocking thread, not a runtime worker.
                let state = state.clone();
                reloader = match tokio::task::spawn_blocking(move || {
                    reloader.reload(&state);
                    reloader
                })
                .await
                {
                    Ok(reloader) => reloader,
                    Err(error) => {
                        tracing::error!(%error, "the reload task failed; reloading stops");
                        return;
                    }
                };
            }
        }
    }
}

/// SIGHUP, caught from the moment it is created.
#[derive(Debug)]
pub struct Hangups(#[cfg(unix)] tokio::signal::unix::Signal);

impl Hangups {
    /// Installs the handler (inside a runtime).
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Hangups(signal(SignalKind::hangup())?))
        }
        #[cfg(not(unix))]
        Ok(Hangups())
    }

    /// The next SIGHUP; `false` when no more can arrive.
    async fn recv(&mut self) -> bool {
        #[cfg(unix)]
        {
            self.0.recv().await.is_some()
        }
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    #[test]
    fn changed_keys_are_named_by_their_dotted_paths() {
        let old = Config::default();
        let mut raw = RawConfig::default();
        raw.federation.block = vec!["b.example".into()];
        raw.http.max_connections = 5;
        raw.web_dir = Some("web".into());
        let new = Config::from_raw(raw).expect("valid");
        assert_eq!(
            changed_keys(&old, &new),
            ["federation.block", "http.max_connections", "web_dir"]
        );
        assert!(changed_keys(&old, &Config::default()).is_empty());
    }
}
