//! A self-signed certificate and its key for `kez.example.org`, the example configs' server
//! name, written as an operator's PEM files would be: the deploy tests point `[tls]` at them.

use std::path::PathBuf;

/// The two files, in a temporary directory removed on drop.
pub struct ExampleCertificate {
    _dir: tempfile::TempDir,
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

impl ExampleCertificate {
    /// A fresh certificate and key, valid now for `kez.example.org`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let certified = rcgen::generate_simple_self_signed(vec!["kez.example.org".to_owned()])
            .expect("certificate");
        let cert = dir.path().join("fullchain.pem");
        let key = dir.path().join("privkey.pem");
        std::fs::write(&cert, certified.cert.pem()).expect("write cert");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
        ExampleCertificate {
            _dir: dir,
            cert,
            key,
        }
    }
}
