//! A `kezd serve` child process whose log (JSON lines on stderr) the test reads as events:
//! every wait is for a log line, bounded only as a safety net.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The longest a log event may take; only a hang reaches it.
const EVENT_WAIT: Duration = Duration::from_secs(120);

/// A running kezd and its log.
pub struct Daemon {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Daemon {
    /// Starts `kezd serve` with `args` (which must not set the log format) on
    /// 127.0.0.1:0 and waits for its `listening` line.
    pub async fn start(args: &[&str], data: &Path) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kezd"));
        command
            .env_clear()
            .arg("serve")
            .args(args)
            .args(["--bind", "127.0.0.1:0", "--set", "log.format=json"])
            .arg("--data-dir")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("kezd starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (send, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                // Lines before logging starts (errors) are not JSON; keep them as text.
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if send.send(value).is_err() {
                    break;
                }
            }
        });
        let mut daemon = Daemon {
            child,
            lines,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let listening = daemon.wait_for(|line| message(line) == "listening").await;
        daemon.addr = listening["fields"]["address"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("the listening line names the address");
        daemon
    }

    /// The next log line `matches` accepts; lines before it are skipped.
    pub async fn wait_for(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let wait = async {
            loop {
                match self.lines.recv().await {
                    Some(line) if matches(&line) => return line,
                    Some(_) => {}
                    None => panic!("kezd's log ended (it exited) before the awaited line"),
                }
            }
        };
        tokio::time::timeout(EVENT_WAIT, wait)
            .await
            .expect("the awaited log line never came")
    }

    /// Sends SIGHUP (through kill(1): the tests use no unsafe code).
    pub fn hang_up(&self) {
        self.signal("-HUP");
    }

    /// Sends SIGTERM and waits until the process has exited, successfully.
    pub async fn terminate(mut self) {
        self.signal("-TERM");
        let status = tokio::time::timeout(EVENT_WAIT, self.child.wait())
            .await
            .expect("kezd stops after SIGTERM")
            .expect("exit status");
        assert!(status.success(), "kezd exited with {status}");
    }

    fn signal(&self, which: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([which, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

/// A log line's message.
pub fn message(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or_default()
}
