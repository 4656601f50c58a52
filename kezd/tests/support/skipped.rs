//! One line on stderr when a suite's tests that need an outside service (PostgreSQL, NATS)
//! pass without running because the variable naming the service is unset, so a green run
//! says plainly what it did not test.

use std::io::Write;
use std::sync::Once;

/// Whether this test binary has said it already: one line per suite, not one per test.
static SAID: Once = Once::new();

/// Says once per test binary that the tests needing `service` were skipped because `variable`
/// is unset. Written to the process's stderr itself: the test harness captures `eprintln!`
/// of a passing test, and this line is for a passing run.
pub fn skipped(service: &str, variable: &str) {
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "kezd tests `{}`: {variable} is unset: the {service} tests of this suite were \
             skipped (they pass without running)",
            env!("CARGO_CRATE_NAME")
        );
    });
}
