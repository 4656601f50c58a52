//! The testnet's certificate authority. SPEC §9.1 forbids disabling certificate verification,
//! so tests need certificates that really verify: a CA generated per testnet signs one leaf per
//! node, and every client (reqwest, kezd's federation client via `extra_roots`) trusts the CA.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::TestnetError;

/// A leaf certificate and its private key, in PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate (leaf only; the CA is the trust anchor, so no chain is needed).
    pub cert_pem: String,
    /// The PKCS#8 private key.
    pub key_pem: String,
}

/// Paths of a leaf certificate and key written to disk, as kezd's `[tls] cert/key` want them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    /// The PEM certificate.
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
}

/// A generated CA. Kept in memory (the signing key never touches the disk); only its
/// certificate is written, to `ca_pem_path()`, for processes that load trust roots from files.
pub struct TestCa {
    /// Signs leaves; owns the CA's key and distinguished name.
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, the trust anchor handed to clients.
    ca_pem: String,
    /// Where `ca_pem` was written.
    ca_pem_path: PathBuf,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The issuer holds a private key: keep it out of debug output.
        f.debug_struct("TestCa")
            .field("ca_pem_path", &self.ca_pem_path)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// Generates a CA and writes its certificate to `<dir>/ca.pem`.
    pub fn new(dir: &Path) -> Result<Self, TestnetError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "KEZ testnet CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let ca_pem = cert.pem();
        let ca_pem_path = dir.join("ca.pem");
        fs::write(&ca_pem_path, &ca_pem)
            .map_err(|e| TestnetError::io(format!("writing {}", ca_pem_path.display()), e))?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            ca_pem,
            ca_pem_path,
        })
    }

    /// The CA certificate in PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The file holding the CA certificate (for kezd's `[federation] extra_roots`).
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    /// The CA as a reqwest root certificate.
    pub fn reqwest_certificate(&self) -> Result<reqwest::Certificate, TestnetError> {
        Ok(reqwest::Certificate::from_pem(self.ca_pem.as_bytes())?)
    }

    /// Issues a server certificate valid for exactly `dns_names` (subject alternative names),
    /// with a fresh key.
    pub fn issue(&self, dns_names: &[&str]) -> Result<IssuedCert, TestnetError> {
        let names: Vec<String> = dns_names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names)?;
        if let Some(first) = dns_names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Issues a certificate for `dns_names` and writes it as `<dir>/<stem>.crt.pem` and
    /// `<dir>/<stem>.key.pem`.
    pub fn write_leaf(
        &self,
        dns_names: &[&str],
        dir: &Path,
        stem: &str,
    ) -> Result<CertFiles, TestnetError> {
        let issued = self.issue(dns_names)?;
        let files = CertFiles {
            cert: dir.join(format!("{stem}.crt.pem")),
            key: dir.join(format!("{stem}.key.pem")),
        };
        fs::write(&files.cert, &issued.cert_pem)
            .map_err(|e| TestnetError::io(format!("writing {}", files.cert.display()), e))?;
        fs::write(&files.key, &issued.key_pem)
            .map_err(|e| TestnetError::io(format!("writing {}", files.key.display()), e))?;
        Ok(files)
    }
}
