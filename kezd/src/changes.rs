//! Cluster change notifications: when an operator changes what instances cache — a user
//! (suspended, unsuspended, removed) or the admin server blocks — the instance that made the
//! change puts it in force in its own memory before it answers, then announces it over the
//! broker (NATS subject `<prefix>.changes` in a cluster; nothing to announce to on one
//! machine), and every other instance drops what it cached and re-reads the store. The store
//! is the truth; a notice only says which part of it to re-read, so a lost notice (an outage)
//! is made up for by re-reading everything when the broker says notices were missed.
//!
//! A `kezd admin` command run with the daemon stopped changes the store directly and
//! announces the same notices (kezd/src/admin/direct.rs), so a cluster's running instances
//! learn it too.

use std::collections::HashSet;

use bytes::Bytes;
use kez_spec::ServerName;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::broker::Notice;
use crate::state::AppState;
use crate::store::StoreError;

/// What changed, as announced to the other instances (JSON on the wire).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// "user changed <handle>": forget the cached user and re-read who is suspended.
    User {
        /// The handle.
        handle: String,
    },
    /// "policy changed": re-read the admin server blocks.
    Policy,
}

impl Change {
    /// The notice's bytes.
    pub fn encode(&self) -> Bytes {
        // A value of plain strings always serialises.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A notice's change; `None` for bytes that are not one (a newer kezd's change, say).
    pub fn decode(bytes: &[u8]) -> Option<Change> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Puts a change made on this instance in force here, then announces it to the others.
pub async fn publish(state: &AppState, change: &Change) -> Result<(), StoreError> {
    apply(state, change).await?;
    state.broker().announce(change.encode()).await;
    Ok(())
}

/// Drops what this instance cached of `change` and re-reads it from the store.
pub async fn apply(state: &AppState, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::User { handle } => {
            state.user_cache().forget(handle);
            reload_suspended(state).await
        }
        Change::Policy => reload_blocks(state).await,
    }
}

/// Re-reads everything the instance caches of what admin commands change: at start, and
/// when notices may have been missed.
pub async fn reload(state: &AppState) -> Result<(), StoreError> {
    state.user_cache().forget_all();
    reload_suspended(state).await?;
    reload_blocks(state).await
}

async fn reload_suspended(state: &AppState) -> Result<(), StoreError> {
    let handles: HashSet<String> = state
        .store()
        .suspended_handles()
        .await?
        .into_iter()
        .collect();
    state.user_cache().replace_suspended(handles);
    Ok(())
}

async fn reload_blocks(state: &AppState) -> Result<(), StoreError> {
    let Some(federate) = state.federate() else {
        return Ok(());
    };
    let blocks = state.store().server_blocks().await?;
    let servers = blocks
        .into_iter()
        .filter_map(|block| match block.server.parse::<ServerName>() {
            Ok(name) => Some(name),
            Err(error) => {
                // Admin commands store only valid names; anything else was written by hand.
                tracing::warn!(server = %block.server, %error, "stored server block ignored");
                None
            }
        })
        .collect();
    federate.policy.replace_blocked(servers);
    Ok(())
}

/// Applies the other instances' notices until the daemon stops; returns at once when there
/// are no other instances (the in-process broker). `notices` is taken from the broker before
/// the start's [`reload`], so a change announced while that reads the store is not missed.
pub async fn follow(state: AppState, notices: Option<broadcast::Receiver<Notice>>) {
    let Some(mut notices) = notices else {
        return;
    };
    let stop = state.shutdown().signalled();
    tokio::pin!(stop);
    loop {
        let notice = tokio::select! {
            () = &mut stop => return,
            notice = notices.recv() => notice,
        };
        let applied = match notice {
            Ok(Notice::Announced(bytes)) => match Change::decode(&bytes) {
                Some(change) => {
                    tracing::info!(?change, "change announced by another instance");
                    apply(&state, &change).await
                }
                None => {
                    tracing::warn!("an undecodable change notice was ignored");
                    Ok(())
                }
            },
            Ok(Notice::Missed) | Err(RecvError::Lagged(_)) => {
                tracing::info!("change notices may have been missed; re-reading what is cached");
                reload(&state).await
            }
            Err(RecvError::Closed) => return,
        };
        if let Err(error) = applied {
            // Kept until the next notice or reconnect re-reads it; the store is still right.
            tracing::error!(%error, "applying a change notice failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn changes_round_trip_and_unknown_ones_are_none() {
        for change in [
            Change::User {
                handle: "alice".into(),
            },
            Change::Policy,
        ] {
            assert_eq!(Change::decode(&change.encode()), Some(change));
        }
        assert_eq!(
            Change::User { handle: "a".into() }.encode(),
            &br#"{"change":"user","handle":"a"}"#[..]
        );
        assert_eq!(Change::decode(br#"{"change":"weather"}"#), None);
    }
}
