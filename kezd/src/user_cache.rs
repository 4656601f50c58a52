//! Registered users, remembered in memory. A registration is never changed, but an account can
//! be deleted (SPEC §4.7): a deletion [`forget`](UserCache::forget)s the user at once on the
//! instance that stored it, and tells the streams open for it to end ([`departed`]). Other
//! instances of a cluster must be told as well: `AppState::forget_user` is the one place a
//! cluster change notification calls; until one does, another instance may still hold the
//! user, and the store (whose inbox counter and user rows are gone) refuses what it writes
//! for it. Only users that exist are remembered, so a handle registered a moment ago
//! elsewhere is never hidden. Every send, poll and stream looks users up, and without this
//! each lookup is a store round trip; users are shared, so a lookup copies nothing.
//!
//! [`departed`]: UserCache::departed
//!
//! Beside the users, the decoded primaries of senders whose envelopes verified: an envelope
//! names its sender's primary as text, and decoding it (a point decompression, about 3.5 µs)
//! on every send is work already done for that sender's last one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use kez_spec::Primary;
use tokio::sync::broadcast;

use crate::store::{Store, StoreError, UserRecord};

/// Users kept at most; past it the cache starts over (bounded memory, no eviction order to
/// maintain: an active user is back after one lookup).
const CAPACITY: usize = 16_384;

/// Deletions a stream may fall behind on before it must ask the store whether its user is
/// still there (see [`UserCache::departed`]).
const DEPARTURES: usize = 64;

/// Users by handle, decoded primaries by their text, and the handles of deleted accounts as
/// they go.
#[derive(Debug)]
pub struct UserCache {
    by_handle: Mutex<HashMap<String, Arc<UserRecord>>>,
    primaries: Mutex<HashMap<String, Primary>>,
    departures: broadcast::Sender<Arc<str>>,
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            by_handle: Mutex::default(),
            primaries: Mutex::default(),
            departures: broadcast::channel(DEPARTURES).0,
        }
    }
}

impl UserCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the user `handle`, whose account was deleted, and announces it to
    /// [`departed`](Self::departed)'s receivers.
    pub fn forget(&self, handle: &str) {
        lock(&self.by_handle).remove(handle);
        // No receiver (no stream open) is not an error.
        let _ = self.departures.send(handle.into());
    }

    /// The handles of accounts deleted from now on. A receiver that lags (more than 64
    /// deletions unread) gets `Lagged` and must ask the store.
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
