//! One kezd node of the testnet: its fixed identity (name, port, files) and the child process
//! running it. The process is the real `kezd` binary, not the library, so the testnet tests
//! what ships (CLI, config file, signals) and the conformance suite can drive any build.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};
use tokio::process::{Child, Command};

use crate::ca::CertFiles;
use crate::error::TestnetError;

/// Lines of a node's log shown in an error when it fails to come up.
pub const LOG_TAIL_LINES: usize = 40;

/// How long `stop` waits after SIGTERM before it sends SIGKILL: kezd's default drain timeout
/// (`http.drain_timeout_ms`, 10 s) plus a margin.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// How long `Drop` waits for killed children to be reaped. Dropping cannot await, so it polls.
const DROP_REAP_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause between two health checks while a node starts.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Timeout of one health-check request.
const READY_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A kezd node: name, port and files stay the same across restarts, so a restarted node keeps
/// its data and its place in DNS.
#[derive(Debug)]
pub struct Node {
    /// The server name (SPEC §2.2), e.g. `a.test`.
    pub(crate) name: String,
    /// The SRV target published for it, e.g. `node-a.test`.
    pub(crate) srv_target: String,
    /// The loopback address it listens on (see `addresses.rs`).
    pub(crate) ip: Ipv4Addr,
    /// The port it listens on.
    pub(crate) port: u16,
    /// Whether it serves HTTPS.
    pub(crate) tls: bool,
    /// The name its certificate is valid for; what the readiness check connects to.
    pub(crate) cert_name: String,
    /// The node's directory: config, certificate, log and data live here.
    pub(crate) dir: PathBuf,
    /// kezd's `data_dir`.
    pub(crate) data_dir: PathBuf,
    /// The generated configuration file.
    pub(crate) config_path: PathBuf,
    /// kezd's stdout and stderr, appended across restarts.
    pub(crate) log_path: PathBuf,
    /// The TLS certificate and key, when TLS is on.
    pub(crate) cert_files: Option<CertFiles>,
    /// The running process; `None` when killed or stopped.
    pub(crate) child: Option<Child>,
    /// How many times the process has been started, for log markers.
    pub(crate) starts: u32,
}

impl Node {
    /// The server name, e.g. `a.test`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SRV target published for the node, e.g. `node-a.test`.
    pub fn srv_target(&self) -> &str {
        &self.srv_target
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its own loopback address and port, e.g. `127.0.1.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    /// `https://a.test:<port>` (or `http://` without TLS): the `public_base_url`, no trailing
    /// slash.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.name, self.port)
    }

    /// `base_url()` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Whether the node serves HTTPS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The node's own directory (config, certificate, log, data).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// kezd's data directory (database, `server-keys.json`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The generated kezd configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The log file with kezd's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The TLS certificate and key files, when TLS is on.
    pub fn cert_files(&self) -> Option<&CertFiles> {
        self.cert_files.as_ref()
    }

    /// The process id while the node runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Whether a process was started and not yet killed or stopped by the testnet. (A process
    /// that crashed by itself still counts until the testnet notices.)
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The last `lines` lines of the node's log.
    pub fn log_tail(&self, lines: usize) -> String {
        match fs::read(&self.log_path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(e) => format!("(log {} unreadable: {e})", self.log_path.display()),
        }
    }

    /// Spawns `kezd --config <file> serve`, appending its output to the log.
    pub(crate) fn spawn(&mut self, kezd_bin: &Path) -> Result<(), TestnetError> {
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| TestnetError::io(format!("opening {}", self.log_path.display()), e))?;
        // A marker separates the runs of a restarted node in its one log file.
        writeln!(
            log,
            "==== kez-testnet: start #{} of {} on {} ====",
            self.starts,
            self.name,
            self.addr()
        )
        .map_err(|e| TestnetError::io(format!("writing {}", self.log_path.display()), e))?;
        let stderr = clone_file(&log, &self.log_path)?;

        let mut command = Command::new(kezd_bin);
        command
            .arg("--config")
            .arg(&self.config_path)
            .arg("serve")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            // Belt and braces with the explicit kill in `Testnet`'s Drop: tokio kills the
            // child when its handle is dropped, e.g. when start-up fails half-way.
            .kill_on_drop(true);
        // The caller's KEZ_* variables (a developer's KEZ_CONFIG, KEZ_BIND...) would override
        // the generated file, so the child sees none of them.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("KEZ_") {
                command.env_remove(&key);
            }
        }
        let child = command.spawn().map_err(|source| TestnetError::Spawn {
            node: self.name.clone(),
            source,
        })?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls `GET /v1/healthz` until it answers 200 with this node's name, the process exits,
    /// or `timeout` passes.
    pub(crate) async fn wait_ready(
        &mut self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), TestnetError> {
        let scheme = if self.tls { "https" } else { "http" };
        // Connect by the name the certificate is valid for, which is the SRV target for a
        // node configured with `cert_for_srv_target_only`.
        let url = format!("{scheme}://{}:{}/v1/healthz", self.cert_name, self.port);
        let started = Instant::now();
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err(TestnetError::NotRunning(self.name.clone()));
            };
            let exited = child.try_wait().map_err(|source| TestnetError::Signal {
                node: self.name.clone(),
                source,
            })?;
            if let Some(status) = exited {
                self.child = None;
                self.print_log_tail(&format!("exited during start-up ({status})"));
                return Err(TestnetError::NodeExited {
                    node: self.name.clone(),
                    status: status.to_string(),
                    log_tail: self.log_tail(LOG_TAIL_LINES),
                });
            }
            let last_error = match self.health_check(client, &url).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if started.elapsed() >= timeout {
                self.print_log_tail(&format!("did not come up: {last_error}"));
                return Err(TestnetError::NodeNotReady {
                    node: self.name.clone(),
                    waited: started.elapsed(),
                    last_error,
                    log_tail: self.log_tail(LOG_TAIL_LINES),
                });
            }
            tokio::time::sleep(READY_POLL_INTERVAL).await;
        }
    }

    /// Prints the log tail on stderr: `expect` on the error shows its Debug form, where the
    /// log's line breaks are escapes, and a test harness shows stderr of failed tests only.
    fn print_log_tail(&self, what: &str) {
        eprintln!(
            "kez-testnet: node {} {what}; last lines of {}:\n{}",
            self.name,
            self.log_path.display(),
            self.log_tail(LOG_TAIL_LINES)
        );
    }

    /// One health check; the error text is for the "not ready" message only.
    async fn health_check(&self, client: &reqwest::Client, url: &str) -> Result<(), String> {
        let response = client
            .get(url)
            .timeout(READY_REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        let body: serde_json::Value = response.json().await.map_err(|e| error_chain(&e))?;
        // Another process could hold the port (ports are picked, released, then bound by
        // kezd): only our node answers with our name.
        match body.get("server").and_then(serde_json::Value::as_str) {
            Some(server) if server == self.name => Ok(()),
            other => Err(format!("healthz names server {other:?}, not {}", self.name)),
        }
    }

    /// SIGKILL and reap.
    pub(crate) async fn kill(&mut self) -> Result<(), TestnetError> {
        let Some(mut child) = self.child.take() else {
            return Err(TestnetError::NotRunning(self.name.clone()));
        };
        child.kill().await.map_err(|source| TestnetError::Signal {
            node: self.name.clone(),
            source,
        })
    }

    /// SIGTERM, then wait up to [`STOP_TIMEOUT`] for a graceful exit; SIGKILL after that.
    pub(crate) async fn stop(&mut self) -> Result<ExitStatus, TestnetError> {
        self.terminate()?;
        self.wait_stopped().await
    }

    /// Sends SIGTERM without waiting, so that several nodes drain at the same time.
    pub(crate) fn terminate(&mut self) -> Result<(), TestnetError> {
        let Some(child) = self.child.as_mut() else {
            return Err(TestnetError::NotRunning(self.name.clone()));
        };
        // `id()` is None once the child has been reaped; then there is nothing to signal.
        let Some(pid) = child.id() else {
            return Ok(());
        };
        let pid = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| TestnetError::Signal {
                node: self.name.clone(),
                source: std::io::Error::other(format!("invalid pid {pid}")),
            })?;
        kill_process(pid, Signal::TERM).map_err(|e| TestnetError::Signal {
            node: self.name.clone(),
            source: e.into(),
        })
    }

    /// Waits for the process to exit after [`Node::terminate`], killing it after
    /// [`STOP_TIMEOUT`].
    pub(crate) async fn wait_stopped(&mut self) -> Result<ExitStatus, TestnetError> {
        let Some(mut child) = self.child.take() else {
            return Err(TestnetError::NotRunning(self.name.clone()));
        };
        let io_error = |source| TestnetError::Signal {
            node: self.name.clone(),
            source,
        };
        match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
            Ok(status) => status.map_err(io_error),
            Err(_) => {
                child.kill().await.map_err(io_error)?;
                child.wait().await.map_err(io_error)
            }
        }
    }

    /// SIGKILL and reap without awaiting, for `Drop`: polls for at most
    /// [`DROP_REAP_TIMEOUT`] so that no zombie or orphan outlives the testnet.
    pub(crate) fn kill_blocking(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Errors mean the process is already gone; Drop has nobody to report to.
        let _ = child.start_kill();
        let deadline = Instant::now() + DROP_REAP_TIMEOUT;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        // Still not reaped: tokio's orphan queue reaps it later (kill_on_drop).
    }
}

/// A second handle on the log file, so stdout and stderr share it.
fn clone_file(file: &File, path: &Path) -> Result<File, TestnetError> {
    file.try_clone()
        .map_err(|e| TestnetError::io(format!("duplicating {}", path.display()), e))
}

/// An error and its sources on one line: reqwest's top-level message alone ("error sending
/// request") hides the TLS or connect failure that matters.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
