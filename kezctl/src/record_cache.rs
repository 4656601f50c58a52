//! Recipients' verified handle records, remembered per identity with the time they were
//! verified. They let `send` seal a message while the recipient's server is down: the home
//! server queues it (SPEC §8.1) and federation delivers it later, so a recipient's outage
//! need not stop the sender. The policy — when a remembered record may stand in for a fresh
//! one — is [`crate::recipient`]'s; this module only keeps the files.
//!
//! A file is `<state dir>/records/<identity>/<address>.json` (an address has no `/`), 0600:
//!
//! ```json
//! {"address":"bob@b.example","verified_at":<unix ms>,"record":{<the handle record, SPEC §4.2>}}
//! ```
//!
//! The record is kept as the server signed it and verified again whenever it is read, so a
//! damaged file is found, never believed.

use std::fs;
use std::path::PathBuf;

use kez_spec::{Address, Primary};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config_dir::{self, ConfigDir};
use crate::error::CliError;
use crate::file_error::FileError;
use crate::record;
use crate::state_dir::StateDir;

/// One file's contents.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The address the record was fetched for.
    address: String,
    /// When its registration signature was last verified, Unix ms.
    verified_at: u64,
    /// The handle record as the server sent it.
    record: Value,
}

/// A remembered record, verified again on reading.
#[derive(Debug, Clone)]
pub struct Remembered {
    /// The primary the record binds to the address.
    pub primary: Primary,
    /// When it was last verified from a fresh lookup, Unix ms.
    pub verified_at: u64,
    /// The file, for messages that tell the user what to do with it.
    pub path: PathBuf,
}

/// The remembered records of one state directory.
#[derive(Debug, Clone)]
pub struct RecordCache {
    state: StateDir,
}

impl RecordCache {
    /// The records kept in `state`.
    pub fn new(state: &StateDir) -> Self {
        RecordCache {
            state: state.clone(),
        }
    }

    fn path(&self, identity: &str, address: &Address) -> PathBuf {
        self.state.records(identity).join(format!("{address}.json"))
    }

    /// The record `identity` remembers for `address`, if any. A file that does not parse or
    /// whose record no longer verifies is an error, not a record.
    pub fn load(&self, identity: &str, address: &Address) -> Result<Option<Remembered>, CliError> {
        let path = self.path(identity, address);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError::io(&path)(e)),
        };
        let via = format!("the remembered record {}", path.display());
        let entry: Entry = serde_json::from_slice(&bytes)
            .map_err(|e| CliError::Verification(format!("{via}: {e}")))?;
        if entry.address != address.to_string() {
            return Err(CliError::Verification(format!(
                "{via} is for {}, not {address}",
                entry.address
            )));
        }
        let (_, primary) = record::check(&entry.record, &via, address)?;
        Ok(Some(Remembered {
            primary,
            verified_at: entry.verified_at,
            path,
        }))
    }

    /// Remembers `record`, just verified for `address`, for `identity`.
    pub fn store(
        &self,
        identity: &str,
        address: &Address,
        record: &Value,
        verified_at: u64,
    ) -> Result<(), FileError> {
        let entry = Entry {
            address: address.to_string(),
            verified_at,
            record: record.clone(),
        };
        // Serialising a Value-bearing struct cannot fail (string keys only).
        let bytes = serde_json::to_vec_pretty(&entry).unwrap_or_default();
        let dir = self.state.records(identity);
        ConfigDir::ensure_private_dir(self.state.root())?;
        ConfigDir::ensure_private_dir(&dir)?;
        config_dir::write_private(&self.path(identity, address), &bytes)
    }

    /// Forgets everything `identity` remembered (its identity was deleted).
    pub fn forget(&self, identity: &str) {
        let _ = fs::remove_dir_all(self.state.records(identity));
    }
}
