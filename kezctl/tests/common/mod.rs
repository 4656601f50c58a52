//! Test harness for kezctl's end-to-end tests: a real `kezd` child process on 127.0.0.1 with
//! a temporary data directory, and kezctl itself run as a process (the binary users get),
//! each persona in its own configuration directory. No in-process shortcuts: these tests see
//! exactly what a person at a terminal or a script sees — stdout, stderr and the exit code.
//!
//! Cross-server tests (`tests/federation.rs`) use `kez_testnet::Testnet` instead of [`Kezd`]:
//! a [`Persona`] gets the testnet's DNS server and CA through [`Persona::env`].

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// The passphrase test personas use.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// How long a test waits for something that must happen. A liveness bound, not a measurement.
pub const LIVENESS: Duration = Duration::from_secs(30);

/// A kezd process serving plain HTTP on 127.0.0.1 as the server `localhost:<port>`.
pub struct Kezd {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory and log; removed on drop.
    dir: tempfile::TempDir,
    /// Flags it runs with besides the standard ones.
    extra: Vec<String>,
}

impl Kezd {
    /// Starts kezd and waits until `/v1/healthz` answers.
    pub fn start() -> Kezd {
        Kezd::start_with(&[])
    }

    /// Starts kezd with `extra` flags too (`--set registration.policy=token`) and waits until
    /// `/v1/healthz` answers.
    pub fn start_with(extra: &[&str]) -> Kezd {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let mut last_error = String::new();
        // A port picked free can be taken by someone else before kezd binds it: try again.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let child = spawn_kezd(port, dir.path(), &extra);
            let mut kezd = Kezd {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                dir,
                extra: extra.clone(),
            };
            match kezd.wait_ready() {
                Ok(()) => return kezd,
                Err(e) => last_error = e,
            }
        }
        panic!("cannot start kezd: {last_error}");
    }

    /// Kills kezd (SIGKILL: every connection drops at once) and starts it again on the same
    /// port with the same data, waiting until it answers.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn_kezd(self.addr.port(), self.dir.path(), &self.extra);
        if let Err(e) = self.wait_ready() {
            panic!("cannot restart kezd: {e}");
        }
    }

    /// Kills kezd and reaps it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + LIVENESS;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("kezd exited with {status}: {}", self.log()));
            }
            if let Ok((200, _)) = self.http("GET", "/v1/healthz", None) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("kezd did not answer in time: {}", self.log()))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server name, `localhost:<port>`.
    pub fn name(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    /// `handle@localhost:<port>`.
    pub fn address(&self, handle: &str) -> String {
        format!("{handle}@{}", self.name())
    }

    /// `kezd admin <args> --json` on this kezd, as its operator runs it: the outcome.
    pub fn admin(&self, args: &[&str]) -> serde_json::Value {
        let binary = kez_testnet::kezd_binary().expect("kezd binary (cargo build -p kezd)");
        let output = Command::new(&binary)
            .arg("admin")
            .args(args)
            .arg("--json")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .env_remove("KEZ_CONFIG")
            .output()
            .expect("run kezd admin");
        assert!(output.status.success(), "kezd admin {args:?}: {output:?}");
        serde_json::from_slice(&output.stdout).expect("one JSON line")
    }

    /// kezd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kezd.log")).unwrap_or_default()
    }

    /// One HTTP/1.1 request over a fresh connection: for what kezctl must not be used for
    /// (injecting a crafted envelope). Returns the status and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let body = body.unwrap_or("");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.name(),
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }
}

impl Drop for Kezd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs kezd on 127.0.0.1:`port` as `localhost:<port>` with `extra` flags, its data and log in
/// `dir` (the log appended, so a restart keeps what came before).
fn spawn_kezd(port: u16, dir: &Path, extra: &[String]) -> Child {
    let binary = kez_testnet::kezd_binary().expect("kezd binary (cargo build -p kezd)");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("kezd.log"))
        .expect("log file");
    Command::new(&binary)
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--server-name")
        .arg(format!("localhost:{port}"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        // Every test client is 127.0.0.1: lift the per-address limits.
        .args(["--set", "rate.client_per_minute=1000000"])
        .args(["--set", "rate.register_per_hour=1000000"])
        .args(["--set", "log.level=warn"])
        .args(extra)
        .env_remove("KEZ_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("spawn kezd")
}

/// A port nothing listens on right now, and that no other test of this binary was given. The
/// kernel can give two tests that start at once the same free port: the kezd started second
/// then fails to bind it while the first one answers its health check, and the two tests
/// share a server (seen as a handle already taken, or a refused connection).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if GIVEN.lock().expect("ports given").insert(port) {
            return port;
        }
    }
}

/// A running kezctl whose stdout and stderr lines are collected as they come, so a test can
/// wait for a line (an event) rather than for time to pass.
pub struct Watched {
    /// The process.
    pub child: Child,
    lines: mpsc::Receiver<(bool, String)>,
    /// Every line seen so far: (from stdout, text).
    pub seen: Vec<(bool, String)>,
}

impl Watched {
    /// Spawns `command` with piped stdout and stderr.
    pub fn spawn(mut command: Command) -> Watched {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kezctl");
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let out_sender = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_sender.send((true, line));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send((false, line));
            }
        });
        Watched {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most [`LIVENESS`]) for a line containing `needle` on stdout (`on_stdout`) or
    /// stderr, and returns it.
    pub fn wait_for(&mut self, on_stdout: bool, needle: &str) -> String {
        let deadline = Instant::now() + LIVENESS;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((is_stdout, line)) => {
                    self.seen.push((is_stdout, line.clone()));
                    if is_stdout == on_stdout && line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line containing {needle:?} in time: {:#?}", self.seen),
            }
        }
    }

    /// Waits for the process to exit, collecting the rest of its output; returns its code.
    pub fn finish(&mut self) -> Option<i32> {
        let status = self.child.wait().expect("wait for kezctl");
        // The reader threads end when the pipes close, after the exit.
        while let Ok(line) = self.lines.recv_timeout(LIVENESS) {
            self.seen.push(line);
        }
        status.code()
    }

    /// Everything printed so far, both streams.
    pub fn text(&self) -> String {
        let lines: Vec<&str> = self.seen.iter().map(|(_, l)| l.as_str()).collect();
        lines.join("\n")
    }
}

/// The result of one kezctl run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "kezctl failed: {self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        self.stdout
    }

    /// stdout parsed as one JSON document.
    pub fn json(self) -> serde_json::Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Asserts failure with `code` and no panic.
    pub fn fails_with(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        self
    }
}

/// One person: a configuration directory of their own and the passphrase they use.
pub struct Persona {
    /// The configuration directory, or the home directory for [`Persona::at_home`].
    pub dir: tempfile::TempDir,
    /// `KEZ_PASSPHRASE` for this persona's runs (None: unset).
    pub passphrase: Option<String>,
    /// Further environment for every run (`KEZ_RESOLVER`, `KEZ_CA_FILE` on a testnet).
    pub env: Vec<(String, String)>,
    /// Whether runs name the directory with `--config-dir` (else it is `HOME`).
    explicit_dir: bool,
}

impl Persona {
    /// A persona with an empty configuration directory, named with `--config-dir`.
    pub fn new() -> Persona {
        Persona {
            dir: tempfile::tempdir().expect("temp dir"),
            passphrase: Some(PASSPHRASE.to_owned()),
            env: Vec::new(),
            explicit_dir: true,
        }
    }

    /// A persona as a person at a terminal is: no `--config-dir`, an empty `HOME` of its own
    /// and no `XDG_*` variables, so kezctl uses its default directories.
    pub fn at_home() -> Persona {
        Persona {
            explicit_dir: false,
            ..Persona::new()
        }
    }

    /// The configuration directory.
    pub fn config_dir(&self) -> PathBuf {
        if self.explicit_dir {
            self.dir.path().to_path_buf()
        } else {
            self.dir.path().join(".config/kez")
        }
    }

    /// A kezctl command for this persona, isolated from the caller's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kezctl"));
        if self.explicit_dir {
            command.arg("--config-dir").arg(self.dir.path());
        }
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("KEZ_IDENTITY")
            .env_remove("KEZ_SERVER")
            .env_remove("KEZ_CA_FILE")
            .env_remove("KEZ_CONFIG_DIR")
            .env_remove("KEZ_PASSPHRASE")
            .env_remove("KEZ_RESOLVER")
            .env_remove("KEZ_INVITE_TOKEN")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let Some(p) = &self.passphrase {
            command.env("KEZ_PASSPHRASE", p);
        }
        command
    }

    /// Runs kezctl to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run kezctl"))
    }

    /// Runs kezctl with `stdin` as its standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kezctl");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).expect("write stdin");
        }
        Run::from(child.wait_with_output().expect("kezctl output"))
    }

    /// Makes an identity and registers `handle` on `kezd` with it.
    pub fn register(&self, kezd: &Kezd, handle: &str) -> String {
        self.run(&["keys", "new"]).ok();
        let address = kezd.address(handle);
        self.run(&["register", &address, "--server", &kezd.url()])
            .ok();
        address
    }

    /// The identity's primary, from `keys show --json`.
    pub fn primary(&self) -> String {
        let shown = self.run(&["keys", "show", "--json"]).json();
        shown["primary"].as_str().expect("primary").to_owned()
    }

    /// A path inside the configuration directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.config_dir().join(rel)
    }
}

/// The texts of an `inbox --json` document's messages, in order ("" for a message not shown).
pub fn texts(inbox: &serde_json::Value) -> Vec<String> {
    inbox["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect()
}
