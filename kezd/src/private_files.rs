//! The daemon's files readable by its own user only: the data directory, the SQLite database
//! and its `-wal` and `-shm` files hold every stored envelope and registration. The database
//! file is created here with mode 0600 before SQLite opens it, as SQLite gives its `-wal` and
//! `-shm` files the database file's mode; files an older kezd created more widely readable are
//! narrowed. (The server key file is kept at 0600 by `kez-federation` itself.)

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (0700) when missing; leaves an existing directory's mode alone, as the
/// operator may share it on purpose (a cluster's key volume).
pub fn data_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates the SQLite database `path` with mode 0600 when missing, and narrows it and its
/// `-wal` and `-shm` files to 0600 when they exist with a wider mode.
pub fn sqlite_database(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        data_dir(parent)?;
    }
    // SQLite takes an empty file for a new database.
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    for file in [
        path.to_owned(),
        sibling(path, "-wal"),
        sibling(path, "-shm"),
    ] {
        match fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                fs::set_permissions(&file, Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// `kezd.db` → `kezd.db-wal`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
