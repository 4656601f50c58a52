//! kezd over real sockets, one test binary: each module starts real daemons on 127.0.0.1:0 with
//! SQLite stores in temporary directories and talks HTTP to them. One binary rather than one per
//! file links the daemon once, not eleven times.
//!
//! | module | what |
//! | --- | --- |
//! | `server_http` | the HTTP surface every route shares: health, JSON errors, methods |
//! | `server_bodies` | request bodies: read deadline, minimum rate, memory budget, shutdown |
//! | `server_limits` | body and header limits, timeouts, connection caps against hostile peers |
//! | `server_fair_share` | connections per address, idle HTTP/2 connections, stalled readers |
//! | `server_shutdown` | graceful shutdown: in-flight requests, refused connections, streams |
//! | `server_tls` | HTTPS from PEM files, HTTP/2 by ALPN |
//! | `static_files` | the browser app from a web directory: content types, caching, no escape |
//! | `web_app` | the browser app compiled in: served at `/`, security headers, no API fallback |
//! | `api_users` | registration, lookup, reverse lookup, WebFinger |
//! | `api_registration` | the registration policy: invitation tokens, closed, reserved handles |
//! | `api_deletion` | account deletion and what a deleted account answers, SQLite and PostgreSQL |
//! | `api_messages` | sending, polling and acknowledging |
//! | `api_stream` | the live inbox stream (SSE) |
//! | `api_bounded` | stream caps per handle and address, poll pages bounded in bytes |
//! | `api_stream_transport` | the stream over HTTP/1.1 (off hyper) and HTTP/2, with TLS |
//! | `api_concurrency` | many senders to one recipient |
//! | `api_first_contacts` | conversations and the §11 limits they choose, across a restart |
//! | `api_durability` | acknowledged sends across a crash of the real binary |
//! | `api_openapi` | `spec/openapi.yaml` against the daemon |
//! | `api_paths` | path parameters as sent, never percent-decoded into handles |

#[allow(dead_code)] // The store suite's backends; api_deletion uses PostgreSQL's.
#[path = "../store/backend.rs"]
mod backend;
#[path = "../common/mod.rs"]
mod common;
#[path = "../support/skipped.rs"]
mod skipped;

mod api_bounded;
mod api_concurrency;
mod api_deletion;
mod api_durability;
mod api_first_contacts;
mod api_messages;
mod api_openapi;
mod api_paths;
mod api_registration;
mod api_stream;
mod api_stream_transport;
mod api_users;
mod server_bodies;
mod server_fair_share;
mod server_http;
mod server_limits;
mod server_shutdown;
mod server_tls;
mod static_files;
mod web_app;
