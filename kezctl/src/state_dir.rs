//! Where kezctl keeps state: what it learned while running, as opposed to what the user
//! configured. The XDG Base Directory specification separates the two because they are
//! treated differently — configuration is backed up and synced between machines, state
//! (inbox cursors, remembered records) belongs to this machine and may be lost at little cost.
//!
//! The state directory is `$XDG_STATE_HOME/kez` (when absolute, as XDG requires), else
//! `~/.local/state/kez`. When the configuration directory was named explicitly (`--config-dir`
//! or `KEZ_CONFIG_DIR`), that directory holds the state too: such a directory is one persona
//! (tests, several people on one machine), and two personas with an identity of the same name
//! must never share a cursor, or one would skip the other's messages.
//!
//! ```text
//! <state dir>/
//!   cursors/<name>                    the inbox cursor of identity <name> (crate::cursors)
//!   records/<name>/<address>.json     recipients' verified records (crate::record_cache)
//! ```

use std::path::{Path, PathBuf};

use crate::config_dir::{self, ConfigDir};

/// No explicit directory and no home to put one in: the user must name one.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot find the state directory: HOME is not set; set XDG_STATE_HOME, or use --config-dir \
     or KEZ_CONFIG_DIR"
)]
pub struct NoStateDir;

/// The located state directory (not necessarily created yet).
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state directory for a configuration directory `config`, which was given
    /// explicitly when `explicit` is true (see the module doc).
    pub fn locate(config: &ConfigDir, explicit: bool) -> Result<Self, NoStateDir> {
        if explicit {
            return Ok(StateDir {
                root: config.root().to_path_buf(),
            });
        }
        Ok(StateDir {
            root: config_dir::xdg_dir("XDG_STATE_HOME", ".local/state").ok_or(NoStateDir)?,
        })
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where inbox cursors live.
    pub fn cursors(&self) -> PathBuf {
        self.root.join("cursors")
    }

    /// Where the verified records of one identity's recipients live.
    pub fn records(&self, identity: &str) -> PathBuf {
        self.root.join("records").join(identity)
    }
}
