//! One kezd process started by the bench: a generated config in a temp directory, plain HTTP
//! on 127.0.0.1, the spam limits raised so the limiter measures nothing, and the timing of
//! start-to-serving (spawn until `GET /v1/healthz` answers 200). The bench starts kezd itself
//! so it knows the pid whose `/proc` it reads.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process};
use tokio::process::{Child, Command};

use crate::http;

/// Bound on a start: far above any real start, only there so a broken kezd cannot hang a run.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Bound on a graceful stop before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Every spam limit of SPEC §11 set this high, so a benchmark measures the server and not
/// its limiter (all values are u32 in kezd's config).
pub const UNLIMITED: u32 = 1_000_000_000;

/// The `[rate]` table with every limit out of the way.
pub fn rate_table() -> toml::Table {
    let mut rate = toml::Table::new();
    for key in [
        "client_per_minute",
        "register_per_hour",
        "sender_per_minute",
        "recipient_per_minute",
        "recipient_strangers_per_minute",
        "first_contacts_per_hour",
        "origin_per_minute",
        "remote_lookups_per_minute",
        "remote_lookups_per_server_per_minute",
    ] {
        rate.insert(key.into(), i64::from(UNLIMITED).into());
    }
    rate
}

/// Options for the kezd a scenario starts.
#[derive(Debug, Clone)]
pub struct KezdOptions {
    /// The binary.
    pub bin: PathBuf,
    /// `log.level`; `warn` by default because the access log at `info` writes one line per
    /// request, which is a cost of logging, not of the protocol.
    pub log_level: String,
    /// `durability` (`full` or `crash_only`).
    pub durability: String,
    /// More `key = value` settings (TOML values), e.g. from `--kezd-set`.
    pub extra: Vec<(String, toml::Value)>,
}

/// A running kezd and its files.
#[derive(Debug)]
pub struct Kezd {
    /// Its directory: config, log, data (removed on drop unless kept).
    dir: PathBuf,
    /// The config file.
    config: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its server name (`localhost:<port>`), sent as the Host of every request.
    pub server_name: String,
    /// The binary, for restarts.
    bin: PathBuf,
    /// The process; `None` while stopped.
    child: Option<Child>,
    /// The last start-to-serving time.
    pub last_start: Duration,
}

/// A port free right now on 127.0.0.1 (bound and released; kezd binds it a moment later).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding port 0")?;
    Ok(listener.local_addr()?.port())
}

impl Kezd {
    /// Writes a config under `parent` and starts kezd on a fresh port; returns once it serves.
    /// `tables` are extra top-level keys or tables merged into the config (the cluster's
    /// `database_url` and `broker_url`).
    pub async fn start(
        options: &KezdOptions,
        parent: &Path,
        name: &str,
        tables: toml::Table,
    ) -> Result<Kezd> {
        let dir = parent.join(name);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let server_name = format!("localhost:{port}");

        let mut config = toml::Table::new();
        config.insert("bind".into(), addr.to_string().into());
        config.insert("server_name".into(), server_name.clone().into());
        config.insert(
            "data_dir".into(),
            data.to_str().context("UTF-8 path")?.into(),
        );
        config.insert("durability".into(), options.durability.clone().into());
        config.insert("rate".into(), rate_table().into());
        let mut log = toml::Table::new();
        log.insert("level".into(), options.log_level.clone().into());
        config.insert("log".into(), log.into());
        let mut http = toml::Table::new();
        // Room for the idle-stream scenario's 10,000 streams plus the senders (the open-file
        // limit of 20,000 is the real ceiling).
        http.insert("max_connections".into(), 19_500.into());
        config.insert("http".into(), http.into());
        let mut retention = toml::Table::new();
        // A benchmark inbox may hold more than the default 10,000 messages; retention would
        // then delete acknowledged-but-unpolled messages and the final poll would miss them.
        retention.insert("max_per_inbox".into(), 10_000_000.into());
        config.insert("retention".into(), retention.into());
        merge(&mut config, tables);
        for (key, value) in &options.extra {
            set_path(&mut config, key, value.clone());
        }
        // A cluster gives all its instances one server name.
        let server_name = config
            .get("server_name")
            .and_then(toml::Value::as_str)
            .map_or(server_name, str::to_owned);
        let config_path = dir.join("kezd.toml");
        std::fs::write(&config_path, toml::to_string(&config)?)
            .with_context(|| format!("writing {}", config_path.display()))?;

        let mut kezd = Kezd {
            dir,
            config: config_path,
            addr,
            server_name,
            bin: options.bin.clone(),
            child: None,
            last_start: Duration::ZERO,
        };
        kezd.spawn().await?;
        Ok(kezd)
    }

    /// Starts the process on the existing config and data, and times it until it serves.
    pub async fn spawn(&mut self) -> Result<Duration> {
        if self.child.is_some() {
            bail!("kezd already running");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("kezd.log"))?;
        let started = Instant::now();
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        let elapsed = self.wait_serving(started).await?;
        self.last_start = elapsed;
        Ok(elapsed)
    }

    /// Polls `/v1/healthz` every millisecond until a 200; the time since `started`.
    async fn wait_serving(&mut self, started: Instant) -> Result<Duration> {
        loop {
            if let Ok(Ok((200, _))) = tokio::time::timeout(
                Duration::from_millis(500),
                http::get_once(self.addr, &self.server_name, "/v1/healthz"),
            )
            .await
            {
                return Ok(started.elapsed());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "kezd exited during start ({status}); log:\n{}",
                    self.log_tail()
                );
            }
            if started.elapsed() > START_TIMEOUT {
                bail!("kezd did not serve within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The data directory (kezd's `data_dir`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Changes one setting (a dotted key) in the config file; it applies from the next spawn.
    pub fn set(&mut self, key: &str, value: toml::Value) -> Result<()> {
        let mut config: toml::Table = std::fs::read_to_string(&self.config)?.parse()?;
        set_path(&mut config, key, value);
        std::fs::write(&self.config, toml::to_string(&config)?)?;
        Ok(())
    }

    /// The process id while running.
    pub fn pid(&self) -> Result<u32> {
        self.child
            .as_ref()
            .and_then(Child::id)
            .context("kezd is not running")
    }

    /// SIGTERM and wait (SIGKILL after [`STOP_TIMEOUT`]).
    pub async fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            let pid = Pid::from_raw(i32::try_from(pid)?).context("pid 0")?;
            kill_process(pid, Signal::TERM).context("SIGTERM to kezd")?;
        }
        if tokio::time::timeout(STOP_TIMEOUT, child.wait())
            .await
            .is_err()
        {
            child.kill().await?;
        }
        Ok(())
    }

    /// Everything kezd has logged in this directory, over all its starts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kezd.log")).unwrap_or_default()
    }

    /// The last lines of the log, for errors.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Merges `extra` into `base` table by table (extra wins).
fn merge(base: &mut toml::Table, extra: toml::Table) {
    for (key, value) in extra {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(e)) => merge(b, e),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Sets a dotted key (`http.max_connections`) in a table.
fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Parses `key=value` from `--kezd-set`: the value as TOML (numbers, booleans, strings), or
/// as a bare string when it is not valid TOML.
pub fn parse_setting(s: &str) -> Result<(String, toml::Value), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    let parsed: Result<toml::Table, _> = format!("v = {value}").parse();
    let value = match parsed {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| value.into()),
        Err(_) => toml::Value::String(value.to_owned()),
    };
    Ok((key.trim().to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_as_toml_values_and_nest() {
        let mut table = toml::Table::new();
        for s in [
            "rate.sender_per_minute=10",
            "durability=crash_only",
            "log.level=\"info\"",
        ] {
            let (key, value) = parse_setting(s).expect("valid setting");
            set_path(&mut table, &key, value);
        }
        assert_eq!(table["rate"]["sender_per_minute"].as_integer(), Some(10));
        assert_eq!(table["durability"].as_str(), Some("crash_only"));
        assert_eq!(table["log"]["level"].as_str(), Some("info"));
    }
}
