//! `kez-conformance`: a black-box conformance suite for KEZ servers (SPEC v1).
//!
//! The suite judges a server only by what it says over the network. It never links kezd, so it
//! can judge any implementation: an existing deployment (`--server URL`, repeatable) or local
//! kezd processes on a private testnet (`--spawn N`, via `kez-testnet`). It acts as clients
//! (registering fresh accounts with random handles), as a peer server (server-to-server
//! requests signed with its own key), and, under `--spawn`, through a rogue peer server that
//! misbehaves on purpose as sender and as receiver.
//!
//! # Layout
//! - [`case`]: a [`Case`] — id, SPEC sections, description, and what it runs against (one
//!   server, an ordered pair, or a server plus a rogue peer); [`fail`]: [`Fail`] and the check
//!   macros.
//! - [`cases`]: the cases, one file per SPEC section (`cases/s7_auth.rs` …), and
//!   [`cases::all`], the registry.
//! - [`server`]: a server under test over HTTP, with a timeout on every request; [`user`]: a
//!   client account (registration, envelopes, credentials, inbox, stream); [`sse`]: a strict
//!   reader of Server-Sent Events.
//! - [`target`]: connecting to `--server` URLs; [`spawn`]: a testnet of kezd nodes configured
//!   for the suite; [`env`]: the [`env::Env`] every case sees; [`own`]: nodes a case configures
//!   and restarts for itself; [`runner`]: bounded parallel runs with a timeout per case.
//! - [`requirements`]: how each requirement id of SPEC.md is checked (a server fault, client
//!   tests, or why it cannot be observed); [`coverage`]: the ids read out of SPEC.md and checked
//!   against that table.
//! - [`report`]: the table on stdout, JSON and JUnit files.
//! - [`faults`]: the suite's self-test: the whole suite once per fault of kezd's
//!   fault-injection build; [`proof`]: its report per requirement.
//!
//! # Guarantees
//! Every request and every case has a timeout: a server that never answers fails its cases
//! with that reason, it cannot hang the suite. Cases are independent (each registers its own
//! accounts) and run in parallel up to a bound.

#[macro_use]
pub mod fail;
pub mod case;
pub mod cases;
pub mod coverage;
pub mod env;
pub mod faults;
pub mod own;
pub mod proof;
pub mod report;
pub mod requirements;
pub mod runner;
pub mod server;
pub mod spawn;
pub mod sse;
pub mod target;
pub mod user;

pub use case::{Case, CaseResult, Fail};
pub use runner::{Outcome, Status};
