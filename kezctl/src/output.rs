//! Output for people and for scripts. Results go to stdout: human text by default, JSON with
//! `--json` (one document per command, or one JSON object per line for `listen`). Progress,
//! warnings and other commentary go to stderr, so what a script captures from stdout is only
//! the result (`id=$(kezctl send …)` holds just the message id).
//!
//! A reader that stops reading is normal Unix use (`kezctl inbox | head -1`): a write to a
//! closed pipe becomes [`CliError::StdoutClosed`], which ends the command quietly with status 0
//! (the reader had what it wanted), instead of the panic `println!` would raise. Commentary on
//! stderr is best effort: a closed stderr never stops a command.

use std::fmt::Display;
use std::io::Write;

use serde_json::Value;

use crate::error::CliError;

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    /// Human text, or JSON when `json`.
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    /// Whether `--json` is on.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a command's result: `human` for people, `json` (pretty) for scripts.
    pub fn result(&self, human: impl Display, json: &Value) -> Result<(), CliError> {
        if self.json {
            let text = serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string());
            line(text)
        } else {
            let text = human.to_string();
            if text.is_empty() {
                return Ok(());
            }
            line(text)
        }
    }

    /// Prints one item of a stream of results: a line of text, or one compact JSON line.
    pub fn item(&self, human: impl Display, json: &Value) -> Result<(), CliError> {
        if self.json { line(json) } else { line(human) }
    }

    /// A status, progress or warning line on stderr (both modes).
    pub fn status(&self, text: impl Display) {
        // Commentary only: if stderr is gone, the command still does its work.
        let _ = writeln!(std::io::stderr(), "kezctl: {text}");
    }
}

/// Writes `text` and a newline to stdout.
pub fn line(text: impl Display) -> Result<(), CliError> {
    write_stdout(format!("{text}\n").as_bytes())
}

/// Writes `bytes` to stdout and flushes them, so a closed pipe is noticed at this write and
/// not at exit; a closed pipe is [`CliError::StdoutClosed`].
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                CliError::StdoutClosed
            } else {
                CliError::Terminal(e)
            }
        })
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian; no time zone
/// database needed, and UTC is unambiguous between sender and reader).
pub fn format_ms(ms: u64) -> String {
    let t = kez_spec::clock::civil(i64::try_from(ms).unwrap_or(i64::MAX));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC Appendix A's reference time.
    #[test]
    fn dates() {
        assert_eq!(format_ms(1_767_225_600_000), "2026-01-01 00:00:00 UTC");
        assert_eq!(format_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
