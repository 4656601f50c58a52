//! `kez-testnet`: a KEZ federation test network on one machine. It starts N real `kezd`
//! processes on loopback addresses of their own with distinct server names (`a.test`, `b.test`, ...), an authoritative
//! DNS server for `test.` that publishes their SRV and A records, and a CA that signs each
//! node's certificate, so that discovery (SPEC §9.1), TLS verification and federation run over
//! real sockets exactly as between two hosts. Used by the tests of kezd and federation and by
//! the conformance suite's `--spawn`.
//!
//! # Layout
//! - [`addresses`]: the loopback address of each node and rogue peer, and what nodes allow.
//! - [`ca`]: [`TestCa`], the generated CA and leaf certificates.
//! - [`dns`]: [`DnsServer`], hickory-server on UDP and TCP with records changeable at run time.
//! - [`node`]: [`Node`], one kezd process and its files (config, certificate, log, data).
//! - [`testnet`]: [`Testnet`] and its builder, which tie the three together.
//! - [`rogue`]: [`RoguePeer`], an in-process KEZ server that misbehaves on purpose, as sender
//!   and as receiver, for the federation and conformance tests.
//! - [`backend`]: SQLite or PostgreSQL per node, and the PostgreSQL databases created for them.
//! - [`error`]: [`TestnetError`] and [`DnsError`].
//!
//! # The kezd binary, not the library
//! The testnet runs the `kezd` binary whose path the caller passes, and never links kezd: it
//! tests what ships (CLI, config file, signals, exit codes), a crash of a node cannot take the
//! test down, and the conformance suite can drive any build. kezd's own integration tests pass
//! `env!("CARGO_BIN_EXE_kezd")`. Other crates cannot: cargo sets `CARGO_BIN_EXE_<name>` only
//! for binaries of the package under test, and a dev-dependency on kezd would not build its
//! binary. They call [`kezd_binary`], which takes `KEZD_BIN` when set, and otherwise runs
//! `cargo build -p kezd --bin kezd` into the test's own target directory (a no-op when
//! up to date, so the binary is never stale) and returns `<target>/<profile>/kezd`.
//!
//! # Teardown and Ctrl-C
//! Dropping a [`Testnet`] SIGKILLs and reaps every kezd, also while a failing test unwinds;
//! [`Testnet::shutdown`] stops them gracefully (SIGTERM, drain, exit). Destructors do not run
//! when the process is killed by a signal, so a binary that uses the testnet (the conformance
//! suite) must turn Ctrl-C into an orderly exit:
//!
//! ```no_run
//! # async fn run(net: kez_testnet::Testnet) -> Result<(), kez_testnet::TestnetError> {
//! # async fn run_suite(_: &kez_testnet::Testnet) {}
//! tokio::select! {
//!     () = run_suite(&net) => {}
//!     _ = tokio::signal::ctrl_c() => eprintln!("interrupted; stopping the testnet"),
//! }
//! net.shutdown().await
//! # }
//! ```
//!
//! Ctrl-C in a terminal signals the whole foreground process group, kezd children included
//! (they are not moved to a group of their own, so they stop even when the parent is killed
//! outright); `kill -INT <pid>` of the parent alone reaches only the parent, and the
//! `select!` above is what stops the children then. A parent killed with SIGKILL leaves its
//! children running: nothing in-process can prevent that.
//!
//! # Example
//! ```no_run
//! # async fn example() -> Result<(), kez_testnet::TestnetError> {
//! use kez_testnet::Testnet;
//! let net = Testnet::builder(kez_testnet::kezd_binary()?)
//!     .node("a.test")
//!     .node("b.test")
//!     .start()
//!     .await?;
//! let a = net.node("a.test")?;
//! let health = net.client().get(a.url("/v1/healthz")).send().await?;
//! assert_eq!(health.status(), 200);
//! # Ok(()) }
//! ```

pub mod addresses;
pub mod backend;
pub mod ca;
pub mod dns;
pub mod error;
pub mod node;
pub mod rogue;
pub mod testnet;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use ca::{CertFiles, IssuedCert, TestCa};
pub use dns::{DnsServer, RecordData, RecordKind, kez_srv_name};
pub use error::{DnsError, TestnetError};
pub use node::Node;
pub use rogue::{
    Behaviour, DocumentFlaw, RogueCert, RogueOptions, RoguePeer, SHORT_LIVED_MS, Sign, Traffic,
};
pub use testnet::{NodeOptions, Testnet, TestnetBuilder};

/// The environment variable naming the kezd binary to run, overriding the built one.
pub const KEZD_BIN_VARIABLE: &str = "KEZD_BIN";

/// Installs rustls's aws-lc-rs provider as the process default, once. With more than one
/// rustls backend compiled into a process (another crate enabling `ring`),
/// `rustls::ClientConfig::builder()` panics unless a default is installed; reqwest, hickory and
/// tests' own TLS clients all go through it. Idempotent: a provider already installed, by this
/// or by anyone else, is kept.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread installed one between the check and here: also fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// The kezd binary for tests outside the kezd package: `KEZD_BIN` when set, otherwise
/// `<target>/<profile>/kezd` after `cargo build -p kezd --bin kezd` (see the crate doc).
pub fn kezd_binary() -> Result<PathBuf, TestnetError> {
    if let Some(path) = std::env::var_os(KEZD_BIN_VARIABLE) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(TestnetError::KezdBinary {
                path,
                reason: format!("named by {KEZD_BIN_VARIABLE} but not a file"),
            })
        };
    }
    let (target_dir, profile) = target_dir_and_profile();
    let path = kezd_build_path();
    build_kezd(&target_dir, &profile, &path)?;
    Ok(path)
}

/// Where [`kezd_binary`] builds kezd when `KEZD_BIN` is not set: `<target>/<profile>/kezd`.
pub fn kezd_build_path() -> PathBuf {
    let (target_dir, profile) = target_dir_and_profile();
    target_dir.join(profile).join("kezd")
}

/// The workspace root: the parent of this crate's manifest directory (compile-time path), where
/// [`kezd_binary`] runs cargo.
pub fn workspace_root() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest)
}

/// The target directory and profile directory name of the running test binary: a test binary
/// lives in `<target>/<profile>/deps/`, which covers `CARGO_TARGET_DIR` and `--release`.
/// Otherwise `CARGO_TARGET_DIR` or `<workspace>/target`, with the profile of this build.
fn target_dir_and_profile() -> (PathBuf, String) {
    if let Ok(exe) = std::env::current_exe()
        && let Some(deps) = exe.parent()
        && deps.file_name().is_some_and(|name| name == "deps")
        && let Some(profile_dir) = deps.parent()
        && let (Some(profile), Some(target)) = (profile_dir.file_name(), profile_dir.parent())
    {
        return (target.to_path_buf(), profile.to_string_lossy().into_owned());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    (target, profile.to_owned())
}

/// Runs `cargo build -p kezd --bin kezd` for `profile` into `target_dir`. cargo releases its
/// build lock before it runs tests, so this works from inside `cargo test`.
fn build_kezd(target_dir: &Path, profile: &str, expected: &Path) -> Result<(), TestnetError> {
    // `cargo test` sets CARGO to the cargo that runs it; use the same toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--quiet", "-p", "kezd", "--bin", "kezd"])
        .arg("--target-dir")
        .arg(target_dir);
    // The profile directory of `dev` is `debug`; every other profile's is its name.
    if profile != "debug" {
        command.args(["--profile", profile]);
    }
    let failed = |reason: String| TestnetError::KezdBinary {
        path: expected.to_path_buf(),
        reason,
    };
    let status = command
        .status()
        .map_err(|e| failed(format!("running cargo build: {e}")))?;
    if !status.success() {
        return Err(failed(format!("cargo build -p kezd failed: {status}")));
    }
    if !expected.is_file() {
        return Err(failed(
            "cargo build succeeded but the binary is missing".to_owned(),
        ));
    }
    Ok(())
}
