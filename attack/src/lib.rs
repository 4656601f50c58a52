//! `kez-attack`: KEZ's standing attack suite. Each scenario starts the real kezd binary on
//! loopback with a configuration of its own (short deadlines, small caps, so that a bound is
//! reached in seconds), attacks it the way a hostile internet does, and checks that kezd holds:
//! memory and in-flight bytes stay within the configured bounds, honest clients are still
//! served, and every refusal is the SPEC §10 answer. A scenario fails when kezd does not hold.
//!
//! # Layout
//! - [`daemon`]: [`Daemon`], one kezd process under attack (via `kez-testnet`), its honest
//!   client and its process id.
//! - [`wire`]: raw HTTP/1.1 over TCP for attackers: sockets bound to a chosen loopback source
//!   address, bytes written as the attack needs, answers read with deadlines.
//! - [`observe`]: what the attack did to kezd: `/metrics` gauges and the process's RSS.
//! - [`scenario`]: a [`Scenario`] (name, what it proves, its run function) and the runner that
//!   bounds each one in time.
//! - [`scenarios`]: one file per attack, and [`scenarios::all`], the registry.
//!
//! # Guarantees
//! Loopback only: kezd binds 127.0.0.1, attackers and honest clients use 127.0.0.0/8 source
//! addresses, and no scenario asks kezd to connect anywhere but loopback unless kezd has just
//! refused the loopback spelling of the same attack (see the numeric server names scenario).
//! Every loop is bounded in count and in time, and every scenario as a whole by its timeout.

pub mod daemon;
pub mod observe;
pub mod scenario;
pub mod scenarios;
pub mod wire;

pub use daemon::Daemon;
pub use kez_conformance::Fail;
pub use scenario::{Outcome, Scenario};
