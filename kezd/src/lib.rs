//! `kezd`, the KEZ daemon, as a library, so tests (and the thin binary) start it on any bound
//! listener with any configuration and stop it with any future.
//!
//! Data flows one way: socket → [`server`] (accept loop, TLS, connection limits, timeouts) →
//! [`service`] (request id, client address, client rate limit, CORS, routing, metrics, the
//! access log) → a handler in [`handlers`] → the [`store`] → back as a response.
//!
//! Modules:
//! - [`config`]: the one validated [`config::Config`], built from defaults, a TOML file,
//!   `KEZ_*` variables and flags; [`cli`] parses the command line into its sources;
//!   [`preflight`] checks the files it names (with [`certificate`]: does the certificate
//!   cover `server_name`, until when) for `check-config` and the start; [`reload`] applies
//!   what can change live on SIGHUP.
//! - [`server`]: [`serve`] — the accept loop and each connection's life; [`tls`] loads the
//!   certificate; [`shutdown`] carries the stop signal to every task and stream.
//! - [`service`], [`router`], [`context`]: one request's path through the daemon and the
//!   interface handlers are written against.
//! - [`error`]: [`error::ApiError`], every SPEC §10 code and its status;
//!   [`error_response`]: the one function that turns it into a response; [`body`]: response
//!   bodies (full or streaming); [`request_body`]: request
//!   bodies read within a limit, a deadline and a minimum rate; [`budget`]: the cap on bytes
//!   in memory for requests and responses in flight.
//! - [`durability`]: what a commit promises, the operator's choice read by [`config`] and kept
//!   by the [`store`]. The size of a federation transaction (SPEC §9.4) is kez-spec's
//!   (`kez_spec::api::txn`).
//! - [`client_addr`] and [`cidr`]: who the client is, behind trusted proxies only.
//! - [`limits`]: the spam limits (SPEC §11), and [`conversation`]: which of them a send counts
//!   against; [`metrics`]: Prometheus counters, with [`process_metrics`] (`process_*`,
//!   `kezd_build_info`);
//!   [`maintenance`]: periodic upkeep (limiter memory, retention).
//! - [`registration_token`]: invitation tokens as text, made for the operator and read from
//!   a registration's `KEZ-Registration-Token` header (SPEC §4.1 check 10).
//! - [`slots`]: connections and streams open at once, capped per client address and per
//!   handle; [`idle`]: when a connection has nothing in progress (closed after the idle
//!   timeout); [`write_deadline`]: a connection whose client stopped reading is closed.
//! - [`detach`]: live streams written to the socket without hyper once their response is
//!   decided, so an idle stream holds none of hyper's buffers.
//! - [`web_app`]: the browser app compiled into the binary, served at `/`, or
//!   [`static_files`] from the operator's `web_dir`; [`app_headers`]: their security headers;
//!   [`cors`], [`request_id`], [`percent`], [`logging`];
//!   [`private_files`]: the database files created readable by kezd's user only.
//! - [`federate`]: this server's keys, its client for peers and the outbox delivery (SPEC §9).
//! - [`broker`]: live fanout of committed messages to open streams; [`clock`]: the one
//!   reading of wall-clock time.
//! - [`state`]: [`state::AppState`], the handle every handler receives; [`user_cache`]:
//!   registered users and the suspended ones remembered in memory (kept current by
//!   [`changes`]). The routing table
//!   ([`handlers::routes`]) is handed to [`serve`] beside the state, not kept in it.
//! - [`admin`]: `kezd admin`, operator administration through the daemon's admin socket or
//!   on the store directly ([`open_store`] opens the configured one), every action audited;
//!   [`changes`]: what an admin change makes every instance of a cluster drop from its caches.
//! - [`faults`]: deliberate protocol violations for the conformance suite's self-test, only
//!   with the `faults` cargo feature (never in a release); otherwise a constant `false`.
//!
//! # Layers
//!
//! Each module uses only those below it (`.ci/import_cycles.py` checks that no two reach each
//! other). The ground floor knows no other module ([`clock`], [`faults`], [`durability`],
//! [`budget`], [`shutdown`], [`process_metrics`], [`private_files`], …); the [`store`] stands
//! on it alone and knows nothing of HTTP, configuration or limits. Above it: [`config`],
//! [`error`], [`metrics`], [`broker`], [`user_cache`], [`registration_token`]; then [`certificate`], [`tls`],
//! [`preflight`], [`body`], [`conversation`], [`federate`]; then [`limits`],
//! [`request_body`], [`error_response`] (errors know nothing of bodies); then [`state`];
//! then [`context`]; then [`router`]; then [`handlers`] and [`service`]; then [`server`],
//! [`reload`] and [`changes`]; then [`admin`] and [`cli`]. A
//! store error becomes HTTP only at that edge, in [`error`]'s `From<StoreError> for ApiError`.
//!
//! # Where SPEC sections live
//!
//! | SPEC | module |
//! | --- | --- |
//! | §2 identifiers, §3 signed objects, §6 envelope | `kez-spec`, used by every handler |
//! | §4.1 registration | [`handlers::register`] → [`store::Store::register_with_token`]; [`registration_token`] |
//! | §4.2 handle record, §4.3 reverse lookup | [`handlers::users`], [`user_cache`] |
//! | §4.4 WebFinger | [`handlers::webfinger`] |
//! | §4.5 health, §4.6 metrics | [`handlers::healthz`], [`handlers::metrics`], [`metrics`] |
//! | §7 client request authentication | `handlers/auth.rs` |
//! | §8.1 send | [`handlers::messages`] → [`store::Store::accept_admitted`] |
//! | §8.2 inbox, §8.3 acknowledge | [`handlers::inbox`] → `Store::inbox`, `Store::ack` |
//! | §8.4 retention | [`maintenance`] → [`store::Store::enforce_retention`] |
//! | §8.5 live stream | [`handlers::stream`], [`broker`], [`detach`] |
//! | §8.6 durability, §8.7 message id memory | [`store`], [`durability`] |
//! | §9.1 discovery, §9.8 SSRF guard | `kez-federation`, wired in [`federate`] |
//! | §9.2 server document | [`handlers::server_document`], [`federate`] (keys) |
//! | §9.3 request signing | `handlers/origin_auth.rs` (received), [`federate::outbox`] (sent) |
//! | §9.4 transactions | [`handlers::txn`], [`federate::txn_slots`] |
//! | §9.5 ordering, §9.6 retries | [`federate::outbox`] |
//! | §9.7 delivery status | [`handlers::status`] → [`store::Store::message_status`] |
//! | §8.8 suspended accounts | `handlers/auth.rs`, [`user_cache`], [`admin`] |
//! | §9.9 origin policy | [`federate::policy`], [`admin`] (admin blocks) |
//! | §10 errors | [`error`], [`error_response`] |
//! | §11 limits and spam | [`limits`], [`conversation`], [`store::Admission`] |
//! | §13.6 denial of service, §13.7 proxies | [`server`], [`budget`], [`slots`], [`client_addr`] |

pub mod app_headers;
pub mod body;
pub mod broker;
pub mod budget;
/// IP networks, shared with federation's address allow-list.
pub use kez_federation::cidr;
pub mod admin;
pub mod certificate;
pub mod changes;
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
/// Without the `faults` feature no fault exists: [`faults::on`] is the federation crate's
/// constant `false` (its own `faults` feature is on only with kezd's), so the guarded lines
/// compile away and release code is unchanged.
#[cfg(not(feature = "faults"))]
pub mod faults {
    pub use kez_federation::faults::on;
}
pub mod handlers;
pub mod idle;
pub mod limits;
pub mod logging;
pub mod maintenance;
pub mod metrics;
pub mod open_store;
pub mod percent;
pub mod preflight;
pub mod private_files;
pub mod process_metrics;
pub mod refusal_hold;
pub mod registration_token;
pub mod reload;
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
pub mod user_cache;
pub mod web_app;
pub mod write_deadline;

pub use server::serve;
