//! Where kezctl keeps state (README "Files"): inbox cursors under the XDG state directory, not
//! the configuration directory; a cursor left in the configuration directory by an earlier
//! version is moved on first use, so upgrading does not re-read the inbox.

mod common;

use common::{Kezd, Persona, texts};
use serde_json::json;

/// A cursor at `~/.config/kez/cursors/default` (where kezctl 0.1 kept it) is honoured and
/// moved to `~/.local/state/kez/cursors/default`; `XDG_STATE_HOME` moves the state directory;
/// an explicit `--config-dir` keeps its own state.
#[test]
fn cursors_live_in_the_state_directory() {
    let kezd = Kezd::start();
    let alice = Persona::new();
    alice.register(&kezd, "alice");
    let bob = Persona::at_home();
    let bob_addr = bob.register(&kezd, "bob");
    for text in ["read before the upgrade", "new since"] {
        alice.run(&["send", &bob_addr, text]).ok();
    }

    // kezctl 0.1 had shown seq 1 and saved the cursor in the configuration directory.
    let home = bob.dir.path();
    let old = home.join(".config/kez/cursors/default");
    std::fs::create_dir_all(old.parent().expect("parent")).expect("old dir");
    std::fs::write(&old, "1\n").expect("old cursor");
    let inbox = bob.run(&["inbox", "--json"]).json();
    assert_eq!(texts(&inbox), ["new since"], "the old cursor counts");
    assert!(!old.exists(), "moved, not copied");
    let new = home.join(".local/state/kez/cursors/default");
    assert_eq!(std::fs::read_to_string(&new).expect("moved"), "2\n");

    let mut elsewhere = Persona::at_home();
    elsewhere.env = vec![(
        "XDG_STATE_HOME".into(),
        home.join("state").display().to_string(),
    )];
    // The same identity and configuration, another state directory: no cursor there yet.
    elsewhere.dir = bob.dir;
    let inbox = elsewhere.run(&["inbox", "--json"]).json();
    assert_eq!(inbox["cursor"], json!(2));
    assert_eq!(texts(&inbox).len(), 2);
    let home = elsewhere.dir.path();
    assert!(home.join("state/kez/cursors/default").exists());

    alice.run(&["inbox"]).ok();
    assert!(
        alice.path("cursors/default").exists(),
        "--config-dir holds its state"
    );
}
