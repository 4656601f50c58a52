//! Where kezctl keeps its identities. One directory per user (XDG: `$XDG_CONFIG_HOME/kez`, else
//! `~/.config/kez`), overridable with `--config-dir` / `KEZ_CONFIG_DIR` so tests and several
//! personas on one machine stay apart. Everything in it is private: directories 0700, files
//! 0600, because it holds secret keys. State lives elsewhere ([`crate::state_dir`]).
//!
//! ```text
//! <config dir>/
//!   identities/<name>.json   one key file per identity (format: crate::keyfile)
//!   cursors/<name>           inbox cursors of kezctl 0.1, moved to the state directory on first use
//! ```

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::file_error::FileError;

/// Files holding secrets or per-identity state: owner read/write only.
pub const FILE_MODE: u32 = 0o600;
/// Directories: owner only.
pub const DIR_MODE: u32 = 0o700;

/// Neither an explicit directory nor a home to put one in: the user must name one.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot find the configuration directory: HOME is not set; use --config-dir or KEZ_CONFIG_DIR"
)]
pub struct NoConfigDir;

/// The located configuration directory (not necessarily created yet).
#[derive(Debug, Clone)]
pub struct ConfigDir {
    root: PathBuf,
}

impl ConfigDir {
    /// The explicit directory if given, else `$XDG_CONFIG_HOME/kez` (when absolute, as the XDG
    /// spec requires), else `$HOME/.config/kez`.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, NoConfigDir> {
        if let Some(dir) = explicit {
            return Ok(ConfigDir {
                root: dir.to_path_buf(),
            });
        }
        Ok(ConfigDir {
            root: xdg_dir("XDG_CONFIG_HOME", ".config").ok_or(NoConfigDir)?,
        })
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where key files live.
    pub fn identities(&self) -> PathBuf {
        self.root.join("identities")
    }

    /// Where kezctl 0.1 kept inbox cursors ([`crate::cursors`] moves them).
    pub fn cursors(&self) -> PathBuf {
        self.root.join("cursors")
    }

    /// Creates `dir` (and parents) private to the user, and tightens it if it already exists.
    pub fn ensure_private_dir(dir: &Path) -> Result<(), FileError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(FileError::at(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE)).map_err(FileError::at(dir))
    }
}

/// `$<variable>/kez` when the variable holds an absolute path (the XDG Base Directory rule),
/// else `$HOME/<home_relative>/kez`; None without either.
pub fn xdg_dir(variable: &str, home_relative: &str) -> Option<PathBuf> {
    let base = std::env::var_os(variable)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(home_relative))
        })?;
    Some(base.join("kez"))
}

/// Writes `bytes` to `path` atomically (a private temporary file in the same directory, then
/// rename), so a crash never leaves half a key file. The file is 0600 from its creation: the
/// secret is never readable by others, not even for a moment.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(FileError::at(&tmp))?;
    file.write_all(bytes).map_err(FileError::at(&tmp))?;
    file.sync_all().map_err(FileError::at(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(FileError::at(path))
}

/// Creates `path` with `bytes`, failing if it exists (no identity is ever overwritten by
/// accident). 0600 from creation.
pub fn create_private(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
