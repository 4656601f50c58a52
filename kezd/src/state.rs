//! The daemon's shared state, passed to every handler as one cheap clone of an `Arc` — no
//! globals, so a test can run several daemons in one process, each with its own state.

use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use kez_spec::Primary;
use tokio::sync::broadcast;

use crate::broker::Broker;
use crate::budget::Budget;
use crate::config::Config;
use crate::federate::Federate;
use crate::limits::Limiters;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::slots::Slots;
use crate::static_files::{StaticFiles, StaticFilesError};
use crate::store::{Store, StoreError, UserRecord};
use crate::tls::LiveTls;
use crate::user_cache::UserCache;

/// A handle to the shared state. Clone it freely.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// What the handle points to.
struct Inner {
    /// The validated configuration.
    config: Config,
    /// Durable storage.
    store: Arc<dyn Store>,
    /// Live fanout to open streams.
    broker: Arc<dyn Broker>,
    /// Registered users, remembered: every send and credential looks them up.
    users: UserCache,
    /// Federation: keys, the client for peers, the outbox's wake-up. `None` for a daemon
    /// that does not federate (tests of the client API alone).
    federate: Option<Arc<Federate>>,
    /// The spam limits, replaced whole when a reload changes `[rate]` (their counters start
    /// over then).
    limiters: RwLock<Arc<Limiters>>,
    /// Counters for `/metrics`.
    metrics: Arc<Metrics>,
    /// The cap on request and response bytes in memory.
    budget: Budget,
    /// Triggered when the daemon stops; long-lived streams select on it.
    shutdown: Shutdown,
    /// The browser app, when a web directory is configured.
    static_files: Option<StaticFiles>,
    /// The TLS acceptor new connections get: set by [`crate::serve`], replaced on reload.
    tls: LiveTls,
    /// Live streams open on this instance, per handle (`[stream] max_per_handle`).
    streams_per_handle: Slots<String>,
    /// Live streams open on this instance, per client address group (`[stream]
    /// max_per_address`).
    streams_per_address: Slots<IpAddr>,
}

impl AppState {
    /// State for a daemon with this configuration, store, broker and federation. Fails when
    /// the configured web directory is unusable. The routing table is not part of it: it is
    /// handed to [`crate::serve`] beside the state, since handlers are reached through it.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        federate: Option<Arc<Federate>>,
    ) -> Result<Self, StaticFilesError> {
        let static_files = config
            .web_dir
            .as_deref()
            .map(StaticFiles::new)
            .transpose()?;
        Ok(AppState {
            inner: Arc::new(Inner {
                limiters: RwLock::new(Arc::new(Limiters::new(&config.rate))),
                streams_per_handle: Slots::new(config.stream.max_per_handle.get()),
                streams_per_address: Slots::new(config.stream.max_per_address.get()),
                budget: Budget::with_client_share(
                    config.http.max_inflight_bytes,
                    config.http.max_inflight_bytes_per_address,
                ),
                config,
                store,
                broker,
                users: UserCache::new(),
                federate,
                metrics: Arc::new(Metrics::new()),
                shutdown: Shutdown::new(),
                static_files,
                tls: LiveTls::default(),
            }),
        })
    }

    /// Federation, when this daemon federates.
    pub fn federate(&self) -> Option<&Arc<Federate>> {
        self.inner.federate.as_ref()
    }

    /// The user registered as `handle` (cached; see [`UserCache`]).
    pub async fn user(&self, handle: &str) -> Result<Option<Arc<UserRecord>>, StoreError> {
        self.inner
            .users
            .get(self.inner.store.as_ref(), handle)
            .await
    }

    /// The users remembered (dropped by change notices, kezd/src/changes.rs).
    pub fn user_cache(&self) -> &UserCache {
        &self.inner.users
    }

    /// Remembers a user the store just returned from a registration.
    pub fn remember_user(&self, user: UserRecord) {
        self.inner.users.remember(user);
    }

    /// Completes when the user `handle` no longer exists (its account deleted, SPEC §4.7, on
    /// this instance or, through a change notice, on another): what a live stream of that user
    /// selects on to end. Listens from the call on, so call it before the credential check.
    pub fn departure(&self, handle: &str) -> impl Future<Output = ()> + Send + 'static {
        let mut departed = self.inner.users.departed();
        let (state, handle) = (self.clone(), handle.to_owned());
        async move {
            loop {
                let asked = match departed.recv().await {
                    // The empty handle: every user was forgotten (notices were missed).
                    Ok(changed) => changed.is_empty() || *changed == *handle,
                    // Changes were missed: the store says whether this user's was among them.
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    // The cache lives as long as the state this future holds.
                    Err(broadcast::error::RecvError::Closed) => {
                        std::future::pending::<()>().await;
                        false
                    }
                };
                // A change that left the user in place (a suspension, say) keeps the stream.
                // Boxed: the look-up's state is large and rare, and this future is held by
                // every live stream for its whole life.
                if asked && matches!(Box::pin(state.user(&handle)).await, Ok(None)) {
                    return;
                }
            }
        }
    }

    /// The decoded primary with this text, if a sender's envelope verified with it (see
    /// [`UserCache`]).
    pub fn known_primary(&self, text: &str) -> Option<Primary> {
        self.inner.users.primary(text)
    }

    /// Remembers the primary of a sender whose envelope verified.
    pub fn remember_primary(&self, primary: Primary) {
        self.inner.users.remember_primary(primary);
    }

    /// The live broker.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.inner.broker
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The rate limiters in force.
    pub fn limiters(&self) -> Arc<Limiters> {
        Arc::clone(
            &self
                .inner
                .limiters
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Puts new rate limiters in force (a reload changed `[rate]`).
    pub fn replace_limiters(&self, limiters: Limiters) {
        *self
            .inner
            .limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(limiters);
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The memory budget every request body, and every response built in memory, holds its
    /// bytes against.
    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    /// The shutdown signal: select on `shutdown().signalled()` in anything long-lived.
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// Live streams open per handle.
    pub fn streams_per_handle(&self) -> &Slots<String> {
        &self.inner.streams_per_handle
    }

    /// Live streams open per client address group.
    pub fn streams_per_address(&self) -> &Slots<IpAddr> {
        &self.inner.streams_per_address
    }

    /// The TLS acceptor in force for new connections.
    pub fn tls(&self) -> &LiveTls {
        &self.inner.tls
    }

    /// The browser app's files, if served.
    pub fn static_files(&self) -> Option<&StaticFiles> {
        self.inner.static_files.as_ref()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("server_name", &self.inner.config.server_name)
            .finish_non_exhaustive()
    }
}
