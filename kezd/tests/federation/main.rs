//! Federation between real kezd processes (SPEC §9): up to three servers on the testnet — a
//! private DNS server with their SRV records, a generated CA, HTTPS everywhere — clients that
//! speak only HTTP to their own server, and a rogue peer (kez-testnet's `RoguePeer`) that
//! misbehaves on purpose as a sender and as a receiver.
//!
//! | module | what |
//! | --- | --- |
//! | `delivery` | messages in every direction, live push, remote lookup, unknown recipients |
//! | `deletion` | a deleted account as peers meet it: lookups answer 410, messages are rejected |
//! | `rogue_sender` | request and envelope checks against forged, stale, misaddressed, replayed input |
//! | `rogue_receiver` | a receiver answering 5xx, 429/503 with `Retry-After`, deferring |
//! | `outages` | peers down, a sender killed mid-backlog, a flood deferred by rate limits |
//! | `slow_origin` | a peer slow to answer look-ups: transactions in flight and look-ups bounded |
//! | `refusals` | destinations never delivered to: bad certificates, forbidden addresses |
//! | `ssrf` | every spelling of a forbidden address, at every entry point that connects out |
//! | `reflection` | remote look-ups rationed per client address and per destination host |
//! | `keys` | `kezd keys rotate` on a running server |
//! | `txn_ids` | transaction ids outside the grammar, `.` and `..` included, refused before the signature |

mod net;

mod deletion;
mod delivery;
mod keys;
mod outages;
mod reflection;
mod refusals;
mod rogue_receiver;
mod rogue_sender;
mod slow_origin;
mod ssrf;
mod txn_ids;
