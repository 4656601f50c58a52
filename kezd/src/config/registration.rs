//! `[registration]`: who may register here (SPEC §4.1 check 10) and which handles besides
//! SPEC §2.1's list are reserved. The default depends on the server's name: a server named
//! `localhost` (the one-command development server) is open, so a newcomer registers with no
//! token; any other name requires an invitation token, because a public server opened by
//! accident is a relay for whoever wants free accounts.

use std::fmt;
use std::net::IpAddr;

use kez_spec::{Handle, ServerName};

use super::ConfigError;
use super::checks::invalid;
use super::raw::RawRegistration;

/// Who may register (SPEC §4.1 check 10, §9.2 `registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Anyone with a valid registration.
    Open,
    /// Only with an invitation token the operator created (`KEZ-Registration-Token`).
    Token,
    /// Nobody new.
    Closed,
}

impl Policy {
    /// The name in the configuration and in the server document.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Open => "open",
            Policy::Token => "token",
            Policy::Closed => "closed",
        }
    }

    /// The policy a server named `name` has when the configuration names none: open only on
    /// a name no one else can reach.
    pub fn default_for(name: &ServerName) -> Policy {
        if is_loopback(name) {
            Policy::Open
        } else {
            Policy::Token
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[registration]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Who may register.
    pub policy: Policy,
    /// Handles refused with `handle_reserved` besides SPEC §2.1's list (roles, names the
    /// operator keeps for itself).
    pub reserved_handles: Vec<Handle>,
}

impl Registration {
    /// Validates `[registration]` for a server named `name`.
    pub(super) fn from_raw(raw: RawRegistration, name: &ServerName) -> Result<Self, ConfigError> {
        let policy = match raw.policy.as_deref() {
            None => Policy::default_for(name),
            Some("open") => Policy::Open,
            Some("token") => Policy::Token,
            Some("closed") => Policy::Closed,
            Some(_) => {
                return Err(invalid(
                    "registration.policy",
                    "must be \"open\", \"token\" or \"closed\"",
                ));
            }
        };
        let reserved_handles = raw
            .reserved_handles
            .iter()
            .map(|text| {
                Handle::parse(text).map_err(|e| {
                    invalid(
                        "registration.reserved_handles",
                        format!("has {text:?}, which is not a handle (SPEC §2.1): {e}"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Registration {
            policy,
            reserved_handles,
        })
    }

    /// `[registration]` as written in the file, the policy always explicit.
    pub(super) fn to_raw(&self) -> RawRegistration {
        RawRegistration {
            policy: Some(self.policy.as_str().to_owned()),
            reserved_handles: self
                .reserved_handles
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// Whether `handle` is reserved here: on SPEC §2.1's list or the operator's.
    pub fn is_reserved(&self, handle: &Handle) -> bool {
        handle.is_reserved() || self.reserved_handles.contains(handle)
    }
}

/// Whether `name` can only be reached from this machine: `localhost`, a `.localhost` name
/// (RFC 6761 §6.3) or a loopback address.
pub fn is_loopback(name: &ServerName) -> bool {
    let host = name.host();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> ServerName {
        ServerName::parse(text).expect("valid name")
    }

    #[test]
    fn the_default_is_open_only_on_loopback_names() {
        assert_eq!(Policy::default_for(&name("localhost:6969")), Policy::Open);
        assert_eq!(Policy::default_for(&name("localhost")), Policy::Open);
        assert_eq!(Policy::default_for(&name("dev.localhost")), Policy::Open);
        assert_eq!(Policy::default_for(&name("kez.example")), Policy::Token);
        assert_eq!(
            Policy::default_for(&name("localhost.example")),
            Policy::Token
        );
    }

    #[test]
    fn policies_and_reserved_handles_are_validated() {
        let load = |policy: Option<&str>, reserved: &[&str]| {
            Registration::from_raw(
                RawRegistration {
                    policy: policy.map(str::to_owned),
                    reserved_handles: reserved.iter().map(|s| (*s).to_owned()).collect(),
                },
                &name("kez.example"),
            )
        };
        let closed = load(Some("closed"), &["ops"]).expect("valid");
        assert_eq!(closed.policy, Policy::Closed);
        assert!(closed.is_reserved(&Handle::parse("ops").expect("handle")));
        assert!(closed.is_reserved(&Handle::parse("admin").expect("handle")));
        assert!(!closed.is_reserved(&Handle::parse("alice").expect("handle")));
        assert_eq!(
            load(None, &[]).expect("valid").to_raw().policy.as_deref(),
            Some("token")
        );
        assert!(load(Some("Open"), &[]).is_err());
        assert!(load(Some("invite"), &[]).is_err());
        assert!(load(None, &["Ops"]).is_err());
    }
}
