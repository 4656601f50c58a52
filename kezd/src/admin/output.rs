//! How `kezd admin` prints an outcome: aligned columns and sentences for a person by default,
//! the outcome's JSON (request.rs, one line) with `--json` for scripts. Times are UTC, as
//! `2026-12-07T09:58:00Z`.

use std::fmt::Write as _;

use super::request::{Outcome, ServerEntry};
use crate::store::{DestinationReport, TokenRecord, UserEntry};

/// The outcome as one line of JSON.
pub fn json(outcome: &Outcome) -> String {
    serde_json::to_string(outcome).unwrap_or_default()
}

/// The outcome for a person; ends with a newline unless empty.
pub fn human(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Users { users, next } => users_table(users, next.as_deref()),
        Outcome::User { user, latest_seq } => user_detail(user, *latest_seq),
        Outcome::Done { message, .. } => format!("{message}\n"),
        Outcome::Servers { servers } => servers_table(servers),
        Outcome::TokenCreated {
            id,
            token,
            uses_allowed,
            expires_at_ms,
        } => format!(
            "{token}\n\ntoken {id}: {}, {}. Hand it to the person you invite; it is not shown \
             again (kezd admin tokens revoke {id} withdraws it).\n",
            uses(*uses_allowed),
            expiry(*expires_at_ms),
        ),
        Outcome::Tokens { tokens } => tokens_table(tokens),
        Outcome::Outbox { destinations } => outbox_table(destinations),
        Outcome::Backup { file, bytes } => {
            format!("backup written to {} ({bytes} bytes)\n", file.display())
        }
    }
}

fn users_table(users: &[UserEntry], next: Option<&str>) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|user| {
            vec![
                user.handle.clone(),
                utc(user.registered_at_ms),
                user.suspension
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |s| format!("since {}", utc(s.at_ms))),
            ]
        })
        .collect();
    let mut text = table(&["HANDLE", "REGISTERED", "SUSPENDED"], &rows);
    if users.is_empty() {
        text = "no users\n".to_owned();
    }
    if let Some(last) = next {
        let _ = writeln!(text, "more: kezd admin users list --after {last}");
    }
    text
}

fn user_detail(user: &UserEntry, latest_seq: u64) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "handle:     {}", user.handle);
    let _ = writeln!(text, "primary:    {}", user.primary);
    let _ = writeln!(text, "registered: {}", utc(user.registered_at_ms));
    match &user.suspension {
        Some(suspension) => {
            let _ = write!(text, "suspended:  since {}", utc(suspension.at_ms));
            if let Some(reason) = &suspension.reason {
                let _ = write!(text, " ({reason})");
            }
            text.push('\n');
        }
        None => text.push_str("suspended:  no\n"),
    }
    let _ = writeln!(text, "inbox seq:  {latest_seq}");
    text
}

fn servers_table(servers: &[ServerEntry]) -> String {
    if servers.is_empty() {
        return "no server is blocked or listed\n".to_owned();
    }
    let rows: Vec<Vec<String>> = servers
        .iter()
        .map(|entry| {
            vec![
                entry.server.clone(),
                word(&entry.rule),
                word(&entry.source),
                entry.since_ms.map_or_else(|| "-".to_owned(), utc),
                entry.reason.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    table(&["SERVER", "RULE", "SOURCE", "SINCE", "REASON"], &rows)
}

fn tokens_table(tokens: &[TokenRecord]) -> String {
    if tokens.is_empty() {
        return "no tokens\n".to_owned();
    }
    let now = super::context::now_ms();
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            let state = match t.refusal(now) {
                None => "valid".to_owned(),
                Some(refusal) => word(&refusal),
            };
            vec![
                t.id.clone(),
                utc(t.created_at_ms),
                t.uses_allowed
                    .map_or_else(|| format!("{}/-", t.uses), |n| format!("{}/{n}", t.uses)),
                t.expires_at_ms.map_or_else(|| "-".to_owned(), utc),
                state,
            ]
        })
        .collect();
    table(&["ID", "CREATED", "USES", "EXPIRES", "STATE"], &rows)
}

/// `1 registration`, `3 registrations`, `any number of registrations`.
fn uses(allowed: Option<u32>) -> String {
    match allowed {
        None => "any number of registrations".to_owned(),
        Some(1) => "1 registration".to_owned(),
        Some(n) => format!("{n} registrations"),
    }
}

/// `expires 2026-12-14T09:58:00Z` or `never expires`.
fn expiry(at_ms: Option<i64>) -> String {
    at_ms.map_or_else(
        || "never expires".to_owned(),
        |ms| format!("expires {}", utc(ms)),
    )
}

fn outbox_table(destinations: &[DestinationReport]) -> String {
    if destinations.is_empty() {
        return "the outbox is empty\n".to_owned();
    }
    let when = |ms: Option<i64>| ms.map_or_else(|| "-".to_owned(), utc);
    let rows: Vec<Vec<String>> = destinations
        .iter()
        .map(|d| {
            vec![
                d.destination.clone(),
                d.pending.to_string(),
                d.failures.to_string(),
                when(d.retry_at_ms),
                when(d.next_attempt_ms),
                when(d.oldest_ms),
            ]
        })
        .collect();
    table(
        &[
            "DESTINATION",
            "PENDING",
            "FAILURES",
            "BACKOFF UNTIL",
            "NEXT ATTEMPT",
            "OLDEST",
        ],
        &rows,
    )
}

/// A value's JSON word (`block`, `config`).
fn word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Columns padded to their widest cell, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Unix milliseconds as a UTC time to the second, `2026-12-07T09:58:00Z`.
pub fn utc(ms: i64) -> String {
    let t = kez_spec::clock::civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_to_the_second() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_637_480_999), "2026-12-07T09:58:00Z");
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![vec!["alice".to_owned(), "x".to_owned()]];
        assert_eq!(table(&["H", "WIDE"], &rows), "H      WIDE\nalice  x\n");
    }
}
