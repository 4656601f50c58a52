//! Registered users, remembered in memory. A registration itself is never changed (SPEC
//! §4.1: a handle and a primary are bound for good); what changes a user — an operator's
//! suspension or removal (`kezd admin`), the user's own account deletion (SPEC §4.7) — reaches
//! every instance of a cluster as a change notification (kezd/src/changes.rs), which makes each
//! instance [`forget`](UserCache::forget) the user and re-read its suspended set. A forgotten
//! user is also announced to [`departed`](UserCache::departed)'s receivers, so the live
//! streams open for a deleted user end on every instance. Only users that exist are
//! remembered, so a handle registered a moment ago elsewhere is never hidden. Every send, poll
//! and stream looks users up, and without this each lookup is a store round trip; users are
//! shared, so a lookup copies nothing.
//!
//! Suspended users (SPEC §8.8) are few and each request of a user asks whether they are one,
//! so the whole set is held, loaded at start and replaced on a change; a user's open streams
//! watch it and end when the user is suspended.
//!
//! Beside the users, the decoded primaries of senders whose envelopes verified: an envelope
//! names its sender's primary as text, and decoding it (a point decompression, about 3.5 µs)
//! on every send is work already done for that sender's last one.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use kez_spec::Primary;
use tokio::sync::{broadcast, watch};

use crate::store::{Store, StoreError, UserRecord};

/// Users kept at most; past it the cache starts over (bounded memory, no eviction order to
/// maintain: an active user is back after one lookup).
const CAPACITY: usize = 16_384;

/// Users a stream may fall behind on before it must ask the store whether its user is still
/// there (see [`UserCache::departed`]).
const DEPARTURES: usize = 64;

/// Users by handle, decoded primaries by their text, the suspended handles, and the handles
/// of users forgotten as they go.
#[derive(Debug)]
pub struct UserCache {
    by_handle: Mutex<HashMap<String, Arc<UserRecord>>>,
    primaries: Mutex<HashMap<String, Primary>>,
    /// Replaced whole; watched by open streams.
    suspended: watch::Sender<Arc<HashSet<String>>>,
    departures: broadcast::Sender<Arc<str>>,
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            by_handle: Mutex::default(),
            primaries: Mutex::default(),
            suspended: watch::Sender::default(),
            departures: broadcast::channel(DEPARTURES).0,
        }
    }
}

impl UserCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets `handle`, so its next lookup reads the store, and announces it to
    /// [`departed`](Self::departed)'s receivers.
    pub fn forget(&self, handle: &str) {
        lock(&self.by_handle).remove(handle);
        // No receiver (no stream open) is not an error.
        let _ = self.departures.send(handle.into());
    }

    /// The handles of users forgotten from now on (changed: deleted, suspended, …). A receiver
    /// that lags (more than 64 unread) gets `Lagged` and must ask the store.
    pub fn departed(&self) -> broadcast::Receiver<Arc<str>> {
        self.departures.subscribe()
    }

    /// The user registered as `handle`, from memory or from `store`.
    pub async fn get(
        &self,
        store: &dyn Store,
        handle: &str,
    ) -> Result<Option<Arc<UserRecord>>, StoreError> {
        if let Some(user) = lock(&self.by_handle).get(handle) {
            return Ok(Some(Arc::clone(user)));
        }
        let Some(user) = store.user_by_handle(handle).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.remember_shared(Arc::clone(&user));
        Ok(Some(user))
    }

    /// Remembers a user just stored.
    pub fn remember(&self, user: UserRecord) {
        self.remember_shared(Arc::new(user));
    }

    fn remember_shared(&self, user: Arc<UserRecord>) {
        let mut users = lock(&self.by_handle);
        if users.len() >= CAPACITY {
            users.clear();
        }
        users.insert(user.handle.clone(), user);
    }

    /// Forgets every user, and asks every receiver of [`departed`](Self::departed) to check
    /// its own (announced as the empty handle, which no user has).
    pub fn forget_all(&self) {
        lock(&self.by_handle).clear();
        let _ = self.departures.send("".into());
    }

    /// Whether `handle` is suspended.
    pub fn is_suspended(&self, handle: &str) -> bool {
        self.suspended.borrow().contains(handle)
    }

    /// Puts the store's suspended set in force.
    pub fn replace_suspended(&self, handles: HashSet<String>) {
        self.suspended.send_replace(Arc::new(handles));
    }

    /// Resolves when `handle` is suspended (at once if it is now); never otherwise.
    pub fn suspension(
        &self,
        handle: &str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut suspended = self.suspended.subscribe();
        let handle = handle.to_owned();
        async move {
            while !suspended.borrow_and_update().contains(&handle) {
                if suspended.changed().await.is_err() {
                    // The cache is gone, and the daemon with it.
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// The decoded primary whose text is `text`, if a sender's envelope verified with it.
    pub fn primary(&self, text: &str) -> Option<Primary> {
        lock(&self.primaries).get(text).copied()
    }

    /// Remembers the primary of a sender whose envelope verified.
    pub fn remember_primary(&self, primary: Primary) {
        let mut primaries = lock(&self.primaries);
        if primaries.len() >= CAPACITY {
            primaries.clear();
        }
        primaries.insert(primary.to_string(), primary);
    }
}

/// Each critical section is one get, insert or clear: a map is consistent even if a holder
/// panicked.
fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}
