//! The request and response bodies of every endpoint (SPEC §4, §8, §9, §10), defined once so
//! the daemon, federation, the command line and the tools cannot drift apart. One file per
//! endpoint or shape, each naming its method, path and SPEC section.
//!
//! Answers are written with serde from these types; bodies a server receives from a client or
//! a peer are parsed as strict JSON (SPEC §3.3) by the `parse` functions here, which name the
//! member that is wrong. The conformance suite deliberately does not read answers through these
//! types: it judges raw JSON against the SPEC's text, so a mistake shared by a type and the
//! server built on it cannot hide.
//!
//! | module | SPEC | what |
//! | --- | --- | --- |
//! | [`health`] | §4.5 | `GET /v1/healthz` |
//! | [`account_delete`] | §4.7 | `POST /v1/account/delete`: its answer |
//! | [`handle_record`] | §4.2, §4.3, §9.4 | the handle record, and verifying a peer's |
//! | [`webfinger`] | §4.4 | the JRD, and where a peer's handle record is fetched from |
//! | [`send`] | §8.1 | `POST /v1/messages`: `{to, envelope}` and its answer |
//! | [`inbox`] | §8.2, §8.5 | an inbox item (poll page and stream event) and a page |
//! | [`ack`] | §8.3 | `POST /v1/inbox/{handle}/ack` |
//! | [`status`] | §9.7 | `GET /v1/messages/{id}/status` |
//! | [`limits`] | §9.2 | the limits a server document publishes |
//! | [`txn`] | §9.4 | transaction ids, limits and results |
//! | [`txn_body`] | §9.4 | a received transaction's body and its elements |
//! | [`error_body`] | §10 | the error body |

pub mod account_delete;
pub mod ack;
pub mod error_body;
pub mod handle_record;
pub mod health;
pub mod inbox;
pub mod limits;
pub mod send;
pub mod status;
pub mod txn;
pub mod txn_body;
pub mod webfinger;
