//! `[tls]`: the certificate and key that turn HTTPS on.

use std::path::PathBuf;

use super::ConfigError;
use super::checks::{invalid, non_empty_path};
use super::raw::RawTls;

/// The certificate chain and private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Both files, or neither (plain HTTP).
    pub(super) fn from_raw(raw: RawTls) -> Result<Option<Self>, ConfigError> {
        match (raw.cert, raw.key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: non_empty_path("tls.cert", cert)?,
                key: non_empty_path("tls.key", key)?,
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(invalid(
                "tls.cert",
                "is set but tls.key is not: set both, or neither",
            )),
            (None, Some(_)) => Err(invalid(
                "tls.key",
                "is set but tls.cert is not: set both, or neither",
            )),
        }
    }

    /// `[tls]` as written in the file.
    pub(super) fn to_raw(tls: Option<&TlsFiles>) -> RawTls {
        RawTls {
            cert: tls.map(|t| t.cert.display().to_string()),
            key: tls.map(|t| t.key.display().to_string()),
        }
    }
}
