//! Registered users, remembered in memory. A registration is never changed or deleted (SPEC
//! §4.1: a handle and a primary are bound for good), so a user found once stays valid, on this
//! instance and on every other instance of a cluster; only users that exist are remembered,
//! so a handle registered a moment ago elsewhere is never hidden. Every send, poll and stream
//! looks users up, and without this each lookup is a store round trip.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::store::{Store, StoreError, UserRecord};

/// Users kept at most; past it the cache starts over (bounded memory, no eviction order to
/// maintain: an active user is back after one lookup).
const CAPACITY: usize = 16_384;

/// Users by handle.
#[derive(Debug, Default)]
pub struct UserCache {
    by_handle: Mutex<HashMap<String, UserRecord>>,
}

impl UserCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The user registered as `handle`, from memory or from `store`.
    pub async fn get(
        &self,
        store: &dyn Store,
        handle: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        if let Some(user) = self.lock().get(handle) {
            return Ok(Some(user.clone()));
        }
        let user = store.user_by_handle(handle).await?;
        if let Some(user) = &user {
            self.remember(user.clone());
        }
        Ok(user)
    }

    /// Remembers a user just stored.
    pub fn remember(&self, user: UserRecord) {
        let mut users = self.lock();
        if users.len() >= CAPACITY {
            users.clear();
        }
        users.insert(user.handle.clone(), user);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserRecord>> {
        // Each critical section is one get, insert or clear: the map is consistent even if a
        // holder panicked.
        self.by_handle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
