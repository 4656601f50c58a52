//! The audit log of admin actions: who (the local user id of the caller, from the socket's
//! peer credentials, or of the `kezd admin` process working on the store directly), what,
//! on what, when and how it ended — a row in the store's `admin_audit` table, which outlives
//! log rotation and is shared by a cluster, and a log line (target `kezd::audit`).

use std::os::unix::fs::MetadataExt;

use crate::store::{AdminWrite, AuditEntry, Store};

use super::context::now_ms;
use super::request::{Failure, Outcome};

/// Who a caller with local user id `uid` is, as the audit log names them.
pub fn actor(uid: Option<u32>) -> String {
    uid.map_or_else(|| "local".to_owned(), |uid| format!("uid:{uid}"))
}

/// This process's own user id (for actions run without the daemon), from `/proc/self`,
/// which belongs to it; `None` where there is no such file.
pub fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|meta| meta.uid())
}

/// Writes the audit row and line for one action. A row that cannot be written is logged
/// and does not change the action's answer: the action itself is done (or failed) already.
pub async fn record(
    store: &dyn Store,
    actor: &str,
    action: &str,
    target: Option<String>,
    result: &Result<Outcome, Failure>,
) {
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(failure) => format!(
            "{}: {}",
            serde_json::to_value(failure.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            failure.message
        ),
    };
    tracing::info!(
        target: "kezd::audit",
        actor,
        action,
        target = target.as_deref().unwrap_or(""),
        outcome = %outcome,
        "admin action"
    );
    let entry = AuditEntry {
        at_ms: now_ms(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target,
        outcome,
    };
    if let Err(error) = store.admin_write(AdminWrite::Audit(entry)).await {
        tracing::error!(%error, action, "the audit log row was not written");
    }
}
