//! `kezd admin backup <file>`: an online, consistent copy of an SQLite store in a new file
//! (mode 0600), taken while the daemon serves — or with it stopped — and openable as a
//! database as it is. A PostgreSQL store is refused with the command that backs it up
//! (`pg_dump`), as its own tools do that better.

use std::path::Path;

use super::context::Context;
use super::request::{Failure, FailureKind, Outcome};

/// Writes the copy to `file`, which must be an absolute path that does not exist yet.
pub async fn write(context: &Context, file: &Path) -> Result<Outcome, Failure> {
    if !file.is_absolute() {
        return Err(Failure::new(
            FailureKind::Invalid,
            format!("{} is not an absolute path", file.display()),
        ));
    }
    context.store.backup(file).await?;
    let bytes = tokio::fs::metadata(file)
        .await
        .map(|meta| meta.len())
        .unwrap_or(0);
    Ok(Outcome::Backup {
        file: file.to_path_buf(),
        bytes,
    })
}
