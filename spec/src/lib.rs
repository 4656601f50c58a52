//! `kez-spec`: KEZ protocol v1 in code — the one place where the daemon, the command line,
//! federation, the conformance suite and the tests agree byte for byte on what crosses the wire.
//!
//! It is pure: no I/O, no async, and no check reads the clock (every check that depends on time
//! takes `now` as an argument; [`clock::now_ms`] is there for callers to pass). Each module implements one part of `spec/SPEC.md` and names its section:
//!
//! | module | SPEC | what |
//! | --- | --- | --- |
//! | [`handle`], [`server_name`], [`primary`], [`address`], [`key_id`], [`message_id`] | §2 | identifiers as newtypes that cannot hold invalid values |
//! | [`cursor`] | §7.4, §8.2 | `since`, `limit` and `Last-Event-ID` values |
//! | [`json`] | §3.2–§3.3 | strict JSON (duplicate members rejected) and JCS canonical bytes |
//! | [`signed`] | §3 | signed objects: the `signature` member, signing bytes, strict verification |
//! | `account_claim` | §4.1, §4.7 | what a registration and a deletion share: one set of checks |
//! | [`registration`] | §4.1 | the signed registration |
//! | [`deletion`] | §4.7 | the signed account deletion |
//! | [`envelope`] | §6.1, §6.4 | the signed envelope and its message id |
//! | [`e2ee`] | §6.2 | ed25519 → x25519, seal and open |
//! | [`plaintext`] | §6.3 | what is sealed: `{"text":…}` |
//! | [`auth`] | §7 | client request-auth strings and credentials |
//! | [`s2s`] | §9.3 | server-to-server request signing |
//! | [`server_document`] | §9.2 | the signed server document: sign, verify, key validity |
//! | [`api`] | §4, §8, §9.4, §9.7, §10 | every endpoint's request and response bodies |
//! | [`clock`] | §3.3 | timestamp windows, and the one reading of the wall clock |
//! | [`error`] | §10 | one error enum with stable codes |
//! | [`faults`] | — | guards for kezd's fault-injection build (cargo feature `faults`); inert elsewhere |
//!
//! The test vectors in `spec/vectors/` are checked by this crate's tests and, independently, by
//! `spec/crosscheck/check_vectors.py`.

mod account_claim;
pub mod address;
pub mod api;
pub mod auth;
pub mod clock;
pub mod cursor;
pub mod deletion;
pub mod e2ee;
pub mod envelope;
pub mod error;
pub mod faults;
pub mod handle;
mod hexstr;
pub mod json;
pub mod key_id;
pub mod message_id;
pub mod plaintext;
pub mod primary;
pub mod registration;
pub mod s2s;
pub mod server_document;
pub mod server_name;
pub mod signed;

pub use address::Address;
pub use error::Error;
pub use handle::Handle;
pub use key_id::KeyId;
pub use message_id::MessageId;
pub use primary::Primary;
pub use server_name::ServerName;

/// Re-exported so users of this crate sign and verify with the same types without depending
/// on a possibly different version of ed25519-dalek.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// The protocol version this crate implements (SPEC §1.1).
pub const PROTOCOL_VERSION: u64 = 1;
