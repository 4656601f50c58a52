//! What a conformance case is: an id, the SPEC sections it checks, a description, and an async
//! function over one of four contexts — one server ([`Single`]), an ordered pair of servers
//! ([`Pair`]), one server with a rogue peer on the same testnet ([`Rogue`], `--spawn` only),
//! or nodes of the case's own that it configures and restarts ([`Own`], `--spawn` only). A
//! case passes by returning `Ok(())`, fails with [`Fail::Fail`] and a reason, or
//! skips with [`Fail::Skip`] and a reason.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kez_testnet::backend::Backend;
use kez_testnet::{RogueOptions, RoguePeer, Testnet};

use crate::env::Env;
pub use crate::fail::{CaseResult, Fail};
use crate::own::OwnNode;
use crate::server::Server;

/// A boxed case future.
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// What a case runs against.
#[derive(Clone, Copy)]
pub enum CaseFn {
    /// Each server under test on its own.
    Single(fn(Single) -> CaseFuture),
    /// Each ordered pair of distinct servers under test (skipped with fewer than two).
    Pair(fn(Pair) -> CaseFuture),
    /// Each spawned server with a fresh rogue peer (skipped against external servers).
    Rogue(fn(Rogue) -> CaseFuture),
    /// Once per store of the spawned servers, with nodes of its own (skipped against
    /// external servers).
    Own(fn(Own) -> CaseFuture),
}

/// A conformance case.
#[derive(Clone)]
pub struct Case {
    /// Stable id: `s<section>.<group>.<name>`, e.g. `s7.poll.window`.
    pub id: &'static str,
    /// The SPEC sections whose requirements the case checks (`§7.1`); the coverage table is
    /// built from these.
    pub sections: &'static [&'static str],
    /// One sentence: what a pass proves.
    pub description: &'static str,
    /// The function and its context.
    pub run: CaseFn,
    /// The case fails with a timeout after this long.
    pub timeout: Duration,
}

/// The default bound on one case.
pub const DEFAULT_CASE_TIMEOUT: Duration = Duration::from_secs(30);

impl Case {
    /// A case run against each server on its own.
    pub fn single(
        id: &'static str,
        sections: &'static [&'static str],
        description: &'static str,
        run: fn(Single) -> CaseFuture,
    ) -> Case {
        Case::new(id, sections, description, CaseFn::Single(run))
    }

    /// A case run for each ordered pair of servers.
    pub fn pair(
        id: &'static str,
        sections: &'static [&'static str],
        description: &'static str,
        run: fn(Pair) -> CaseFuture,
    ) -> Case {
        Case::new(id, sections, description, CaseFn::Pair(run))
    }

    /// A case run against each spawned server with a rogue peer.
    pub fn rogue(
        id: &'static str,
        sections: &'static [&'static str],
        description: &'static str,
        run: fn(Rogue) -> CaseFuture,
    ) -> Case {
        Case::new(id, sections, description, CaseFn::Rogue(run))
    }

    /// A case run with nodes of its own, once per store of the spawned servers.
    pub fn own(
        id: &'static str,
        sections: &'static [&'static str],
        description: &'static str,
        run: fn(Own) -> CaseFuture,
    ) -> Case {
        Case::new(id, sections, description, CaseFn::Own(run))
    }

    fn new(
        id: &'static str,
        sections: &'static [&'static str],
        description: &'static str,
        run: CaseFn,
    ) -> Case {
        Case {
            id,
            sections,
            description,
            run,
            timeout: DEFAULT_CASE_TIMEOUT,
        }
    }

    /// The same case with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Case {
        self.timeout = timeout;
        self
    }

    /// Whether `--filter pattern` selects this case: a substring of the id, or a section
    /// (`§7`, `7.1` and `§7.1` all select §7.1; `§7` also selects §7.x).
    pub fn matches(&self, pattern: &str) -> bool {
        if self.id.contains(pattern) {
            return true;
        }
        let wanted = pattern.trim_start_matches('§');
        !wanted.is_empty()
            && self.sections.iter().any(|section| {
                let section = section.trim_start_matches('§');
                section == wanted || section.starts_with(&format!("{wanted}."))
            })
    }
}

/// The context of a single-server case.
#[derive(Clone)]
pub struct Single {
    /// The run's environment.
    pub env: Arc<Env>,
    /// The server under test.
    pub server: Arc<Server>,
}

/// The context of a pair case: `a` and `b` are distinct servers.
#[derive(Clone)]
pub struct Pair {
    /// The run's environment.
    pub env: Arc<Env>,
    /// The first server (usually the sender's).
    pub a: Arc<Server>,
    /// The second server (usually the recipient's).
    pub b: Arc<Server>,
}

/// The context of a rogue case: a spawned server and the testnet to start rogues on.
#[derive(Clone)]
pub struct Rogue {
    /// The run's environment.
    pub env: Arc<Env>,
    /// The server under test (a testnet node).
    pub server: Arc<Server>,
    /// The testnet the server runs on.
    pub net: Arc<Testnet>,
}

impl Rogue {
    /// Starts a fresh rogue peer with a unique name, so no server under test has cached
    /// anything about it.
    pub async fn start(&self, options: RogueOptions) -> Result<RoguePeer, Fail> {
        let n = self.env.rogue_counter.fetch_add(1, Ordering::Relaxed);
        self.start_named(&format!("rogue{n}.test"), options).await
    }

    /// Starts a rogue peer whose name the spawned nodes' deny list blocks (SPEC §9.9).
    pub async fn start_blocked(&self) -> Result<RoguePeer, Fail> {
        let n = self.env.blocked_counter.fetch_add(1, Ordering::Relaxed);
        if n >= crate::spawn::BLOCKED_ROGUES {
            fail!("more blocked rogues than the spawned nodes' deny list names");
        }
        self.start_named(&format!("blocked{n}.test"), RogueOptions::new())
            .await
    }

    async fn start_named(&self, name: &str, options: RogueOptions) -> Result<RoguePeer, Fail> {
        RoguePeer::start(&self.net, name, options)
            .await
            .map_err(|e| Fail::Fail(format!("starting the rogue peer {name}: {e}")))
    }
}

/// The context of an own-node case: the store to start its nodes on.
#[derive(Clone)]
pub struct Own {
    /// The run's environment (its own-node settings are present: the runner checked).
    pub env: Arc<Env>,
    /// The store of the spawned servers this run stands for.
    pub backend: Backend,
}

impl Own {
    /// Starts a node of the case's own with the spawned nodes' configuration plus `config`
    /// (see [`crate::own::OwnNodes::start`]).
    pub async fn start(&self, config: &str) -> Result<OwnNode, Fail> {
        match &self.env.own {
            Some(own) => own.start(&self.backend, config).await,
            None => Err(Fail::Skip("needs nodes of its own (--spawn)".into())),
        }
    }
}
