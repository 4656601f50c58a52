//! Fault hooks for kezd's fault-injection build (its cargo feature `faults`, which enables this
//! crate's): most of a server's checks live in this crate, so the conformance suite's self-test
//! needs guarded lines here too. kezd installs its own switch ([`install`]) at start; nothing
//! else does, so in every other program — and in every build without the feature, where
//! [`on`] is a constant `false` — the guards do nothing.

#[cfg(feature = "faults")]
mod hook {
    use std::sync::OnceLock;

    /// kezd's `faults::on`, once installed.
    static HOOK: OnceLock<fn(&str) -> bool> = OnceLock::new();

    /// Installs the switch that says whether a named fault is enabled (kezd's faults build
    /// only; a second call keeps the first switch).
    pub fn install(hook: fn(&str) -> bool) {
        let _ = HOOK.set(hook);
    }

    /// Whether the fault `name` is enabled: never, unless kezd installed its switch.
    pub fn on(name: &str) -> bool {
        HOOK.get().is_some_and(|hook| hook(name))
    }
}

#[cfg(feature = "faults")]
pub use hook::{install, on};

/// Always `false`: this build has no fault injection, and the guarded lines compile away.
#[cfg(not(feature = "faults"))]
#[inline(always)]
pub const fn on(_name: &str) -> bool {
    false
}
