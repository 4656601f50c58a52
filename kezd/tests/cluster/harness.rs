//! The cluster harness: a PostgreSQL database and a NATS subject prefix of the test's own,
//! `kezd serve` processes (the real binary, configured by a generated TOML file) pointing at
//! them, and a `nats-server` a test can stop and restart.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use tokio::process::{Child, Command};

use crate::backend;
use crate::common::kez::{Api, LIVENESS, SERVER};

/// The services a cluster test runs on, or `None` (the test passes without running) when
/// `KEZ_TEST_POSTGRES_URL` or `KEZ_TEST_NATS_URL` is unset. When they are set, unreachable
/// services fail the test.
pub struct Services {
    /// A database of this test's own, dropped afterwards.
    pub db: backend::Postgres,
    /// The shared NATS URL.
    pub nats: String,
}

impl Services {
    pub async fn from_env() -> Option<Services> {
        let Some(nats) = std::env::var("KEZ_TEST_NATS_URL")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            crate::skipped::skipped("PostgreSQL + NATS cluster", "KEZ_TEST_NATS_URL");
            return None;
        };
        let db = backend::Postgres::from_env().await?;
        // Connect once here so an unreachable NATS is reported as such, not as a kezd that
        // would not start.
        let broker = kezd::broker::NatsBroker::connect(&nats, &prefix())
            .await
            .unwrap_or_else(|e| panic!("KEZ_TEST_NATS_URL is not a usable NATS URL: {e:?}"));
        assert!(
            kezd::broker::Broker::connected(&broker),
            "KEZ_TEST_NATS_URL is set but NATS is unreachable"
        );
        Some(Services { db, nats })
    }
}

/// A NATS subject prefix no other test uses, so tests sharing one NATS cannot see each
/// other's messages.
pub fn prefix() -> String {
    let mut nonce = [0u8; 6];
    OsRng.fill_bytes(&mut nonce);
    format!("kez_test_{}.chat", hex::encode(nonce))
}

/// A port that was free a moment ago (the process binds it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// How one kezd of the cluster is configured.
#[derive(Debug, Clone)]
pub struct Options {
    pub server_name: String,
    pub database_url: String,
    pub broker_url: String,
    pub broker_prefix: String,
    pub keep_alive_secs: u64,
    /// `[log] level`.
    pub log_level: &'static str,
    /// `[rate]`: every quota out of the way (all test clients share 127.0.0.1 and send fast)
    /// unless a test sets one.
    pub rate: BTreeMap<&'static str, u64>,
    /// More TOML tables (`[federation]` …), appended to the file.
    pub extra_toml: String,
}

impl Options {
    /// A cluster member on `services` with NATS prefix `prefix` and the default keep-alive.
    pub fn new(services: &Services, prefix: &str) -> Options {
        Options {
            server_name: SERVER.to_owned(),
            database_url: services.db.url().to_owned(),
            broker_url: services.nats.clone(),
            broker_prefix: prefix.to_owned(),
            keep_alive_secs: 15,
            log_level: "warn",
            rate: [
                "client_per_minute",
                "register_per_hour",
                "sender_per_minute",
                "recipient_per_minute",
                "recipient_strangers_per_minute",
                "first_contacts_per_hour",
            ]
            .into_iter()
            .map(|key| (key, 1_000_000))
            .collect(),
            extra_toml: String::new(),
        }
    }

    fn toml(&self, port: u16, data_dir: &std::path::Path) -> String {
        // Each key is written as a TOML string/integer literal.
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let rate: String = self
            .rate
            .iter()
            .map(|(key, value)| format!("{key} = {value}\n"))
            .collect();
        format!(
            "bind = \"127.0.0.1:{port}\"\nserver_name = {}\n\
             public_base_url = \"http://{}\"\ndata_dir = {}\ndatabase_url = {}\n\
             broker_url = {}\nbroker_prefix = {}\n\
             [log]\nlevel = {}\n\
             [stream]\nkeep_alive_secs = {}\n\
             [registration]\npolicy = \"open\"\n\
             [rate]\n{rate}{}\n",
            quote(&self.server_name),
            self.server_name,
            quote(&data_dir.display().to_string()),
            quote(&self.database_url),
            quote(&self.broker_url),
            quote(&self.broker_prefix),
            quote(self.log_level),
            self.keep_alive_secs,
            self.extra_toml,
        )
    }
}

/// One `kezd serve` process and a client for it. Killed (SIGKILL) when dropped.
pub struct Kezd {
    child: Child,
    pub api: Api,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kezd {
    /// Starts `kezd serve` with `options` and waits until it answers its health check;
    /// retries on another port if the chosen one was taken in between.
    pub async fn start(options: &Options) -> Kezd {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        Kezd::start_with(dir, |port| options.toml(port, &data)).await
    }

    /// Starts `kezd serve` configured by `config(port)`, its config file and log in `dir`;
    /// retries on another port if the chosen one was taken in between.
    pub async fn start_with(dir: tempfile::TempDir, config: impl Fn(u16) -> String) -> Kezd {
        let mut dir = dir;
        for _attempt in 0..3 {
            match Kezd::start_once(dir, &config).await {
                Ok(kezd) => return kezd,
                Err((back, log)) => {
                    eprintln!("kezd did not start:\n{log}");
                    dir = back;
                }
            }
        }
        panic!("kezd did not start in three attempts");
    }

    /// One attempt: the daemon serving, or its directory back with the end of its log when
    /// it exited at start.
    pub async fn start_once(
        dir: tempfile::TempDir,
        config: impl Fn(u16) -> String,
    ) -> Result<Kezd, (tempfile::TempDir, String)> {
        let log = dir.path().join("kezd.log");
        let config_file = dir.path().join("kezd.toml");
        let port = free_port();
        std::fs::write(&config_file, config(port)).expect("write the config");
        let mut command = Command::new(env!("CARGO_BIN_EXE_kezd"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_file)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .kill_on_drop(true);
        // The test's own environment (KEZ_TEST_*) must not configure the daemon.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KEZ_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("kezd starts");
        let api = Api::new(format!("http://127.0.0.1:{port}"));
        if wait_until_serving(&mut child, &api, &log).await {
            Ok(Kezd {
                child,
                api,
                log,
                _dir: dir,
            })
        } else {
            let tail = tail(&log);
            Err((dir, tail))
        }
    }

    /// The configuration file it was started with (its `data_dir` beside it), for `kezd
    /// admin --config`.
    pub fn config_file(&self) -> PathBuf {
        self._dir.path().join("kezd.toml")
    }

    /// The server document (SPEC §9.2).
    pub async fn server_document(&self) -> serde_json::Value {
        self.api
            .get("/.well-known/kez")
            .await
            .json()
            .await
            .expect("the server document")
    }

    /// The value of the gauge or counter `name` (without labels) on `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .api
            .get("/metrics")
            .await
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} on /metrics:\n{text}"))
            .trim()
            .parse()
            .expect("a number")
    }

    /// SIGKILL, and wait until the process is gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill -9 kezd");
    }

    /// The end of the daemon's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// The daemon's whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Polls `/v1/healthz` until it answers (true) or the process exits (false). Readiness has no
/// event to await from outside the process, so this is a bounded poll.
async fn wait_until_serving(child: &mut Child, api: &Api, log: &std::path::Path) -> bool {
    let deadline = tokio::time::Instant::now() + LIVENESS * 3;
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            eprintln!("kezd exited at start: {status}");
            return false;
        }
        let health = api.http.get(api.url("/v1/healthz")).send().await;
        if health.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kezd never answered:\n{}",
            tail(log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last 40 lines of a log file.
fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A `nats-server` of the test's own on a fixed port, so both kezd reconnect to the same
/// address after a restart. Killed when dropped.
pub struct NatsServer {
    port: u16,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts `nats-server` (from PATH) on a free port and waits until it accepts.
    pub async fn start() -> NatsServer {
        let mut server = NatsServer {
            port: free_port(),
            child: None,
        };
        server.restart().await;
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: connections break, nothing is flushed).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill nats-server");
        }
    }

    /// Starts the server again on the same port and waits until it accepts connections.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("the cluster tests need nats-server on PATH: {e}"));
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + LIVENESS;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not listen on {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
