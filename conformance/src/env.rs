//! What every case sees: the targets, the testnet under `--spawn`, and the settings a run
//! chose (own nodes, how many targets single-server cases use).

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use kez_testnet::Testnet;

use crate::own::OwnNodes;
use crate::target::Target;

/// What every case sees.
#[derive(Debug)]
pub struct Env {
    /// The servers under test.
    pub targets: Vec<Target>,
    /// The testnet, under `--spawn`; rogue cases need it.
    pub testnet: Option<Arc<Testnet>>,
    /// The keep-alive interval to expect: the configured one under `--spawn`, the SPEC's 15 s
    /// bound with `--slow`, otherwise `None` (the keep-alive case skips).
    pub keepalive: Option<Duration>,
    /// Numbers rogue peers uniquely.
    pub rogue_counter: AtomicUsize,
    /// Numbers the blocked rogue names used so far.
    pub blocked_counter: AtomicUsize,
    /// Under `--spawn`, what own-node cases start their nodes from.
    pub own: Option<OwnNodes>,
    /// How many of the targets single-server and rogue cases run against: all, except in the
    /// faults run, where every node has the same fault and one is enough.
    pub single_targets: usize,
}

impl Env {
    /// An environment over `targets`.
    pub fn new(
        targets: Vec<Target>,
        testnet: Option<Arc<Testnet>>,
        keepalive: Option<Duration>,
    ) -> Env {
        Env {
            targets,
            testnet,
            keepalive,
            rogue_counter: AtomicUsize::new(0),
            blocked_counter: AtomicUsize::new(0),
            own: None,
            single_targets: usize::MAX,
        }
    }

    /// The same environment with own-node cases enabled (`--spawn`).
    pub fn with_own_nodes(mut self, own: OwnNodes) -> Env {
        self.own = Some(own);
        self
    }

    /// The same environment with single-server and rogue cases run against the first `n`
    /// targets only.
    pub fn with_single_targets(mut self, n: usize) -> Env {
        self.single_targets = n;
        self
    }
}
