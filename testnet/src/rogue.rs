//! A rogue peer: an in-process KEZ server on the testnet that speaks the federation protocol
//! itself (not kezd), so tests can make it misbehave on purpose — as a sender (forged, stale,
//! misaddressed or replayed requests; envelopes that claim other servers' users or were
//! tampered with) and as a receiver (5xx, 429/503 with `Retry-After`, slow answers, deferred
//! envelopes). kezd's federation tests and the conformance suite use it to check what a real
//! server does with such a peer (SPEC §9).
//!
//! # What it serves
//! [`RoguePeer::start`] binds a loopback address of its own (one the nodes allow, unless
//! [`RogueOptions::unlisted_address`]), gets a certificate for its name from the testnet CA
//! and publishes the same DNS records as a node (`SRV _kez._tcp.<name>` → `node-<name>`, A
//! records to its address), so kezd discovers and verifies it exactly like a real server.
//! Hostile variants serve a flawed document ([`DocumentFlaw`]), a certificate that must not
//! verify ([`RogueCert`]) or redirects ([`RogueOptions::redirects`]), publish their IP literal
//! as the SRV target ([`RogueOptions::address_target`]), or move their name to another
//! address between look-ups ([`RoguePeer::point_target_at`]); [`RoguePeer::traffic`] counts
//! what reached it. The nodes' requests are verified with the testnet's one shared client
//! (`Testnet::rogue_verifier`). It serves:
//! - `GET /.well-known/kez`: its document, signed with [`kez_spec::server_document::ServerDocument::sign`]
//!   (or, with [`RogueOptions::expired_key`], re-signed with the current key's `valid_until`
//!   in the past);
//! - `GET /.well-known/webfinger` and `GET /v1/u/{handle}` for the users made with
//!   [`RoguePeer::user`], with their signed registrations; WebFinger can be held open on
//!   purpose ([`RoguePeer::hold_lookups`]), as a slow origin, and its requests are counted
//!   ([`RoguePeer::lookup_counts`]);
//! - `PUT /v1/federation/txn/{id}`: answered as the current [`Behaviour`] says; every request is
//!   recorded ([`RoguePeer::received`]) with the verdict on its `Authorization` header, and
//!   envelopes it accepts are kept once each ([`RoguePeer::accepted`]).
//!
//! # Sending
//! [`RoguePeer::send_txn`] signs a `PUT /v1/federation/txn/{id}` as the [`Sign`] variant says
//! and returns the status and JSON body. [`RoguePeer::envelope`], [`envelope_as`], [`tamper`]
//! and [`RoguePeer::txn_body`] build what goes in it.
//!
//! # Example
//! ```no_run
//! # async fn example(net: &kez_testnet::Testnet, bob: kez_spec::Address, bob_primary: kez_spec::Primary)
//! #     -> Result<(), kez_testnet::TestnetError> {
//! use kez_testnet::rogue::{RogueOptions, RoguePeer, Sign};
//! let rogue = RoguePeer::start(net, "rogue.test", RogueOptions::new()).await?;
//! rogue.user("mallory");
//! let envelope = rogue.envelope("mallory", &bob, &bob_primary, "hi");
//! let body = rogue.txn_body(&[envelope]);
//! let (status, answer) = rogue.send_txn("b.test", "t1", body, Sign::WithRandomKey).await?;
//! assert_eq!((status, answer["error"].as_str()), (401, Some("invalid_signature")));
//! # Ok(()) }
//! ```

mod held;
mod hostile;
mod send;
mod serve;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use kez_federation::{FederationClient, ServerKeys};
use kez_spec::registration::Registration;
use kez_spec::{Address, Handle, KeyId, Primary, ServerName, SigningKey};
use rand_core::{OsRng, RngCore};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::dns::{RecordData, kez_srv_name};
use crate::error::TestnetError;
use crate::testnet::Testnet;

pub use held::{Held, LookupCounts};
pub use hostile::{DocumentFlaw, MOVED_PREFIX, RogueCert, SHORT_LIVED_MS, Traffic};
pub use send::{Sign, SignAs, TxnAnswer, envelope_as, message_id, tamper, txn_body};
pub use serve::ReceivedTxn;

/// How the rogue answers `PUT /v1/federation/txn/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// 200, every envelope `accepted` (or `duplicate` when it was accepted before).
    Accept,
    /// This status with a SPEC §10 error body (`internal` for 500, `unavailable` for 503,
    /// `rate_limited` for 429), and `Retry-After` when given.
    Fail {
        /// The HTTP status.
        status: u16,
        /// Seconds for `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Waits this long, then answers as [`Behaviour::Accept`].
    Slow(Duration),
    /// Waits until the test calls [`RoguePeer::release_held`], then answers as
    /// [`Behaviour::Accept`]: a transaction held for as long as the test needs, whatever the
    /// machine's speed.
    Held,
    /// Accepts the first `accept_first` envelopes and defers the rest with `rate_limited` and
    /// `retry_after` (deferring every later envelope keeps each sender's order, SPEC §9.4).
    Defer {
        /// How many envelopes at the start of the transaction are accepted.
        accept_first: usize,
        /// The deferred results' `retry_after`, seconds.
        retry_after: u64,
    },
}

/// Which keys the rogue's document publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum DocumentKeys {
    /// The current key, valid for 7 days, as a correct server publishes it.
    #[default]
    Current,
    /// The current key with `valid_until` an hour in the past: nothing it signs may be trusted.
    Expired,
}

/// Options of a rogue peer.
#[derive(Debug, Clone)]
pub struct RogueOptions {
    /// What the document says about the current key.
    document: DocumentKeys,
    /// Start with `ed25519:k1` already rotated out (`ed25519:k2` current).
    rotated: bool,
    /// The answer to transactions when no scripted answer is queued.
    behaviour: Behaviour,
    /// What is wrong with the served document, if anything.
    flaw: Option<DocumentFlaw>,
    /// The certificate served.
    cert: RogueCert,
    /// Answer every request with a redirect (SPEC §9.8: never followed).
    redirects: bool,
    /// Listen outside the nodes' allow-list of private addresses (SPEC §9.8).
    unlisted_address: bool,
    /// Publish the SRV target as the listener's IP literal, not a name (SPEC §9.8).
    address_target: bool,
}

impl Default for RogueOptions {
    fn default() -> Self {
        RogueOptions {
            document: DocumentKeys::Current,
            rotated: false,
            behaviour: Behaviour::Accept,
            flaw: None,
            cert: RogueCert::ForItsName,
            redirects: false,
            unlisted_address: false,
            address_target: false,
        }
    }
}

impl RogueOptions {
    /// A well-behaved document and [`Behaviour::Accept`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Publish the current key as expired (`valid_until` in the past): requests signed with it
    /// must be refused with `unknown_key` (SPEC §9.2 key validity).
    pub fn expired_key(mut self) -> Self {
        self.document = DocumentKeys::Expired;
        self
    }

    /// Start with the first key already rotated out: the document lists it in
    /// `old_verify_keys` with `expired_at` = start time; [`Sign::WithOldKey`] signs with it.
    pub fn rotated(mut self) -> Self {
        self.rotated = true;
        self
    }

    /// The answer to transactions while nothing is scripted ([`RoguePeer::script`]).
    pub fn behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// Serve a document with `flaw`: a receiver must not trust its keys (SPEC §9.2).
    pub fn document_flaw(mut self, flaw: DocumentFlaw) -> Self {
        self.flaw = Some(flaw);
        self
    }

    /// Serve `cert` instead of a certificate for the rogue's name from the testnet CA.
    pub fn certificate(mut self, cert: RogueCert) -> Self {
        self.cert = cert;
        self
    }

    /// Answer every request with `307` to the same path under [`MOVED_PREFIX`], which serves
    /// the real answer: only a server that follows redirects gets it (SPEC §9.8).
    pub fn redirects(mut self) -> Self {
        self.redirects = true;
        self
    }

    /// Listen at a loopback address outside the nodes' `allowed_private_addresses`, and
    /// publish it in DNS: a server must refuse to connect (SPEC §9.8).
    pub fn unlisted_address(mut self) -> Self {
        self.unlisted_address = true;
        self
    }

    /// Publish `_kez._tcp.<name>` with the listener's IP literal as its target (`127.0.2.9.`),
    /// at an allowed address: only a server that takes an SRV target for an address, rather
    /// than a name to look up, connects (SPEC §9.8: such a target is skipped).
    pub fn address_target(mut self) -> Self {
        self.address_target = true;
        self
    }
}

/// A user registered on the rogue: its key and signed registration.
struct RogueUser {
    /// Its primary's secret: tests sign its envelopes with it.
    key: SigningKey,
    /// The signed registration, served in its handle record (SPEC §4.2).
    registration: Value,
    /// The record's `registered_at`.
    registered_at_ms: u64,
}

/// The rogue's keys: the file-backed current set, and the last retired secret, kept (unlike a
/// real server) so that tests can sign with a key that is no longer valid.
struct RogueKeys {
    /// Signs now; published in `verify_keys`.
    current: ServerKeys,
    /// The key retired by the last rotation, with its secret.
    old: Option<(KeyId, SigningKey)>,
}

/// State shared by the server task and the handle.
pub(crate) struct Shared {
    /// The rogue's server name.
    name: ServerName,
    /// Where the key file lives (rotation writes it).
    keys_dir: TempDir,
    /// Sign the document and the rogue's requests; replaced whole by a rotation.
    keys: RwLock<RogueKeys>,
    /// What the document says about the current key.
    document: DocumentKeys,
    /// What is wrong with the document, if anything.
    flaw: Option<DocumentFlaw>,
    /// Answer every request with a redirect.
    redirects: bool,
    /// What reached the listener.
    traffic: hostile::Counters,
    /// Users by handle, served by WebFinger and `/v1/u/{handle}`.
    users: Mutex<BTreeMap<String, RogueUser>>,
    /// Scripted answers for the next transactions, then the default.
    behaviour: Mutex<(VecDeque<Behaviour>, Behaviour)>,
    /// Every transaction request, for tests to inspect.
    received: Mutex<Vec<ReceivedTxn>>,
    /// While set, WebFinger and user records answer 503, as a server that is restarting.
    lookups_down: AtomicBool,
    /// Which WebFinger requests wait, and how many are in flight.
    lookups: held::Lookups,
    /// Accepted envelopes in order of acceptance, and their ids (for `duplicate`).
    accepted: Mutex<(Vec<Value>, HashSet<String>)>,
    /// Transactions answering [`Behaviour::Held`] wait for this to turn true; the count is of
    /// those waiting now.
    held_txns: (tokio::sync::watch::Sender<bool>, AtomicUsize),
    /// Verifies incoming requests against the origin's published keys (SPEC §9.3).
    verifier: FederationClient,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every update is a
/// single push or replace).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running rogue peer. Dropping it stops its server; its DNS records stay (the testnet's DNS
/// server goes away with the testnet).
pub struct RoguePeer {
    /// Shared with the server task.
    shared: Arc<Shared>,
    /// Where it listens.
    addr: SocketAddr,
    /// Sends the rogue's requests: trusts the testnet CA, resolves every node name.
    http: reqwest::Client,
    /// Where each node of the testnet listens, by server name (ports survive restarts).
    nodes: HashMap<String, SocketAddr>,
    /// The accept loop; aborted on drop.
    task: JoinHandle<()>,
}

impl std::fmt::Debug for RoguePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoguePeer")
            .field("name", &self.shared.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for RoguePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RoguePeer {
    /// Starts a rogue named `name` (a DNS name under `.test`, not a node's) on `net`: keys,
    /// certificate, listener, DNS records.
    pub async fn start(
        net: &Testnet,
        name: &str,
        options: RogueOptions,
    ) -> Result<RoguePeer, TestnetError> {
        crate::install_crypto_provider();
        let server_name =
            ServerName::parse(name).map_err(|_| TestnetError::InvalidNodeName(name.to_owned()))?;
        if net.node(name).is_ok() {
            return Err(TestnetError::DuplicateNode(name.to_owned()));
        }
        let keys_dir = tempfile::Builder::new()
            .prefix("kez-rogue-")
            .tempdir()
            .map_err(|e| TestnetError::io("creating the rogue's key directory", e))?;
        let keys = RogueKeys::create(keys_dir.path(), options.rotated)?;

        let ip = net.rogue_ip(!options.unlisted_address);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
            .await
            .map_err(|e| TestnetError::io("binding the rogue's listener", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TestnetError::io("reading the rogue's address", e))?;
        let cert = hostile::certificate(net, name, &options.cert, keys_dir.path())?;
        let acceptor = serve::acceptor(&cert)?;
        let verifier = net.rogue_verifier()?;
        let shared = Arc::new(Shared {
            name: server_name,
            keys_dir,
            keys: RwLock::new(keys),
            document: options.document,
            flaw: options.flaw,
            redirects: options.redirects,
            traffic: hostile::Counters::default(),
            users: Mutex::new(BTreeMap::new()),
            behaviour: Mutex::new((VecDeque::new(), options.behaviour)),
            received: Mutex::new(Vec::new()),
            lookups_down: AtomicBool::new(false),
            lookups: held::Lookups::default(),
            accepted: Mutex::new((Vec::new(), HashSet::new())),
            held_txns: (tokio::sync::watch::Sender::new(false), AtomicUsize::new(0)),
            verifier,
        });
        let task = tokio::spawn(serve::run(listener, acceptor, shared.clone()));
        net.dns()
            .publish_kez_server(name, &format!("node-{name}"), addr)
            .await?;
        if options.address_target {
            let srv = RecordData::Srv {
                priority: 0,
                weight: 0,
                port: addr.port(),
                target: addr.ip().to_string(),
            };
            net.dns().replace(&kez_srv_name(name), srv).await?;
        }
        let nodes = net
            .nodes()
            .map(|node| (node.name().to_owned(), node.addr()))
            .collect();
        let http = net
            .client_builder()?
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(RoguePeer {
            shared,
            addr,
            http,
            nodes,
            task,
        })
    }

    /// The rogue's server name.
    pub fn name(&self) -> &ServerName {
        &self.shared.name
    }

    /// The name its SRV record targets (`node-<name>`).
    pub fn srv_target(&self) -> String {
        format!("node-{}", self.shared.name)
    }

    /// Makes its SRV target resolve to `ip` from the next look-up on (its listener stays
    /// where it is): a name whose address changes between two look-ups, as DNS rebinding
    /// does (SPEC §9.8).
    pub async fn point_target_at(&self, net: &Testnet, ip: Ipv4Addr) -> Result<(), TestnetError> {
        net.dns()
            .replace(&self.srv_target(), RecordData::A(ip))
            .await?;
        Ok(())
    }

    /// Its own loopback address and port (see `addresses.rs`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What has reached its listener so far: connections, requests, document fetches,
    /// followed redirects.
    pub fn traffic(&self) -> Traffic {
        self.shared.traffic.snapshot()
    }

    /// The id of the key it signs with now.
    pub fn key_id(&self) -> KeyId {
        self.read_keys().current.key_id().clone()
    }

    /// The server document it serves now (SPEC §9.2), as JSON.
    pub fn document(&self) -> Value {
        serve::document(&self.shared)
    }

    /// Registers `handle` here with a fresh key (its signed registration is served) and
    /// returns the key; a handle registered before keeps its key.
    pub fn user(&self, handle: &str) -> SigningKey {
        let mut users = lock(&self.shared.users);
        if let Some(user) = users.get(handle) {
            return user.key.clone();
        }
        let key = random_key();
        let now = kez_spec::clock::now_ms();
        let registration = Registration {
            // Invariant: tests pass literal handles; an invalid one is a bug in the test.
            handle: Handle::parse(handle).expect("a valid handle"),
            server: self.shared.name.clone(),
            primary: Primary::from(&key),
            ts_ms: now,
        }
        .sign(&key);
        users.insert(
            handle.to_owned(),
            RogueUser {
                key: key.clone(),
                registration,
                registered_at_ms: now,
            },
        );
        key
    }

    /// `<handle>@<rogue name>`.
    pub fn address(&self, handle: &str) -> Address {
        // Invariant: as in `user`.
        Address::parse(&format!("{handle}@{}", self.shared.name)).expect("a valid address")
    }

    /// A signed envelope from the registered user `handle` (registered now if it is not)
    /// to `to`, sealing `{"text": text}` for `to_primary`.
    pub fn envelope(&self, handle: &str, to: &Address, to_primary: &Primary, text: &str) -> Value {
        let key = self.user(handle);
        envelope_as(&key, &self.address(handle), to, to_primary, text)
    }

    /// `{"origin": <rogue name>, "envelopes": [...]}` as bytes.
    pub fn txn_body(&self, envelopes: &[Value]) -> Vec<u8> {
        txn_body(self.shared.name.as_str(), envelopes)
    }

    /// Retires the current key (kept for [`Sign::WithOldKey`]) and creates the next one, as
    /// [`ServerKeys::rotate`] does; returns the new key id.
    pub fn rotate_keys(&self) -> Result<KeyId, TestnetError> {
        let mut keys = self
            .shared
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        keys.rotate(self.shared.keys_dir.path())?;
        Ok(keys.current.key_id().clone())
    }

    /// The answer to transactions from now on, when nothing is scripted.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let mut guard = lock(&self.shared.behaviour);
        guard.1 = behaviour;
    }

    /// Makes WebFinger and user records answer 503 `unavailable` (`true`), or answer again
    /// (`false`): what a receiver meets when it looks a sender up while the origin restarts.
    pub fn set_lookups_down(&self, down: bool) {
        self.shared.lookups_down.store(down, Ordering::SeqCst);
    }

    /// Holds the user look-ups `held` names open from now on (their WebFinger requests wait),
    /// and releases every other: a slow origin, as a receiver looking senders up meets it.
    pub fn hold_lookups(&self, held: Held) {
        self.shared.lookups.hold(held);
    }

    /// How many user look-ups are in flight, were at most at once, and began.
    pub fn lookup_counts(&self) -> LookupCounts {
        self.shared.lookups.counts()
    }

    /// Counts the peak and the look-ups begun afresh from now.
    pub fn reset_lookup_counts(&self) {
        self.shared.lookups.reset();
    }

    /// Answers every transaction held by [`Behaviour::Held`], now and from now on.
    pub fn release_held(&self) {
        self.shared.held_txns.0.send_replace(true);
    }

    /// Waits until `n` transactions are held by [`Behaviour::Held`]; false if not within
    /// `timeout`.
    pub async fn wait_held(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.shared.held_txns.1.load(Ordering::SeqCst) < n {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Answers for the next transactions, one each, before the default applies again.
    pub fn script(&self, answers: impl IntoIterator<Item = Behaviour>) {
        lock(&self.shared.behaviour).0.extend(answers);
    }

    /// Every transaction request received so far, in order of arrival.
    pub fn received(&self) -> Vec<ReceivedTxn> {
        lock(&self.shared.received).clone()
    }

    /// The envelopes accepted so far, each once, in order of acceptance.
    pub fn accepted(&self) -> Vec<Value> {
        lock(&self.shared.accepted).0.clone()
    }

    /// Waits until at least `n` envelopes are accepted, or `timeout` passes; returns them.
    pub async fn wait_accepted(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n || tokio::time::Instant::now() >= deadline {
                return accepted;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The address of a testnet node, for sending to it.
    fn node_addr(&self, destination: &str) -> Result<SocketAddr, TestnetError> {
        self.nodes
            .get(destination)
            .copied()
            .ok_or_else(|| TestnetError::UnknownNode(destination.to_owned()))
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, RogueKeys> {
        self.shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl RogueKeys {
    /// `ed25519:k1` in `dir`, rotated once to `ed25519:k2` when `rotated`.
    fn create(dir: &std::path::Path, rotated: bool) -> Result<RogueKeys, TestnetError> {
        let current = ServerKeys::load_or_create(dir).map_err(rogue_keys_error)?;
        let mut keys = RogueKeys { current, old: None };
        if rotated {
            keys.rotate(dir)?;
        }
        Ok(keys)
    }

    fn rotate(&mut self, dir: &std::path::Path) -> Result<(), TestnetError> {
        let old = (
            self.current.key_id().clone(),
            SigningKey::from_bytes(&self.current.signing_key().to_bytes()),
        );
        self.current = ServerKeys::rotate(dir).map_err(rogue_keys_error)?;
        self.old = Some(old);
        Ok(())
    }
}

fn rogue_keys_error(e: kez_federation::FederationError) -> TestnetError {
    TestnetError::Rogue(format!("server keys: {e}"))
}

fn random_key() -> SigningKey {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}
