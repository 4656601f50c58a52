//! What `kezd check-config` checks beyond the values themselves: that the files the
//! configuration names can be used (the TLS certificate and key readable and a matching pair)
//! and that the certificate covers `server_name` and is valid now. `serve` logs the same
//! findings at start, so an operator who skipped `check-config` still reads them.

use std::time::SystemTime;

use crate::certificate;
use crate::config::Config;
use crate::tls;

/// What the checks found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// What would make the server fail (`check-config` exits non-zero).
    pub errors: Vec<String>,
    /// What deserves attention but works today.
    pub warnings: Vec<String>,
}

/// Checks the files `config` names, as of `now`.
pub fn check(config: &Config, now: SystemTime) -> Findings {
    let mut findings = Findings::default();
    let Some(files) = &config.tls else {
        return findings;
    };
    if let Err(error) = tls::acceptor(files) {
        findings.errors.push(format!("`tls`: {error}"));
        return findings;
    }
    match certificate::check(files, &config.server_name, now) {
        Ok(valid) => findings.warnings.extend(
            valid
                .expiry_warning(now)
                .map(|warning| format!("`tls.cert` {}: {warning}", files.cert.display())),
        ),
        Err(error) => findings.errors.push(format!(
            "`tls.cert` {} for server_name {}: {error}",
            files.cert.display(),
            config.server_name
        )),
    }
    findings
}
