//! `kezd admin` through the real binary: against a running `kezd serve` (over its admin
//! socket) and with the daemon stopped (on the store directly), on SQLite and, when
//! `KEZ_TEST_POSTGRES_URL` is set, PostgreSQL. The cluster's view of admin changes (two
//! instances on PostgreSQL and NATS) is in the cluster suite (`tests/cluster/admin.rs`).
//!
//! | module | what |
//! | --- | --- |
//! | `run` | runs `kezd admin …` and reads its exit code, stdout and stderr |
//! | `socket` | the socket's mode, a stale socket replaced, removed on stop, raw requests, exit codes |
//! | `users` | list, show, suspend and unsuspend, and what a suspended user is refused |
//! | `servers` | admin blocks beside the configuration's, SIGHUP, and `[rate]` reloaded |
//! | `outbox` | the outbox per destination, a backoff ended now |
//! | `store` | the store a test runs on: one body for SQLite and PostgreSQL |
//! | `backup` | an online SQLite backup that opens and holds the users; PostgreSQL refused |

#[allow(dead_code)] // The store suite's backends; these tests use only PostgreSQL.
#[path = "../store/backend.rs"]
mod backend;
#[path = "../common/mod.rs"]
mod common;
#[allow(dead_code)] // Shared with the operate suite.
#[path = "../operate/daemon.rs"]
mod daemon;
#[path = "../support/skipped.rs"]
mod skipped;

mod backup;
mod outbox;
mod run;
mod servers;
mod socket;
mod store;
mod users;
