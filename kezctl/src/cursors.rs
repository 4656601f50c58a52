//! Inbox cursors: per identity, the last inbox seq shown, so `inbox` and `listen` continue
//! where the last run stopped. A cursor is state, kept in the state directory
//! ([`crate::state_dir`]); kezctl 0.1 kept it in the configuration directory, and a cursor
//! found there is moved on first use — an upgrade must not re-read a whole inbox.

use std::fs;
use std::path::PathBuf;

use crate::config_dir::{self, ConfigDir};
use crate::file_error::FileError;
use crate::state_dir::StateDir;

/// The cursors of one state directory.
#[derive(Debug, Clone)]
pub struct Cursors {
    /// `<state dir>/cursors`.
    dir: PathBuf,
    /// `<config dir>/cursors`, where earlier versions kept them; `None` when it is `dir`.
    legacy: Option<PathBuf>,
}

impl Cursors {
    /// The cursors in `state`, taking over any left in `config` by earlier versions.
    pub fn new(state: &StateDir, config: &ConfigDir) -> Self {
        let dir = state.cursors();
        let legacy = config.cursors();
        Cursors {
            legacy: (legacy != dir).then_some(legacy),
            dir,
        }
    }

    /// The saved cursor of identity `name` (0 when none).
    pub fn get(&self, name: &str) -> Result<u64, FileError> {
        self.migrate(name)?;
        let path = self.dir.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(FileError::at(&path)(e)),
        }
    }

    /// Saves the cursor of identity `name`.
    pub fn set(&self, name: &str, seq: u64) -> Result<(), FileError> {
        self.migrate(name)?;
        ConfigDir::ensure_private_dir(&self.dir)?;
        config_dir::write_private(&self.dir.join(name), format!("{seq}\n").as_bytes())
    }

    /// Forgets the cursor of identity `name` (its identity was deleted), in both places.
    pub fn remove(&self, name: &str) {
        let _ = fs::remove_file(self.dir.join(name));
        if let Some(legacy) = &self.legacy {
            let _ = fs::remove_file(legacy.join(name));
        }
    }

    /// Moves `name`'s cursor from the old place, unless the new place already has one (then
    /// the old one is stale and goes). Copy, then remove: the two directories may be on
    /// different file systems, and a crash between the steps leaves a cursor in both, never in
    /// neither.
    fn migrate(&self, name: &str) -> Result<(), FileError> {
        let Some(legacy_dir) = &self.legacy else {
            return Ok(());
        };
        let old = legacy_dir.join(name);
        let text = match fs::read(&old) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(FileError::at(&old)(e)),
        };
        let new = self.dir.join(name);
        if !new.exists() {
            ConfigDir::ensure_private_dir(&self.dir)?;
            config_dir::write_private(&new, &text)?;
        }
        fs::remove_file(&old).map_err(FileError::at(&old))?;
        // The old directory goes once it is empty; a failure (not empty yet) is harmless.
        let _ = fs::remove_dir(legacy_dir);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cursor in the configuration directory (kezctl 0.1) is moved to the state directory on
    /// first use, keeping its value; a later read finds it there and the old file is gone.
    #[test]
    fn moves_an_old_cursor_on_first_use() {
        let config_root = tempfile::tempdir().expect("temp dir");
        let state_root = tempfile::tempdir().expect("temp dir");
        let config = ConfigDir::locate(Some(config_root.path())).expect("explicit");
        // An explicit directory holds its own state: here, the state directory under test.
        let state_config = ConfigDir::locate(Some(state_root.path())).expect("explicit");
        let state = StateDir::locate(&state_config, true).expect("explicit");
        fs::create_dir_all(config.cursors()).expect("old dir");
        fs::write(config.cursors().join("default"), "42\n").expect("old cursor");
        let cursors = Cursors::new(&state, &config);
        assert_eq!(cursors.get("default").expect("reads"), 42);
        assert!(!config.cursors().join("default").exists());
        assert_eq!(
            fs::read_to_string(state.cursors().join("default")).expect("moved"),
            "42\n"
        );
        cursors.set("default", 43).expect("writes");
        assert_eq!(cursors.get("default").expect("reads"), 43);
        assert_eq!(cursors.get("other").expect("reads"), 0);
    }
}
