//! Test support shared by the federation integration tests: a real DNS server and real
//! HTTPS servers with a generated CA, all on 127.0.0.1.

#![allow(dead_code)] // Each test binary uses its own subset.

pub mod dns;
pub mod https;

/// Installs the aws-lc-rs rustls provider; safe to call from every test (a second install
/// fails harmlessly). Binaries must do the same at start (see the crate docs).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
