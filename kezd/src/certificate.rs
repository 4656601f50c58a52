//! What the configured certificate promises peers: whether it covers `server_name` (peers
//! verify the server name, not an SRV target; SPEC §9.1) and until when it is valid. Read by
//! `check-config` before a start and logged at start and on reload, so a certificate that
//! would fail every peer's handshake is noticed by the operator first.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kez_spec::ServerName;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::extensions::GeneralName;

use crate::config::TlsFiles;

/// A certificate expiring sooner than this gets a warning: time for one renewal attempt a
/// day for two weeks.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// Why the certificate cannot serve this server.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The file is unreadable, not PEM, or holds no certificate.
    #[error("certificate file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The leaf certificate does not name the server.
    #[error("the certificate does not cover {host} (it covers: {covers})")]
    WrongName {
        /// The server name's host.
        host: String,
        /// The DNS names it holds.
        covers: String,
    },
    /// Past its validity.
    #[error("the certificate expired on {}", httpdate::fmt_http_date(*not_after))]
    Expired {
        /// The end of its validity.
        not_after: SystemTime,
    },
    /// Before its validity.
    #[error("the certificate is not valid before {}", httpdate::fmt_http_date(*not_before))]
    NotYetValid {
        /// The start of its validity.
        not_before: SystemTime,
    },
}

/// A certificate that serves this server name now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Valid {
    /// The end of its validity.
    pub not_after: SystemTime,
}

impl Valid {
    /// A warning when the certificate expires within [`EXPIRY_WARNING`] of `now`.
    pub fn expiry_warning(&self, now: SystemTime) -> Option<String> {
        let left = self.not_after.duration_since(now).unwrap_or_default();
        (left < EXPIRY_WARNING).then(|| {
            format!(
                "the certificate expires on {} (in {} hours): renew it",
                httpdate::fmt_http_date(self.not_after),
                left.as_secs() / 3600
            )
        })
    }
}

/// Checks the leaf of `files.cert` against `server_name` and `now`.
pub fn check(
    files: &TlsFiles,
    server_name: &ServerName,
    now: SystemTime,
) -> Result<Valid, CertificateError> {
    let unreadable = |reason: String| CertificateError::Unreadable {
        path: files.cert.display().to_string(),
        reason,
    };
    let leaf = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| unreadable(e.to_string()))?
        .next()
        .ok_or_else(|| unreadable("holds no certificate".into()))?
        .map_err(|e| unreadable(e.to_string()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| unreadable(format!("not an X.509 certificate: {e}")))?;
    let host = server_name.host();
    let covered = rustls_pki_types::ServerName::try_from(host)
        .ok()
        .and_then(|name| {
            let end_entity = webpki::EndEntityCert::try_from(&leaf).ok()?;
            end_entity.verify_is_valid_for_subject_name(&name).ok()
        })
        .is_some();
    if !covered {
        return Err(CertificateError::WrongName {
            host: host.to_owned(),
            covers: dns_names(&parsed),
        });
    }
    let at = |timestamp: i64| UNIX_EPOCH + Duration::from_secs(timestamp.max(0).unsigned_abs());
    let validity = parsed.validity();
    let not_before = at(validity.not_before.timestamp());
    let not_after = at(validity.not_after.timestamp());
    if now < not_before {
        return Err(CertificateError::NotYetValid { not_before });
    }
    if now > not_after {
        return Err(CertificateError::Expired { not_after });
    }
    Ok(Valid { not_after })
}

/// The DNS names of a certificate's subject alternative names, for an error message.
fn dns_names(certificate: &x509_parser::certificate::X509Certificate<'_>) -> String {
    let names: Vec<&str> = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some(*dns),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        "no DNS name".to_owned()
    } else {
        names.join(", ")
    }
}
