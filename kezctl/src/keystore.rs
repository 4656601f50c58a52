//! The keystore: the identities in the configuration directory, by name. It reads and writes
//! files; the key file's format and cryptography live in [`crate::keyfile`], the passphrase in
//! [`crate::passphrase`], the per-identity state in [`crate::state_dir`].

use std::fs;
use std::path::PathBuf;

use crate::config_dir::{self, ConfigDir};
use crate::file_error::FileError;
use crate::keyfile::{self, KeyFile, KeyFileError};

/// The name `keys new` uses without `--name`, and the one picked when several exist.
pub const DEFAULT_NAME: &str = "default";

/// What the keystore can refuse.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// A name that cannot be a file name here.
    #[error("invalid identity name {0:?}: use 1-64 of A-Z a-z 0-9 . _ -, not starting with '.'")]
    InvalidName(String),
    /// No identity of that name.
    #[error("no identity named {0:?} (see `kezctl keys list`)")]
    NotFound(String),
    /// No identity at all.
    #[error("no identity yet: create one with `kezctl keys new`")]
    Empty,
    /// Several identities and none chosen.
    #[error("several identities and none named {DEFAULT_NAME:?}: choose one with --identity ({0})")]
    Ambiguous(String),
    /// The name is taken.
    #[error("an identity named {0:?} already exists")]
    Exists(String),
    /// A file that is not a valid key file.
    #[error("{path}: {source}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Why.
        source: KeyFileError,
    },
    /// The identity has not registered an address yet.
    #[error("the identity {0:?} is not registered yet: run `kezctl register handle@server`")]
    NotRegistered(String),
    /// A file of the keystore could not be read or written (a local failure, not a refusal).
    #[error(transparent)]
    File(#[from] FileError),
}

/// Checks an identity name: safe as a file name, readable in a listing.
pub fn check_name(name: &str) -> Result<(), KeystoreError> {
    if keyfile::valid_name(name) {
        Ok(())
    } else {
        Err(KeystoreError::InvalidName(name.to_owned()))
    }
}

/// The identities of one configuration directory.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: ConfigDir,
}

impl Keystore {
    /// The keystore in `dir`.
    pub fn new(dir: ConfigDir) -> Self {
        Keystore { dir }
    }

    /// The configuration directory.
    pub fn dir(&self) -> &ConfigDir {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.identities().join(format!("{name}.json"))
    }

    /// Every identity name, sorted.
    pub fn names(&self) -> Result<Vec<String>, KeystoreError> {
        let dir = self.dir.identities();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(FileError::at(&dir)(e).into()),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(FileError::at(&dir))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_suffix(".json")
                && check_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The identity to use: the one named, else `default`, else the only one.
    pub fn resolve(&self, chosen: Option<&str>) -> Result<String, KeystoreError> {
        if let Some(name) = chosen {
            check_name(name)?;
            return Ok(name.to_owned());
        }
        let names = self.names()?;
        match names.as_slice() {
            [] => Err(KeystoreError::Empty),
            [only] => Ok(only.clone()),
            _ if names.iter().any(|n| n == DEFAULT_NAME) => Ok(DEFAULT_NAME.to_owned()),
            _ => Err(KeystoreError::Ambiguous(names.join(", "))),
        }
    }

    /// Loads a key file by name.
    pub fn load(&self, name: &str) -> Result<KeyFile, KeystoreError> {
        check_name(name)?;
        let path = self.path(name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeystoreError::NotFound(name.to_owned()));
            }
            Err(e) => return Err(FileError::at(&path)(e).into()),
        };
        let file = KeyFile::parse(&bytes).map_err(|source| KeystoreError::Damaged {
            path: path.clone(),
            source,
        })?;
        if file.name != name {
            return Err(KeystoreError::Damaged {
                path,
                source: KeyFileError::Malformed(format!(
                    "its name is {:?}, not {name:?}",
                    file.name
                )),
            });
        }
        Ok(file)
    }

    /// Stores a new identity; refuses to overwrite one.
    pub fn create(&self, file: &KeyFile) -> Result<PathBuf, KeystoreError> {
        check_name(&file.name)?;
        ConfigDir::ensure_private_dir(self.dir.root())?;
        ConfigDir::ensure_private_dir(&self.dir.identities())?;
        let path = self.path(&file.name);
        match config_dir::create_private(&path, &file.to_bytes()) {
            Ok(()) => Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(KeystoreError::Exists(file.name.clone()))
            }
            Err(e) => Err(FileError::at(&path)(e).into()),
        }
    }

    /// Rewrites an existing identity (after registration), atomically.
    pub fn update(&self, file: &KeyFile) -> Result<(), KeystoreError> {
        check_name(&file.name)?;
        Ok(config_dir::write_private(
            &self.path(&file.name),
            &file.to_bytes(),
        )?)
    }

    /// Deletes an identity's key file.
    pub fn delete(&self, name: &str) -> Result<PathBuf, KeystoreError> {
        check_name(name)?;
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeystoreError::NotFound(name.to_owned()));
            }
            Err(e) => return Err(FileError::at(&path)(e).into()),
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names that could escape the directory or hide a file are refused.
    #[test]
    fn names() {
        for ok in ["default", "alice", "work.2", "a-b_c"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "../x", "a/b", "sp ace", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
