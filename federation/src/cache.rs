//! A bounded TTL cache with negative caching and single-flight, for everything federation
//! learns from peers (SRV answers, addresses, server documents, remote users).
//!
//! Why each property:
//! - **TTL clamped to bounds** (SPEC §9.1: [5 min, 24 h] for discovery; server documents use
//!   [0, 24 h] because a document MUST be refetched at its `valid_until`): a peer cannot make
//!   us refetch on every request nor pin a stale answer for ever.
//! - **Negative caching**: a name that does not exist, or an answer that breaks the protocol,
//!   is remembered for a minute, so it costs one lookup per minute, not one per message. A
//!   failure to reach the peer at all is remembered for 5 s, then twice as long each time it
//!   repeats, up to that minute: a peer that was restarting is asked again within seconds,
//!   and one that stays down still costs at most a lookup a minute (SPEC §9.1).
//! - **Single-flight**: when a thousand envelopes from one new origin arrive at once, one
//!   fetch goes out and every caller waits for its result.
//! - **Bounded size**: keys come from the network; the oldest-expiring entries are evicted.
//!

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::FederationError;

/// How long entries live and how many there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Positive entries live at least this long, whatever TTL the fetch reported.
    pub min_ttl: Duration,
    /// Positive entries live at most this long.
    pub max_ttl: Duration,
    /// Failures are remembered this long.
    pub negative_ttl: Duration,
    /// A failure to reach the peer ([`FederationError::Unavailable`]) is remembered this long
    /// at first, twice as long after each such failure in a row, never longer than
    /// `negative_ttl`.
    pub unreachable_ttl: Duration,
    /// At most this many entries (in-flight fetches included).
    pub capacity: usize,
}

impl CachePolicy {
    /// SPEC §9.1's discovery bounds: [5 min, 24 h], failures 1 min, failures to reach the
    /// peer from 5 s.
    pub const DISCOVERY: CachePolicy = CachePolicy {
        min_ttl: Duration::from_secs(5 * 60),
        max_ttl: Duration::from_secs(24 * 60 * 60),
        negative_ttl: Duration::from_secs(60),
        unreachable_ttl: Duration::from_secs(5),
        capacity: 10_000,
    };

    /// Server documents (SPEC §9.2): until min(`valid_until`, now + 24 h), no lower bound.
    pub const DOCUMENT: CachePolicy = CachePolicy {
        min_ttl: Duration::ZERO,
        ..CachePolicy::DISCOVERY
    };

    fn clamp(&self, ttl: Duration) -> Duration {
        ttl.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }

    /// How long a failure is remembered: the `unreachable`th failure in a row to reach the
    /// peer (1 for the first), or, for `0`, a definitive one.
    fn failure_ttl(&self, unreachable: u32) -> Duration {
        if unreachable == 0 {
            return self.negative_ttl;
        }
        let factor = 1u32.checked_shl(unreachable - 1).unwrap_or(u32::MAX);
        self.unreachable_ttl
            .saturating_mul(factor)
            .min(self.negative_ttl)
    }
}

/// The result of a fetch as cached: the value or the shared failure.
type Outcome<V> = Result<V, FederationError>;

enum Slot<V> {
    /// A finished fetch, good until `expires`. `unreachable` counts the failures in a row to
    /// reach the peer that led here (0 after a value or a definitive failure).
    Ready {
        value: Outcome<V>,
        expires: Instant,
        unreachable: u32,
    },
    /// A fetch in progress; callers wait for the leader's result on this channel.
    Pending(watch::Receiver<Option<Outcome<V>>>),
}

/// A TTL cache whose `get_or_fetch` runs at most one fetch per key at a time.
pub struct TtlCache<K, V> {
    policy: CachePolicy,
    /// Never held across an `.await`: every critical section is a few map operations.
    slots: Mutex<HashMap<K, Slot<V>>>,
}

/// What a caller must do after looking at the slot.
enum Step<V> {
    Hit(Outcome<V>),
    Wait(watch::Receiver<Option<Outcome<V>>>),
    /// Fetch, and publish on the sender. Carries the fresh value a forced refresh replaced,
    /// to put back if the refresh fails, and the failures in a row to reach the peer so far.
    Lead(watch::Sender<Option<Outcome<V>>>, Option<(V, Instant)>, u32),
}

impl<K, V> TtlCache<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// An empty cache.
    pub fn new(policy: CachePolicy) -> Self {
        TtlCache {
            policy,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value for `key`, or the result of `fetch`, which runs only when no fresh
    /// entry exists and no other caller is already fetching this key. `fetch` returns the
    /// value with its time to live (clamped by the policy); a failure is cached for the
    /// policy's negative TTL, a failure to reach the peer for less ([`CachePolicy`]).
    ///
    /// If the leading caller is cancelled, a waiting caller takes over the fetch.
    pub async fn get_or_fetch<F, Fut>(&self, key: &K, fetch: F) -> Outcome<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Duration), FederationError>>,
    {
        self.fetch_inner(key, false, fetch).await
    }

    /// Like [`TtlCache::get_or_fetch`] but fetches even when a fresh value is cached (joining
    /// a fetch already in flight). If the refresh fails, the previous fresh value stays
    /// cached and the failure is returned only to the callers of this refresh: a peer that
    /// is briefly down does not lose what we already knew about it.
    pub async fn refresh<F, Fut>(&self, key: &K, fetch: F) -> Outcome<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Duration), FederationError>>,
    {
        self.fetch_inner(key, true, fetch).await
    }

    async fn fetch_inner<F, Fut>(&self, key: &K, force: bool, fetch: F) -> Outcome<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Duration), FederationError>>,
    {
        let mut fetch = Some(fetch);
        let mut force = force;
        loop {
            let step = self.step(key, force);
            // Only the first look may force: after waiting on another fetch, its result is
            // as fresh as a refresh would be.
            force = false;
            match step {
                Step::Hit(outcome) => return outcome,
                Step::Wait(mut rx) => {
                    // `wait_for` errs only if the leader was dropped without a result; then
                    // loop and look again (the leader's guard removed its slot).
                    if let Ok(done) = rx.wait_for(Option::is_some).await
                        && let Some(outcome) = done.clone()
                    {
                        return outcome;
                    }
                }
                Step::Lead(tx, previous, unreachable) => {
                    let guard = LeaderGuard {
                        cache: self,
                        key,
                        armed: true,
                        previous: previous.clone(),
                    };
                    // A leader is chosen at most once per call: after leading, the call
                    // returns below, so the closure is always still there.
                    let Some(fetch) = fetch.take() else {
                        unreachable!("a call leads at most once")
                    };
                    let result = fetch().await;
                    let now = Instant::now();
                    let outcome = match (result, previous) {
                        (Ok((value, ttl)), _) => {
                            self.finish(key, Ok(value.clone()), now + self.policy.clamp(ttl), 0);
                            Ok(value)
                        }
                        (Err(e), Some((value, expires))) => {
                            self.finish(key, Ok(value), expires, 0);
                            Err(e)
                        }
                        (Err(e), None) => {
                            let unreachable = match e {
                                FederationError::Unavailable { .. } => {
                                    unreachable.saturating_add(1)
                                }
                                _ => 0,
                            };
                            let expires = now + self.policy.failure_ttl(unreachable);
                            self.finish(key, Err(e.clone()), expires, unreachable);
                            Err(e)
                        }
                    };
                    guard.disarm();
                    // Waiters may all have gone; nobody listening is fine.
                    let _ = tx.send(Some(outcome.clone()));
                    return outcome;
                }
            }
        }
    }

    /// The cached outcome for `key` if it is fresh, without fetching.
    pub fn peek(&self, key: &K) -> Option<Outcome<V>> {
        let slots = self.lock();
        match slots.get(key) {
            Some(Slot::Ready { value, expires, .. }) if *expires > Instant::now() => {
                Some(value.clone())
            }
            _ => None,
        }
    }

    /// True when `get_or_fetch(key)` would run a fetch now: no fresh entry is cached and no
    /// fetch is in flight to join. Lets a caller charge a budget only for work that goes out.
    pub fn would_fetch(&self, key: &K) -> bool {
        let slots = self.lock();
        match slots.get(key) {
            Some(Slot::Ready { expires, .. }) => *expires <= Instant::now(),
            Some(Slot::Pending(rx)) => rx.has_changed().is_err(),
            None => true,
        }
    }

    /// How long a cached failure for `key` is still remembered: `None` when the key holds no
    /// fresh failure. What a caller refused for it can tell the peer as `retry_after`.
    pub fn failure_expires_in(&self, key: &K) -> Option<Duration> {
        let slots = self.lock();
        match slots.get(key) {
            Some(Slot::Ready {
                value: Err(_),
                expires,
                ..
            }) => expires
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero()),
            _ => None,
        }
    }

    /// Forgets `key` (unless a fetch is in flight: its result is about to replace the entry
    /// anyway), so the next `get_or_fetch` fetches again.
    pub fn invalidate(&self, key: &K) {
        let mut slots = self.lock();
        if matches!(slots.get(key), Some(Slot::Ready { .. })) {
            slots.remove(key);
        }
    }

    /// The number of entries, in-flight fetches included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<V>>> {
        // A panic while holding the lock can only come from a bug in the few map operations
        // below; the map itself is still consistent, so keep using it.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn step(&self, key: &K, force: bool) -> Step<V> {
        let mut slots = self.lock();
        let mut previous = None;
        let mut unreachable = 0;
        match slots.get(key) {
            Some(Slot::Ready {
                value,
                expires,
                unreachable: before,
            }) => {
                if *expires > Instant::now() {
                    if !force {
                        return Step::Hit(value.clone());
                    }
                    if let Ok(v) = value {
                        previous = Some((v.clone(), *expires));
                    }
                }
                unreachable = *before;
            }
            Some(Slot::Pending(rx)) if rx.has_changed().is_ok() => {
                return Step::Wait(rx.clone());
            }
            _ => {}
        }
        if !slots.contains_key(key) && slots.len() >= self.policy.capacity {
            evict(&mut slots, self.policy.capacity);
        }
        let (tx, rx) = watch::channel(None);
        slots.insert(key.clone(), Slot::Pending(rx));
        Step::Lead(tx, previous, unreachable)
    }

    fn finish(&self, key: &K, value: Outcome<V>, expires: Instant, unreachable: u32) {
        self.lock().insert(
            key.clone(),
            Slot::Ready {
                value,
                expires,
                unreachable,
            },
        );
    }
}

/// Makes room for one entry: drops expired entries, then the soonest-expiring ones.
fn evict<K: Eq + Hash + Clone, V>(slots: &mut HashMap<K, Slot<V>>, capacity: usize) {
    let now = Instant::now();
    slots.retain(|_, slot| !matches!(slot, Slot::Ready { expires, .. } if *expires <= now));
    while slots.len() >= capacity {
        let victim = slots
            .iter()
            .filter_map(|(k, slot)| match slot {
                Slot::Ready { expires, .. } => Some((k, *expires)),
                Slot::Pending(_) => None,
            })
            .min_by_key(|(_, expires)| *expires)
            .map(|(k, _)| k.clone());
        match victim {
            Some(k) => {
                slots.remove(&k);
            }
            // Only in-flight fetches left: let the map exceed its bound briefly rather than
            // cancel work other callers are waiting on.
            None => break,
        }
    }
}

/// Removes the leader's pending slot if the leader is dropped mid-fetch, so the next caller
/// fetches instead of waiting for a result that will never come.
struct LeaderGuard<'a, K: Eq + Hash + Clone, V: Clone> {
    cache: &'a TtlCache<K, V>,
    key: &'a K,
    armed: bool,
    /// What a cancelled forced refresh should put back.
    previous: Option<(V, Instant)>,
}

impl<K: Eq + Hash + Clone, V: Clone> LeaderGuard<'_, K, V> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        if self.armed {
            let mut slots = self.cache.lock();
            if matches!(slots.get(self.key), Some(Slot::Pending(_))) {
                match self.previous.take() {
                    Some((value, expires)) => {
                        slots.insert(
                            self.key.clone(),
                            Slot::Ready {
                                value: Ok(value),
                                expires,
                                unreachable: 0,
                            },
                        );
                    }
                    None => {
                        slots.remove(self.key);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const MIN: Duration = Duration::from_secs(300);

    /// The discovery policy scaled down from minutes to milliseconds, so TTL tests run on
    /// the real clock (tokio's paused clock needs a feature the workspace does not build).
    const FAST: CachePolicy = CachePolicy {
        min_ttl: Duration::from_millis(200),
        max_ttl: Duration::from_millis(600),
        negative_ttl: Duration::from_millis(300),
        unreachable_ttl: Duration::from_millis(300),
        capacity: 100,
    };

    fn cache() -> TtlCache<String, u32> {
        TtlCache::new(CachePolicy::DISCOVERY)
    }

    async fn sleep_ms(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// SPEC §9.1: a positive entry lives for its TTL clamped to the policy's bounds.
    #[tokio::test]
    async fn ttl_is_clamped_and_expires() {
        let c = TtlCache::new(FAST);
        let fetches = AtomicUsize::new(0);
        let key = "k".to_owned();
        let fetches = &fetches;
        let get = |ttl: Duration| {
            c.get_or_fetch(&key, move || async move {
                Ok((fetches.fetch_add(1, Ordering::SeqCst) as u32, ttl))
            })
        };
        // A 1 ms TTL is raised to the 200 ms minimum.
        assert_eq!(get(Duration::from_millis(1)).await.ok(), Some(0));
        sleep_ms(50).await;
        assert_eq!(get(Duration::from_millis(1)).await.ok(), Some(0));
        sleep_ms(250).await;
        assert_eq!(get(Duration::from_millis(1)).await.ok(), Some(1));
        // A one-hour TTL is cut to the 600 ms maximum.
        c.invalidate(&"k".to_owned());
        assert_eq!(get(Duration::from_secs(3600)).await.ok(), Some(2));
        sleep_ms(300).await;
        assert_eq!(get(Duration::from_secs(3600)).await.ok(), Some(2));
        sleep_ms(400).await;
        assert_eq!(get(Duration::from_secs(3600)).await.ok(), Some(3));
        assert_eq!(CachePolicy::DISCOVERY.clamp(Duration::ZERO), MIN);
        assert_eq!(
            CachePolicy::DISCOVERY.clamp(Duration::from_secs(7 * 86_400)),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            CachePolicy::DOCUMENT.clamp(Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }

    /// SPEC §9.1: a failure is remembered for the negative TTL (1 min), then fetched again.
    #[tokio::test]
    async fn failures_are_cached() {
        assert_eq!(CachePolicy::DISCOVERY.negative_ttl, Duration::from_secs(60));
        let c: TtlCache<String, u32> = TtlCache::new(FAST);
        let fetches = AtomicUsize::new(0);
        let key = "k".to_owned();
        let get = || {
            c.get_or_fetch(&key, || async {
                fetches.fetch_add(1, Ordering::SeqCst);
                Err(FederationError::NotFound { what: "k".into() })
            })
        };
        assert!(get().await.is_err());
        sleep_ms(100).await;
        assert!(get().await.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        sleep_ms(300).await;
        assert!(get().await.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    /// SPEC §9.1: a failure to reach the peer is remembered for 5 s, doubling while it repeats
    /// up to the negative TTL; an answer (or a definitive failure) starts the count again.
    #[tokio::test]
    async fn unreachable_peers_are_asked_again_sooner_and_less_often() {
        let policy = CachePolicy::DISCOVERY;
        let ttls: Vec<u64> = (1..=6).map(|n| policy.failure_ttl(n).as_secs()).collect();
        assert_eq!(ttls, [5, 10, 20, 40, 60, 60]);
        assert_eq!(policy.failure_ttl(0), policy.negative_ttl);
        assert_eq!(policy.failure_ttl(u32::MAX), policy.negative_ttl);

        let c: TtlCache<String, u32> = TtlCache::new(CachePolicy {
            unreachable_ttl: Duration::from_millis(200),
            negative_ttl: Duration::from_millis(2_000),
            ..FAST
        });
        let fetches = AtomicUsize::new(0);
        let up = std::sync::atomic::AtomicBool::new(false);
        let key = "k".to_owned();
        let get = || {
            c.get_or_fetch(&key, || async {
                fetches.fetch_add(1, Ordering::SeqCst);
                if up.load(Ordering::SeqCst) {
                    Ok((7, Duration::ZERO))
                } else {
                    Err(FederationError::unavailable("connection refused"))
                }
            })
        };
        // The first failure is remembered 200 ms.
        assert!(get().await.is_err());
        let left = c.failure_expires_in(&key).expect("a fresh failure");
        assert!(left <= Duration::from_millis(200) && left > Duration::from_millis(100));
        sleep_ms(300).await;
        // The second 400 ms: still remembered 200 ms later.
        assert!(get().await.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        sleep_ms(200).await;
        assert!(get().await.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        sleep_ms(300).await;
        // The third 800 ms.
        assert!(get().await.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        assert!(c.failure_expires_in(&key).expect("fresh") > Duration::from_millis(600));
        // The peer answers once the failure expires; a later failure counts from one again.
        up.store(true, Ordering::SeqCst);
        sleep_ms(900).await;
        assert_eq!(get().await.ok(), Some(7));
        assert_eq!(c.failure_expires_in(&key), None);
        up.store(false, Ordering::SeqCst);
        c.invalidate(&key);
        assert!(get().await.is_err());
        assert!(c.failure_expires_in(&key).expect("fresh") <= Duration::from_millis(200));
    }

    /// N concurrent callers of one key share one fetch.
    #[tokio::test]
    async fn single_flight() {
        let c = Arc::new(cache());
        let fetches = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (c, fetches, gate) = (c.clone(), fetches.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_fetch(&"k".to_owned(), || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    Ok((7, MIN))
                })
                .await
            }));
        }
        // Let every task reach the cache, then release the one fetch.
        while fetches.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.expect("task").ok(), Some(7));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    /// A leader dropped mid-fetch does not strand its waiters.
    #[tokio::test]
    async fn cancelled_leader_hands_over() {
        let c = Arc::new(cache());
        let leader = {
            let c = c.clone();
            tokio::spawn(async move { c.get_or_fetch(&"k".to_owned(), std::future::pending).await })
        };
        while c.is_empty() {
            tokio::task::yield_now().await;
        }
        leader.abort();
        let _ = leader.await;
        let got = c
            .get_or_fetch(&"k".to_owned(), || async { Ok((9, MIN)) })
            .await;
        assert_eq!(got.ok(), Some(9));
    }

    /// A failed refresh keeps the previous value; a successful one replaces it.
    #[tokio::test]
    async fn refresh_keeps_previous_on_failure() {
        let c = cache();
        let k = "k".to_owned();
        c.get_or_fetch(&k, || async { Ok((1, MIN)) }).await.ok();
        let failed = c
            .refresh(&k, || async { Err(FederationError::unavailable("down")) })
            .await;
        assert!(failed.is_err());
        assert_eq!(c.peek(&k).and_then(Result::ok), Some(1));
        let fresh = c.refresh(&k, || async { Ok((2, MIN)) }).await;
        assert_eq!(fresh.ok(), Some(2));
        assert_eq!(c.peek(&k).and_then(Result::ok), Some(2));
    }

    /// The cache never grows past its capacity; the soonest-expiring entry goes first.
    #[tokio::test]
    async fn bounded() {
        let c: TtlCache<u32, u32> = TtlCache::new(CachePolicy {
            capacity: 3,
            ..CachePolicy::DISCOVERY
        });
        for k in 0..10u32 {
            let ttl = MIN + Duration::from_secs(u64::from(k));
            c.get_or_fetch(&k, || async move { Ok((k, ttl)) })
                .await
                .ok();
            assert!(c.len() <= 3);
        }
        assert!(c.peek(&9).is_some());
        assert!(c.peek(&0).is_none());
    }

    /// `would_fetch` is true exactly when a `get_or_fetch` would go out: nothing cached, or
    /// only an expired entry; false for a fresh value, a fresh failure, or a fetch to join.
    #[tokio::test]
    async fn would_fetch_only_when_nothing_fresh_or_in_flight() {
        let c = Arc::new(TtlCache::new(FAST));
        let (ok, bad) = ("ok".to_owned(), "bad".to_owned());
        assert!(c.would_fetch(&ok));
        c.get_or_fetch(&ok, || async { Ok((1, MIN)) }).await.ok();
        assert!(!c.would_fetch(&ok), "a fresh value");
        c.get_or_fetch(&bad, || async {
            Err(FederationError::NotFound { what: "bad".into() })
        })
        .await
        .ok();
        assert!(!c.would_fetch(&bad), "a fresh failure");
        sleep_ms(700).await;
        assert!(c.would_fetch(&ok) && c.would_fetch(&bad), "expired");
        let (go, gate) = tokio::sync::oneshot::channel::<()>();
        let leader = {
            let c = c.clone();
            tokio::spawn(async move {
                c.get_or_fetch(&"slow".to_owned(), || async {
                    let _ = gate.await;
                    Ok((2, MIN))
                })
                .await
            })
        };
        while c.would_fetch(&"slow".to_owned()) {
            tokio::task::yield_now().await;
        }
        let _ = go.send(());
        assert_eq!(leader.await.ok().and_then(Result::ok), Some(2));
    }
}
