//! The suite's own plumbing, end to end under `cargo test`: scenarios that today's kezd holds
//! run against the workspace's kezd (built by `kez_testnet::kezd_binary`, or `KEZD_BIN`) and
//! pass, so a broken harness (spawning, raw HTTP, the §10 check, the runner) fails here and not
//! only in CI's release run. The scenarios that need the hostile-traffic fixes run in `.ci/run`.

use kez_attack::scenario::{self, Env};
use kez_attack::scenarios;

async fn run(name: &str) {
    kez_testnet::install_crypto_provider();
    let kezd = kez_testnet::kezd_binary().expect("the kezd binary");
    let scenario = scenarios::all()
        .into_iter()
        .find(|s| s.name == name)
        .expect("a registered scenario");
    let ran = scenario::run(&scenario, Env { kezd }).await;
    match ran.outcome {
        Ok(figures) => assert!(!figures.is_empty(), "{name} measured nothing"),
        Err(reason) => panic!("{name} failed: {reason}"),
    }
}

#[tokio::test]
async fn request_smuggling_shapes_are_refused() {
    run("request_smuggling").await;
}

#[tokio::test]
async fn deep_json_gets_a_prompt_400() {
    run("deep_json").await;
}

#[test]
fn scenario_names_are_unique_and_name_their_files() {
    let all = scenarios::all();
    let mut names: Vec<_> = all.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len(), "duplicate scenario names");
    for name in names {
        let file = format!("{}/src/scenarios/{name}.rs", env!("CARGO_MANIFEST_DIR"));
        assert!(
            std::path::Path::new(&file).is_file(),
            "{name} has no file {file}"
        );
    }
}
