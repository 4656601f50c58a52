//! A local file that could not be read or written, named by its path. Its own leaf module so
//! the modules that touch files (the configuration directory, the keystore) report failures
//! without knowing the command-level error that turns them into an exit code.

use std::path::PathBuf;

/// A failed read or write of one local file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl FileError {
    /// Wraps an I/O error with the file it concerns.
    pub fn at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FileError {
        let path = path.into();
        move |source| FileError { path, source }
    }
}
