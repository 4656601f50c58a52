//! `kezd`, the KEZ daemon, as a library, so tests (and the thin binary) start it on any bound
//! listener with any configuration and stop it with any future.
//!
//! Data flows one way: socket → [`server`] (accept loop, TLS, connection limits, timeouts) →
//! [`service`] (request id, client address, client rate limit, CORS, routing, metrics, the
//! access log) → a handler in [`handlers`] → the [`store`] → back as a response.
//!
//! Modules:
//! - [`config`]: the one validated [`config::Config`], built from defaults, a TOML file,
//!   `KEZ_*` variables and flags; [`cli`] parses the command line into its sources.
//! - [`server`]: [`serve`] — the accept loop and each connection's life; [`tls`] loads the
//!   certificate; [`shutdown`] carries the stop signal to every task and stream.
//! - [`service`], [`router`], [`context`]: one request's path through the daemon and the
//!   interface handlers are written against.
//! - [`error`]: [`error::ApiError`], every SPEC §10 code and its status;
//!   [`error_response`]: the one function that turns it into a response; [`body`]: response bodies (full or streaming); [`request_body`]: request
//!   bodies read within a limit, a deadline and a minimum rate; [`budget`]: the cap on bytes
//!   in memory for requests and responses in flight.
//! - [`client_addr`] and [`cidr`]: who the client is, behind trusted proxies only.
//! - [`limits`]: the spam limits (SPEC §11), and [`conversation`]: which of them a send counts
//!   against; [`metrics`]: Prometheus counters;
//!   [`maintenance`]: periodic upkeep (limiter memory, retention).
//! - [`slots`]: connections and streams open at once, capped per client address and per
//!   handle; [`idle`]: when a connection has nothing in progress (closed after the idle
//!   timeout); [`write_deadline`]: a connection whose client stopped reading is closed.
//! - [`detach`]: live streams written to the socket without hyper once their response is
//!   decided, so an idle stream holds none of hyper's buffers.
//! - [`static_files`], [`cors`], [`request_id`], [`percent`], [`logging`].
//! - [`federate`]: this server's keys, its client for peers and the outbox delivery (SPEC §9).
//! - [`broker`]: live fanout of committed messages to open streams; [`clock`]: the one
//!   reading of wall-clock time.
//! - [`state`]: [`state::AppState`], the handle every handler receives; [`user_cache`]:
//!   registered users remembered in memory (registrations never change).
//! - [`faults`]: deliberate protocol violations for the conformance suite's self-test, only
//!   with the `faults` cargo feature (never in a release); otherwise a constant `false`.

pub mod body;
pub mod broker;
pub mod budget;
pub mod cidr;
pub mod cli;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod context;
pub mod conversation;
pub mod cors;
pub mod detach;
pub mod durability;
pub mod error;
pub mod error_response;
pub mod federate;
// Fault injection for the conformance suite's self-test; see `faults.rs`. Test builds only.
#[cfg(all(feature = "faults", not(debug_assertions)))]
compile_error!(
    "the `faults` feature is for test builds only and must not be built with optimisations for release"
);
#[cfg(feature = "faults")]
pub mod faults;
/// Without the `faults` feature no fault exists: [`faults::on`] is a constant `false`, so the
/// guarded lines compile away and release code is unchanged.
#[cfg(not(feature = "faults"))]
pub mod faults {
    /// Always `false`: this build has no fault injection.
    #[inline(always)]
    pub const fn on(_name: &str) -> bool {
        false
    }
}
pub mod handlers;
pub mod idle;
pub mod limits;
pub mod logging;
pub mod maintenance;
pub mod metrics;
pub mod percent;
pub mod request_body;
pub mod request_id;
pub mod router;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod slots;
pub mod state;
pub mod static_files;
pub mod store;
pub mod tls;
pub mod txn_limits;
pub mod user_cache;
pub mod write_deadline;

pub use server::serve;
