//! Running `kezd admin …` as an operator does, and a daemon set up for it.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::kez::{Api, SERVER};
use crate::daemon::Daemon;

/// What a run of `kezd admin` left.
#[derive(Debug)]
pub struct Ran {
    /// The exit code.
    pub code: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Ran {
    /// The outcome printed by `--json`, after checking the exit code 0.
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "kezd admin failed: {self:?}");
        serde_json::from_str(self.stdout.trim()).expect("one JSON line")
    }
}

/// Where `kezd admin` finds the server: its data directory and any other flags (a
/// configuration file, a database URL).
#[derive(Debug, Clone)]
pub struct Target {
    /// `--data-dir`: where the admin socket and the SQLite store are.
    pub data_dir: PathBuf,
    /// More flags, given to the daemon and to every admin command.
    pub flags: Vec<String>,
}

impl Target {
    /// A server whose data lives in `data_dir`, configured by `flags`, with the limits out
    /// of the way of tests (every client is 127.0.0.1).
    pub fn new(data_dir: &Path, flags: &[&str]) -> Target {
        let limits = [
            "--set",
            "rate.client_per_minute=1000000",
            "--set",
            "rate.register_per_hour=1000000",
        ];
        Target::bare(data_dir, &[flags, &limits[..]].concat())
    }

    /// A server whose data lives in `data_dir`, configured by `flags` alone.
    pub fn bare(data_dir: &Path, flags: &[&str]) -> Target {
        Target {
            data_dir: data_dir.to_path_buf(),
            flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    /// Runs `kezd admin <args>`.
    pub async fn admin(&self, args: &[&str]) -> Ran {
        let Output {
            status,
            stdout,
            stderr,
        } = tokio::process::Command::new(env!("CARGO_BIN_EXE_kezd"))
            .env_clear()
            .arg("admin")
            .args(args)
            .args(&self.flags)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .await
            .expect("kezd admin runs");
        Ran {
            code: status.code().expect("exited, not killed"),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// `kezd admin <args> --json`, checked to exit 0; the outcome.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        self.admin(&args).await.json()
    }

    /// Starts `kezd serve` on this server's data and flags, named as the test users' server.
    pub async fn serve(&self) -> (Daemon, Api) {
        let mut args: Vec<&str> = vec!["--server-name", SERVER];
        args.extend(self.flags.iter().map(String::as_str));
        let daemon = Daemon::start(&args, &self.data_dir).await;
        let api = Api::new(format!("http://{}", daemon.addr));
        (daemon, api)
    }

    /// The admin socket's path.
    pub fn socket(&self) -> PathBuf {
        self.data_dir.join("admin.sock")
    }
}
