//! The store invariants every backend keeps (`kezd::store`), one file per concern: each case
//! takes a [`Backend`](crate::backend::Backend) and runs unchanged against SQLite and
//! PostgreSQL. The helpers below build users and messages for all of them.
//!
//! | file | what |
//! | --- | --- |
//! | [`registrations`] | unique handles and primaries, contested registrations |
//! | [`deletions`] | account deletion, its retry, and the tombstone (SPEC §4.7) |
//! | [`accept`] | seqs, stored-once ids, group commit, admission, id memory |
//! | [`inbox`] | pages, acknowledgement |
//! | [`retention`] | deletion by age and count, forgetting ids |
//! | [`durability`] | close and reopen, drop without close, crash-only mode |
//! | [`outbox`] | routing, outcomes, backoff, delivery status, backlog, waking |
//! | [`federation_memory`] | transaction responses, finished deliveries |
//! | [`conversations`] | who wrote to whom first (SPEC §11) |
//! | [`tokens`] | registration tokens spent with the registration (SPEC §4.1) |
//! | [`admin`] | suspensions, server blocks, users in pages, the audit log, destinations |

mod accept;
mod admin;
mod conversations;
mod deletions;
mod durability;
mod federation_memory;
mod inbox;
mod outbox;
mod registrations;
mod retention;
mod tokens;

pub use accept::*;
pub use admin::*;
pub use conversations::*;
pub use deletions::*;
pub use durability::*;
pub use federation_memory::*;
pub use inbox::*;
pub use outbox::*;
pub use registrations::*;
pub use retention::*;
pub use tokens::*;

use kezd::store::{MessageKey, NewMessage, Route, Store, UserRecord};

/// A user whose primary is derived from `key`, so distinct keys give distinct primaries.
pub fn user(handle: &str, key: u8) -> UserRecord {
    let primary = format!("ed25519:{}", format!("{key:02x}").repeat(32));
    UserRecord {
        handle: handle.to_owned(),
        registration_json: format!(r#"{{"handle":"{handle}","primary":"{primary}"}}"#),
        primary,
        registered_at_ms: 1_700_000_000_000,
    }
}

pub fn local(id: &str, to: &str, received_at_ms: i64) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        sender: "zed@a.example".to_owned(),
        route: Route::Local {
            handle: to.to_owned(),
        },
        envelope_json: format!(r#"{{"id":"{id}","to":"{to}"}}"#),
        ts_ms: received_at_ms,
        received_at_ms,
    }
}

/// What finds message `id`, sent at `ts_ms`, again: [`local`] and [`remote`] messages are sent
/// when they are received.
pub fn key(id: &str, ts_ms: i64) -> MessageKey {
    MessageKey {
        id: id.to_owned(),
        ts_ms,
    }
}

pub fn remote(id: &str, server: &str, to: &str) -> NewMessage {
    NewMessage {
        id: id.to_owned(),
        sender: "alice@kez.test".to_owned(),
        route: Route::Remote {
            server: server.to_owned(),
            address: format!("{to}@{server}"),
        },
        envelope_json: format!(r#"{{"id":"{id}","to":"{to}@{server}"}}"#),
        ts_ms: 1_000,
        received_at_ms: 1_000,
    }
}

pub async fn register_all(store: &dyn Store, handles: &[&str]) {
    for (key, handle) in handles.iter().enumerate() {
        let key = u8::try_from(key + 1).expect("few users");
        store.register(user(handle, key)).await.expect("register");
    }
}

/// Accepts one new local message and returns its seq.
pub async fn accept_new(store: &dyn Store, message: NewMessage) -> u64 {
    let accepted = store.accept(message).await.expect("accept");
    assert!(!accepted.duplicate, "{accepted:?}");
    accepted.seq.expect("local seq")
}

/// Queues messages `ids` for bob at `destination`.
pub async fn queue_remote(store: &dyn Store, destination: &str, ids: &[&str]) {
    for id in ids {
        store
            .accept(remote(id, destination, "bob"))
            .await
            .expect("accept");
    }
}

pub async fn seqs(store: &dyn Store, handle: &str) -> Vec<u64> {
    let page = store
        .inbox(handle, 0, 10_000, usize::MAX)
        .await
        .expect("inbox");
    page.iter().map(|m| m.seq).collect()
}
