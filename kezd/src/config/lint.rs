//! Values that are valid but probably wrong: warnings `check-config` prints and `serve` logs,
//! so a server that would start but be unreachable by its own links is noticed before peers
//! notice it.

use std::net::IpAddr;

use super::sources::Merged;
use super::{Config, Warning};

/// The warnings for `config`, loaded from `merged`.
pub(super) fn lint(config: &Config, merged: &Merged) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let bind = config.bind.ip();
    if config.server_name.host() == "localhost" && !bind.is_loopback() {
        let how = match merged.origin("server_name") {
            super::Origin::Default => "(the default)".to_owned(),
            origin => origin.to_string(),
        };
        warnings.push(Warning::Suspicious {
            key: "server_name",
            reason: format!(
                "is {} {how} while kezd listens on {}: peers cannot reach a server named \
                 localhost; set it to this server's DNS name",
                config.server_name, config.bind
            ),
        });
    }
    if let Some(host) = url_ip(config.public_base_url.as_str())
        && host.is_unspecified()
    {
        warnings.push(Warning::Suspicious {
            key: "public_base_url",
            reason: format!(
                "is {}: {host} is where kezd listens, not an address clients can connect to; \
                 set public_base_url to the URL clients use",
                config.public_base_url
            ),
        });
    }
    if config.registration.policy == super::Policy::Open
        && !super::registration::is_loopback(&config.server_name)
    {
        warnings.push(Warning::Suspicious {
            key: "registration.policy",
            reason: format!(
                "is \"open\" on {}: anyone who finds this server can create accounts on it \
                 (free addresses for spam); set it to \"token\" and invite people with \
                 `kezd admin tokens create`, unless an open server is what you mean",
                config.server_name
            ),
        });
    }
    warnings
}

/// The IP address a URL's host is, if it is one (`http://0.0.0.0:6969`, `http://[::]:80`).
fn url_ip(url: &str) -> Option<IpAddr> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_hosts_are_found_in_urls() {
        assert_eq!(url_ip("http://0.0.0.0:6969"), Some([0, 0, 0, 0].into()));
        assert!(url_ip("http://[::]:6969").is_some_and(|ip| ip.is_unspecified()));
        assert_eq!(url_ip("https://kez.example"), None);
        assert_eq!(
            url_ip("http://127.0.0.1:6969/kez"),
            Some([127, 0, 0, 1].into())
        );
    }
}
