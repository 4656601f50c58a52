//! Stage one of loading: the layers (file, `KEZ_*` environment, flags) merged into one TOML
//! table, later layers winning key by key, with unknown keys set aside as warnings and every
//! value's kind checked so a type error names its key.

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

/// Reads and merges every layer into one table of known keys with values of the right kind.
pub fn merge(sources: &Sources) -> Result<(Table, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let mut table = match &sources.file {
        Some(path) => read_file(path, &mut warnings)?,
        None => Table::new(),
    };

    for (name, value) in &sources.env {
        // KEZ_FAULTS belongs to fault-injection builds (kezd/src/faults.rs), not the config.
        if !name.starts_with("KEZ_") || name == CONFIG_FILE_VARIABLE || name == "KEZ_FAULTS" {
            continue;
        }
        match keys::from_env_name(name) {
            Some(key) => set(&mut table, key, text_value(key, value, name)?),
            None => warnings.push(Warning::UnknownVariable { name: name.clone() }),
        }
    }

    for flag in &sources.flags {
        let key = keys::find(&flag.key).ok_or_else(|| ConfigError::UnknownFlagKey {
            key: flag.key.clone(),
        })?;
        set(&mut table, key, text_value(key, &flag.value, flag.flag)?);
    }

    Ok((table, warnings))
}

fn read_file(path: &Path, warnings: &mut Vec<Warning>) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parsed: Table = text.parse().map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    let mut known = Table::new();
    for (name, value) in parsed {
        if keys::is_section(&name) {
            let Value::Table(section) = value else {
                return Err(ConfigError::WrongType {
                    key: name,
                    expected: "a table",
                    found: value.type_str(),
                });
            };
            let mut kept = Table::new();
            for (sub, value) in section {
                let path_name = format!("{name}.{sub}");
                match keys::find(&path_name) {
                    Some(key) => {
                        check_kind(key, &value)?;
                        kept.insert(sub, value);
                    }
                    None => warnings.push(Warning::UnknownKey {
                        key: path_name,
                        file: path.to_owned(),
                    }),
                }
            }
            known.insert(name, Value::Table(kept));
        } else if let Some(key) = keys::find(&name) {
            check_kind(key, &value)?;
            known.insert(name, value);
        } else {
            warnings.push(Warning::UnknownKey {
                key: name,
                file: path.to_owned(),
            });
        }
    }
    Ok(known)
}

fn check_kind(key: Key, value: &Value) -> Result<(), ConfigError> {
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
            expected: key.kind.describe(),
            found: match value {
                Value::Integer(n) if *n < 0 => "a negative integer",
                other => other.type_str(),
            },
        })
    }
}

/// Types a textual setting (environment or flag) by its key's kind.
fn text_value(key: Key, text: &str, origin: &str) -> Result<Value, ConfigError> {
    let bad = || ConfigError::BadText {
        key: key.path.to_owned(),
        origin: origin.to_owned(),
        value: text.to_owned(),
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

fn set(table: &mut Table, key: Key, value: Value) {
    match key.path.split_once('.') {
        Some((section, sub)) => {
            let entry = table
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
            table.insert(key.path.to_owned(), value);
        }
    }
}
