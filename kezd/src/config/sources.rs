//! Stage one of loading: the layers (file, `KEZ_*` environment, flags) merged into one TOML
//! table, later layers winning key by key. Every value's kind is checked here and where it
//! came from is remembered, so an error can name the key, the value and its source; a key
//! kezd does not know is an error with the nearest known key as a hint.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::keys::{self, Key, Kind};
use super::{ConfigError, Warning};

/// The environment variable that names the configuration file (read by the CLI, not a key).
pub const CONFIG_FILE_VARIABLE: &str = "KEZ_CONFIG";

/// Where settings come from, in increasing precedence after the built-in defaults.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// Environment variables; only `KEZ_*` ones are read. Passed in, not read from the
    /// process, so tests need not mutate the process environment.
    pub env: Vec<(String, String)>,
    /// Settings from command-line flags, applied last.
    pub flags: Vec<FlagSetting>,
}

/// One setting given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSetting {
    /// The dotted key path it sets.
    pub key: String,
    /// The value as typed.
    pub value: String,
    /// How the user wrote it (`--bind`, `--set`), for error messages.
    pub flag: &'static str,
}

/// Where one setting's value came from: what an error names so the operator knows what to
/// edit (a value from the environment is not fixed by editing the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Nobody set it: the built-in default, or derived from other settings.
    Default,
    /// The configuration file.
    File(PathBuf),
    /// A `KEZ_*` environment variable.
    Env(String),
    /// A command-line flag (`--bind`, `--set`).
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("(the default)"),
            Origin::File(path) => write!(f, "in {}", path.display()),
            Origin::Env(name) => write!(f, "from environment variable {name}"),
            Origin::Flag(flag) => write!(f, "from flag {flag}"),
        }
    }
}

/// The layers merged: known keys with values of the right kind, and where each came from.
#[derive(Debug, Default)]
pub struct Merged {
    /// The settings, shaped like the TOML file.
    pub table: Table,
    /// The source of every key in `table`, by dotted path.
    pub origins: BTreeMap<String, Origin>,
    /// What is ignored but worth a line in the log.
    pub warnings: Vec<Warning>,
}

impl Merged {
    /// Where `key` was set (the default when nobody set it).
    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).cloned().unwrap_or(Origin::Default)
    }

    /// The value `key` was set to, if any layer set it.
    pub fn value(&self, key: &str) -> Option<&Value> {
        match key.split_once('.') {
            Some((section, sub)) => self.table.get(section)?.get(sub),
            None => self.table.get(key),
        }
    }

    fn set(&mut self, key: Key, value: Value, origin: Origin) {
        match key.path.split_once('.') {
            Some((section, sub)) => {
                let entry = self
                    .table
                    .entry(section.to_owned())
                    .or_insert_with(|| Value::Table(Table::new()));
                // A section that is not a table was already rejected while reading the file;
                // replacing one here keeps this function total anyway.
                if !entry.is_table() {
                    *entry = Value::Table(Table::new());
                }
                if let Value::Table(section) = entry {
                    section.insert(sub.to_owned(), value);
                }
            }
            None => {
                self.table.insert(key.path.to_owned(), value);
            }
        }
        self.origins.insert(key.path.to_owned(), origin);
    }
}

/// Reads and merges every layer into one table of known keys with values of the right kind.
pub fn merge(sources: &Sources) -> Result<Merged, ConfigError> {
    let mut merged = Merged::default();
    if let Some(path) = &sources.file {
        read_file(path, &mut merged)?;
    }

    for (name, value) in &sources.env {
        // KEZ_FAULTS belongs to fault-injection builds (kezd/src/faults.rs), not the config.
        if !name.starts_with("KEZ_") || name == CONFIG_FILE_VARIABLE || name == "KEZ_FAULTS" {
            continue;
        }
        let origin = Origin::Env(name.clone());
        match keys::from_env_name(name) {
            Some(key) => {
                let value = text_value(key, value, &origin)?;
                merged.set(key, value, origin);
            }
            // kezctl reads KEZ_* variables too, so a variable that looks like no kezd key is
            // someone else's; one that is nearly a key is a typo.
            None => match keys::suggest_env(name) {
                Some(suggestion) => {
                    return Err(ConfigError::UnknownKey {
                        key: name.clone(),
                        origin,
                        suggestion: Some(suggestion),
                    });
                }
                None => merged
                    .warnings
                    .push(Warning::UnknownVariable { name: name.clone() }),
            },
        }
    }

    for flag in &sources.flags {
        let origin = Origin::Flag(flag.flag);
        let key = keys::find(&flag.key).ok_or_else(|| ConfigError::UnknownKey {
            key: flag.key.clone(),
            origin: origin.clone(),
            suggestion: keys::suggest(&flag.key).map(str::to_owned),
        })?;
        let value = text_value(key, &flag.value, &origin)?;
        merged.set(key, value, origin);
    }

    derive_server_name(&mut merged);
    Ok(merged)
}

/// `server_name` when no layer sets it: `localhost` with the port of `bind`, so a development
/// server started with `--bind 127.0.0.1:7000` is the server its own URLs name. Port 443 is
/// left out: a name without a port is reached on 443 (SPEC §2.2, §9.1).
fn derive_server_name(merged: &mut Merged) {
    if merged.value("server_name").is_some() {
        return;
    }
    let bind = merged
        .value("bind")
        .and_then(Value::as_str)
        .map_or_else(|| super::RawConfig::default().bind, str::to_owned);
    // A bad `bind` is reported by validation; the built-in default name stays until then.
    let Ok(bind) = bind.parse::<SocketAddr>() else {
        return;
    };
    let name = match bind.port() {
        // Any free port: unknown until bound, so the built-in default stays.
        0 => return,
        443 => "localhost".to_owned(),
        port => format!("localhost:{port}"),
    };
    if let Some(key) = keys::find("server_name") {
        merged.set(key, Value::String(name), Origin::Default);
    }
}

fn read_file(path: &Path, merged: &mut Merged) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parsed: Table = text
        .parse()
        .map_err(|source: toml::de::Error| ConfigError::Parse {
            path: path.to_owned(),
            location: source.span().map(|span| line_and_column(&text, span.start)),
            message: source.message().trim().to_owned(),
        })?;
    let origin = Origin::File(path.to_owned());
    let unknown = |key: String| ConfigError::UnknownKey {
        suggestion: keys::suggest(&key).map(str::to_owned),
        key,
        origin: origin.clone(),
    };
    for (name, value) in parsed {
        if keys::is_section(&name) {
            let Value::Table(section) = value else {
                return Err(ConfigError::WrongType {
                    value: super::printable(&name, &value),
                    key: name,
                    origin: origin.clone(),
                    expected: "a table",
                    found: value.type_str(),
                });
            };
            for (sub, value) in section {
                let key = keys::find(&format!("{name}.{sub}"))
                    .ok_or_else(|| unknown(format!("{name}.{sub}")))?;
                check_kind(key, &value, &origin)?;
                merged.set(key, value, origin.clone());
            }
        } else if let Some(key) = keys::find(&name) {
            check_kind(key, &value, &origin)?;
            merged.set(key, value, origin.clone());
        } else {
            // An unknown table is named by its first key, which carries the better hint
            // (`[htpp] max_connections` → `http.max_connections`).
            let key = match &value {
                Value::Table(section) => section
                    .keys()
                    .next()
                    .map_or_else(|| name.clone(), |sub| format!("{name}.{sub}")),
                _ => name,
            };
            return Err(unknown(key));
        }
    }
    Ok(())
}

/// 1-based line and column of a byte offset, for a parse error that must not quote the line
/// (it may hold a password).
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn check_kind(key: Key, value: &Value, origin: &Origin) -> Result<(), ConfigError> {
    let ok = match (key.kind, value) {
        (Kind::Str, Value::String(_)) => true,
        (Kind::Uint, Value::Integer(n)) => *n >= 0,
        (Kind::StrList, Value::Array(items)) => items.iter().all(Value::is_str),
        (Kind::Bool, Value::Boolean(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ConfigError::WrongType {
            key: key.path.to_owned(),
            value: super::printable(key.path, value),
            origin: origin.clone(),
            expected: key.kind.describe(),
            found: match value {
                Value::Integer(n) if *n < 0 => "a negative integer",
                other => other.type_str(),
            },
        })
    }
}

/// Types a textual setting (environment or flag) by its key's kind.
fn text_value(key: Key, text: &str, origin: &Origin) -> Result<Value, ConfigError> {
    let bad = || ConfigError::BadText {
        key: key.path.to_owned(),
        origin: origin.clone(),
        value: super::secrets::redact(key.path, text),
        expected: key.kind.describe(),
    };
    match key.kind {
        Kind::Str => Ok(Value::String(text.to_owned())),
        Kind::Uint => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Value::Integer)
            .ok_or_else(bad),
        Kind::Bool => match text.trim() {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(bad()),
        },
        Kind::StrList => Ok(Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_give_the_place_without_the_line() {
        assert_eq!(line_and_column("a = 1\nb = x\n", 10), (2, 5));
        assert_eq!(line_and_column("", 3), (1, 1));
    }
}
