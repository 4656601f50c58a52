//! `kezctl`: the KEZ command line — identities kept encrypted on this computer, registration,
//! lookups, end-to-end encrypted messages, the live stream and a server diagnosis. Every wire
//! format it speaks comes from `kez-spec`, never from a copy of its own.
//!
//! # Layout
//!
//! | module | what |
//! | --- | --- |
//! | [`cli`] | the clap definition; user input becomes kez-spec types once, here |
//! | [`context`] | settings of one run: keystore, server choice, client options, output |
//! | [`config_dir`] | where identities live (XDG config), private permissions, atomic writes |
//! | [`state_dir`] | where state lives (XDG state): cursors and remembered records |
//! | [`file_error`] | a local file that could not be read or written |
//! | [`keystore`] | identities by name |
//! | [`cursors`] | each identity's inbox cursor, moved from the old place on first use |
//! | [`record_cache`] | recipients' verified records, remembered per identity |
//! | [`keyfile`] | the `kez-identity` v1 file format and its encryption (below) |
//! | [`passphrase`] | `KEZ_PASSPHRASE` or a prompt without echo |
//! | [`client`] | HTTP calls to a kezd with typed errors (SPEC §10 codes → sentences) |
//! | [`message`] | composing sealed, signed envelopes; checking and opening received ones |
//! | [`lookup`] | resolving addresses and primaries to verified handle records |
//! | [`record`] | a handle record checked: its signed registration names its address and primary |
//! | [`recipient`] | the key `send` seals to: fresh lookup, remembered record while its server is down |
//! | [`sender_keys`] | checking that a message was signed with its sender's registered key (SPEC §6.6) |
//! | [`discover`] | the `kez-federation` crate's discovery and HTTPS client, for other servers |
//! | [`sse`] | the Server-Sent Events parser of the live stream |
//! | [`output`] | human text or `--json` |
//! | [`commands`] | one file per command |
//! | [`error`] | [`CliError`] and the exit codes |
//!
//! # Files
//!
//! The configuration directory is `--config-dir`, else `KEZ_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/kez`, else `~/.config/kez`. It holds `identities/<name>.json` (one key
//! file per identity). State — `cursors/<name>` (the last inbox seq read) and
//! `records/<name>/<address>.json` (recipients' verified records) — lives in
//! `$XDG_STATE_HOME/kez`, else `~/.local/state/kez`, or in an explicitly named configuration
//! directory ([`state_dir`]). Directories are 0700 and files 0600.
//!
//! # Output
//!
//! Results on stdout, commentary on stderr, `--json` for scripts; a closed stdout ends a
//! command quietly with 0 ([`output`]).
//!
//! # The key file and export format: `kez-identity` version 1
//!
//! `keys export` writes, and `keys import` reads, exactly the key file stored in the keystore.
//! A UTF-8 JSON object:
//!
//! ```json
//! {"format":"kez-identity","version":1,"name":"default",
//!  "primary":"ed25519:<64 hex>","created_at":<unix ms>,
//!  "address":"alice@kez.lat" | null,"server_url":"https://kez.lat" | null,
//!  "secret":{"scheme":"argon2id-aes256gcm","m_cost":65536,"t_cost":3,"p_cost":1,
//!            "salt":"<32 hex>","nonce":"<24 hex>","ciphertext":"<96 hex>"}}
//! ```
//!
//! - `secret.scheme` `argon2id-aes256gcm`: key = Argon2id v0x13 (UTF-8 passphrase, `salt`,
//!   memory `m_cost` KiB, `t_cost` passes, `p_cost` lanes, 32 bytes);
//!   `ciphertext` = AES-256-GCM(key, `nonce`, 32-byte ed25519 seed, aad) ‖ 16-byte tag, with
//!   aad = `"kez-identity-v1\n"` followed by the `primary` string. Fresh salt and nonce at every
//!   write.
//! - `secret.scheme` `plain` (`keys new --no-passphrase` only): `{"scheme":"plain","seed":"<64
//!   hex>"}`.
//! - A reader refuses other `format`/`version` values, checks that the seed's public key is
//!   `primary`, and refuses Argon2 costs above 1 GiB, 32 passes or 16 lanes.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success (also when the reader of stdout stopped reading) |
//! | 1 | other failure (local I/O), or a confirmation declined |
//! | 2 | usage: arguments not understood or inconsistent |
//! | 3 | keystore: no such identity, name taken, damaged file, identity not registered |
//! | 4 | passphrase wrong, missing (no terminal and no `KEZ_PASSPHRASE`), or entries differ |
//! | 5 | the server refused (a SPEC §10 code: handle taken, reserved, wrong server, clock skew…) |
//! | 6 | the server is unreachable, timed out, failing (5xx) or not speaking KEZ |
//! | 7 | verification failed: a record's signature, a changed recipient key, inbox messages |
//! | 8 | `doctor`: at least one check failed |
//!
//! With `--json`, a failure also prints `{"error":{"kind":…,"code":…,"message":…}}` on stdout.

pub mod cli;
pub mod client;
pub mod commands;
pub mod config_dir;
pub mod context;
pub mod cursors;
pub mod discover;
pub mod error;
pub mod file_error;
pub mod keyfile;
pub mod keystore;
pub mod lookup;
pub mod message;
pub mod output;
pub mod passphrase;
pub mod recipient;
pub mod record;
pub mod record_cache;
pub mod sender_keys;
pub mod sse;
pub mod state_dir;

pub use error::CliError;

/// Runs one parsed command line to completion.
pub async fn run(cli: cli::Cli) -> Result<(), CliError> {
    let ctx = context::Context::from_args(&cli.global)?;
    commands::dispatch(&ctx, cli.command).await
}
