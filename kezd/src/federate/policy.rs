//! The operator's origin policy (SPEC §9.9) as it is now: whom this server federates with,
//! read by every check — an incoming request's origin, a remote look-up, a delivery — through
//! one function, [`OriginPolicy::permits`]. The configuration's block and allow lists are
//! replaced whole when the configuration is reloaded (SIGHUP), without a restart. Beside them
//! sit the servers blocked by `kezd admin servers block`, kept in the store and replaced when
//! they change (kezd/src/changes.rs): the blocks in force are the union of both, and a reload
//! replaces only what the file says, never what an operator added with an admin command.

use std::sync::{Arc, PoisonError, RwLock};

use kez_spec::ServerName;

use crate::config::Federation;

/// Block and allow lists from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lists {
    /// Refused origins and destinations.
    pub block: Vec<ServerName>,
    /// When non-empty, the only origins and destinations.
    pub allow: Vec<ServerName>,
}

impl Lists {
    /// The lists of `[federation]`.
    pub fn configured(federation: &Federation) -> Self {
        Lists {
            block: federation.block.clone(),
            allow: federation.allow.clone(),
        }
    }
}

/// The policy in force, shared by the handlers and the outbox.
#[derive(Debug, Default)]
pub struct OriginPolicy {
    /// The configuration's lists: replaced as a whole on reload, read by every check.
    configured: RwLock<Arc<Lists>>,
    /// The admin blocks from the store: replaced as a whole when they change.
    blocked: RwLock<Arc<Vec<ServerName>>>,
}

impl OriginPolicy {
    /// The policy of `[federation]`.
    pub fn new(federation: &Federation) -> Self {
        OriginPolicy {
            configured: RwLock::new(Arc::new(Lists::configured(federation))),
            blocked: RwLock::default(),
        }
    }

    /// Whether this server federates with `server`: blocked neither by the configuration
    /// nor by an admin command, and listed when there is an allow list.
    pub fn permits(&self, server: &ServerName) -> bool {
        let lists = self.configured();
        !lists.block.contains(server)
            && !self.blocked().contains(server)
            && (lists.allow.is_empty() || lists.allow.contains(server))
    }

    /// The admin blocks now.
    pub fn blocked(&self) -> Arc<Vec<ServerName>> {
        Arc::clone(&self.blocked.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts the store's admin blocks in force for every check from now on.
    pub fn replace_blocked(&self, servers: Vec<ServerName>) {
        *self.blocked.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(servers);
    }

    /// The configuration's lists now.
    pub fn configured(&self) -> Arc<Lists> {
        Arc::clone(
            &self
                .configured
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Puts the lists of a reloaded configuration in force for every check from now on.
    pub fn replace_configured(&self, lists: Lists) {
        *self
            .configured
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(lists);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> ServerName {
        text.parse().expect("server name")
    }

    #[test]
    fn block_and_allow_lists_apply_and_are_replaced_whole() {
        let policy = OriginPolicy::default();
        assert!(policy.permits(&name("a.example")), "no lists: everyone");
        policy.replace_configured(Lists {
            block: vec![name("a.example")],
            allow: vec![],
        });
        assert!(!policy.permits(&name("a.example")));
        assert!(policy.permits(&name("b.example")));
        policy.replace_configured(Lists {
            block: vec![],
            allow: vec![name("c.example")],
        });
        assert!(!policy.permits(&name("a.example")) && policy.permits(&name("c.example")));
    }

    #[test]
    fn admin_blocks_add_to_the_configuration_and_survive_its_replacement() {
        let policy = OriginPolicy::default();
        policy.replace_blocked(vec![name("d.example")]);
        policy.replace_configured(Lists {
            block: vec![name("a.example")],
            allow: vec![],
        });
        assert!(!policy.permits(&name("a.example")) && !policy.permits(&name("d.example")));
        policy.replace_configured(Lists::default());
        assert!(
            policy.permits(&name("a.example")),
            "the reload lifted the file's block"
        );
        assert!(!policy.permits(&name("d.example")), "the admin block stays");
        policy.replace_blocked(vec![]);
        assert!(policy.permits(&name("d.example")));
    }
}
