//! A person's address (SPEC §2.4): `handle@server`, the name others type to reach them.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Handle, ServerName};

/// `handle@server`, both parts valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    handle: Handle,
    server: ServerName,
}

impl Address {
    /// Builds an address from its parts.
    pub fn new(handle: Handle, server: ServerName) -> Self {
        Address { handle, server }
    }

    /// Parses `handle@server` exactly as on the wire.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let (handle, server) = s
            .split_once('@')
            .ok_or(Error::InvalidAddress("must be handle@server"))?;
        let handle = Handle::parse(handle)
            .map_err(|_| Error::InvalidAddress("the handle part is invalid"))?;
        let server = ServerName::parse(server)
            .map_err(|_| Error::InvalidAddress("the server part is invalid"))?;
        Ok(Address { handle, server })
    }

    /// The handle part.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The server part.
    pub fn server(&self) -> &ServerName {
        &self.server
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Address::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.handle, self.server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §2.4.
    #[test]
    fn parse() {
        let a = Address::parse("bob@localhost:6969").expect("valid");
        assert_eq!(
            (a.handle().as_str(), a.server().port()),
            ("bob", Some(6969))
        );
        assert_eq!(a.to_string(), "bob@localhost:6969");
        for bad in [
            "bob",
            "@kez.lat",
            "bob@",
            "Bob@kez.lat",
            "bob@Kez.lat",
            "a@b@kez.lat",
        ] {
            assert_eq!(
                Address::parse(bad).map_err(|e| e.code()),
                Err("invalid_address"),
                "{bad}"
            );
        }
    }
}
