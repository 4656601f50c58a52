//! What an operator sees of the real `kezd` binary, started as a process with its log read
//! line by line (JSON): the configuration reloaded on SIGHUP, the files it creates readable by
//! its user only, the process metrics, and an access log without client addresses when asked.
//!
//! | module | what |
//! | --- | --- |
//! | `daemon` | starts `kezd serve`, reads its log, waits for log events |
//! | `reload` | SIGHUP: a renewed certificate, an invalid file, a blocked origin |
//! | `hygiene` | file modes, `/metrics` process series, the access log's fields |
//! | `tokens` | `kezd admin tokens` with and without the daemon, and registrations with them |
//! | `admin_delete` | `kezd admin users delete`, through the daemon and on the store, SQLite and PostgreSQL |

#[allow(dead_code)] // The store suite's backends; these tests use only PostgreSQL's.
#[path = "../store/backend.rs"]
mod backend;
#[path = "../common/mod.rs"]
mod common;
#[path = "../support/skipped.rs"]
mod skipped;

mod admin_delete;
// Shared with the admin tests, which use all of it.
#[allow(dead_code)]
mod daemon;
mod hygiene;
mod reload;
mod tokens;
