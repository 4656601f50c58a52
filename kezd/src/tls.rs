//! HTTPS: the certificate chain and key from PEM files, rustls with the aws-lc-rs provider, and
//! ALPN offering `h2` first so browsers multiplex every stream of a page over one connection.
//! The acceptor in force is held in [`LiveTls`], so a reload can hand new connections a
//! renewed certificate while connections already open keep the one they were accepted with.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// The certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is unreadable or not PEM.
    #[error("certificate file {}: {source}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("certificate file {} holds no certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file is unreadable, not PEM, or holds no private key.
    #[error("private key file {}: {source}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refused the pair (the key does not match the certificate, an unsupported key).
    #[error("certificate and key are not usable together: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The protocols offered by ALPN, most preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A TLS acceptor for the configured files.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificate {
            path: files.cert.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| TlsError::Key {
        path: files.key.clone(),
        source,
    })?;
    // The provider is named here rather than taken from the process default, so building a
    // server config cannot fail for want of `install_default` (tests call this directly).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The acceptor new connections are handed: `None` for plain HTTP.
#[derive(Default)]
pub struct LiveTls(RwLock<Option<TlsAcceptor>>);

impl LiveTls {
    /// The acceptor for a connection accepted now (a cheap clone of an `Arc`).
    pub fn current(&self) -> Option<TlsAcceptor> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Hands every connection accepted from now on `acceptor`.
    pub fn replace(&self, acceptor: Option<TlsAcceptor>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = acceptor;
    }
}

impl std::fmt::Debug for LiveTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LiveTls")
            .field(&self.current().map(|_| "TlsAcceptor"))
            .finish()
    }
}
