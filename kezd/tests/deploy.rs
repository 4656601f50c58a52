//! The deployment files in `deploy/`, checked as far as this machine can without a Docker
//! engine: both example configs pass the real `kezd check-config` (which connects to
//! nothing); the compose file parses and wires the services, images, config, secrets and proxy
//! the operator guide describes; the Dockerfile's entry point and command are the binary and
//! subcommands the tests run; the systemd unit reloads with SIGHUP, binds 443 with one
//! capability, loads the TLS key as a credential and passes `systemd-analyze verify`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::Parser;
use kezd::cli::{Cli, Command as Subcommand};
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

#[path = "support/example_certificate.rs"]
mod example_certificate;
use example_certificate::ExampleCertificate;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(name: &str) -> String {
    let path = deploy_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Runs the kezd binary with `args` and only the `KEZ_*` variables in `env`: the test's own
/// environment (KEZ_TEST_*) must not configure it.
fn kezd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kezd"));
    command.args(args).env_remove("RUST_LOG");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEZ_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("kezd runs")
}

/// `kezd check-config --config deploy/<name>` must succeed; the effective configuration.
fn check_config(name: &str, extra: &[&str], env: &[(&str, &str)]) -> toml::Table {
    let path = deploy_dir().join(name);
    let path = path.to_str().expect("UTF-8 path");
    let mut args = vec!["check-config", "--config", path];
    args.extend_from_slice(extra);
    let out = kezd(&args, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name}: check-config failed: {stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "{name}: suspicious values or ignored variables: {stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert!(
        !stdout.contains("s3cret"),
        "check-config printed a password"
    );
    stdout.parse().expect("check-config prints TOML")
}

/// `--tls-cert` and `--tls-key` naming `certificate`'s files: the config's `[tls]` paths under
/// /etc are replaced by these (check-config reads the files it names).
fn tls_flags(certificate: &ExampleCertificate) -> Vec<&str> {
    vec![
        "--tls-cert",
        certificate.cert.to_str().expect("UTF-8 path"),
        "--tls-key",
        certificate.key.to_str().expect("UTF-8 path"),
    ]
}

#[test]
fn single_machine_config_passes_check_config() {
    // As shipped, the certificate files it names are not on this machine: check-config says so.
    let path = deploy_dir().join("kezd.single.toml");
    let out = kezd(
        &["check-config", "--config", path.to_str().expect("UTF-8")],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/etc/kezd/fullchain.pem"));

    let certificate = ExampleCertificate::new();
    let config = check_config("kezd.single.toml", &tls_flags(&certificate), &[]);
    assert_eq!(config["server_name"].as_str(), Some("kez.example.org"));
    assert_eq!(
        config["database_url"].as_str(),
        Some("sqlite:///var/lib/kezd/kezd.db"),
        "the embedded database in data_dir"
    );
    assert_eq!(config["broker_url"].as_str(), Some(""), "in-process broker");
    assert!(
        config["tls"].get("cert").is_some(),
        "kezd serves HTTPS itself"
    );
}

#[test]
fn cluster_config_passes_check_config_without_connecting() {
    let config = check_config("kezd.cluster.toml", &[], &[]);
    let database = config["database_url"].as_str().expect("database_url");
    assert!(database.starts_with("postgres://"), "{database}");
    assert!(
        config["broker_url"]
            .as_str()
            .is_some_and(|b| b.starts_with("nats://")),
        "{config:?}"
    );
    assert!(config.get("tls").is_none_or(|t| t.get("cert").is_none()));
    // The hosts of the file (`postgres`, `nats`) do not resolve here; to be sure no connection
    // is tried, point both at a closed port as well: check-config still succeeds.
    let closed = check_config(
        "kezd.cluster.toml",
        &[
            "--set",
            "database_url=postgres://kez@127.0.0.1:1/kez",
            "--set",
            "broker_url=nats://127.0.0.1:1",
        ],
        &[],
    );
    assert_eq!(
        closed["database_url"].as_str(),
        Some("postgres://kez@127.0.0.1:1/kez")
    );
    // The compose file passes the password as KEZ_DATABASE_URL, which overrides the file;
    // check-config shows the URL, never the password.
    let with_secret = check_config(
        "kezd.cluster.toml",
        &[],
        &[(
            "KEZ_DATABASE_URL",
            "postgres://kez:s3cret@postgres:5432/kez",
        )],
    );
    assert_eq!(
        with_secret["database_url"].as_str(),
        Some("postgres://kez:***@postgres:5432/kez")
    );
}

/// YAML as JSON, with `<<` merge keys applied (yaml-rust2 resolves anchors and aliases but
/// leaves merges to the reader): the keys of the merged mapping first, the own keys over them.
fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => Value::String(s.clone()),
        Yaml::Integer(n) => Value::from(*n),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => {
            let mut object = Map::new();
            if let Some(Value::Object(base)) = map.get(&Yaml::String("<<".into())).map(to_json) {
                object.extend(base);
            }
            for (key, value) in map {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(n) => n.to_string(),
                    other => panic!("unsupported YAML key {other:?}"),
                };
                if key != "<<" {
                    object.insert(key, to_json(value));
                }
            }
            Value::Object(object)
        }
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML node {yaml:?}"),
    }
}

/// `host` of `scheme://user:pass@host:port/…`; the password may be a compose variable
/// (`${KEZ_DB_PASSWORD:?…}`, with `?` and spaces), so the userinfo goes first.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").expect("a URL").1;
    let after_userinfo = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = after_userinfo.split(['/', '?']).next().unwrap_or_default();
    host_port.split(':').next().unwrap_or_default()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn compose_file_wires_two_instances_postgres_nats_and_the_proxy() {
    let docs = YamlLoader::load_from_str(&read("compose.yaml")).expect("compose.yaml is YAML");
    assert_eq!(docs.len(), 1);
    let compose = to_json(&docs[0]);
    let services = compose["services"].as_object().expect("services");
    let mut names: Vec<&str> = services.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["kezd-1", "kezd-2", "nats", "postgres", "proxy"]);

    let cluster: toml::Table = read("kezd.cluster.toml").parse().expect("TOML");
    for name in ["kezd-1", "kezd-2"] {
        let kezd = &services[name];
        // Built from the repository root with deploy/Dockerfile.
        assert_eq!(kezd["build"]["context"], "..", "{name}");
        let dockerfile = kezd["build"]["dockerfile"].as_str().expect("dockerfile");
        assert!(
            deploy_dir().join("..").join(dockerfile).is_file(),
            "{dockerfile}"
        );
        assert!(kezd["image"].as_str().is_some_and(|i| i.contains("kezd")));
        // The same subcommand and config path as the image's default and the tests.
        assert_eq!(
            strings(&kezd["command"]),
            ["serve", "--config", "/etc/kezd/kezd.toml"]
        );
        let volumes = strings(&kezd["volumes"]);
        assert!(
            volumes.contains(&"./kezd.cluster.toml:/etc/kezd/kezd.toml:ro"),
            "{name}: {volumes:?}"
        );
        assert!(
            volumes.contains(&"kezd-keys:/var/lib/kezd"),
            "{name}: one server key for the cluster: {volumes:?}"
        );
        let database = kezd["environment"]["KEZ_DATABASE_URL"]
            .as_str()
            .expect("KEZ_DATABASE_URL");
        assert!(database.starts_with("postgres://kez:${KEZ_DB_PASSWORD"));
        assert_eq!(url_host(database), "postgres");
        assert_eq!(
            kezd["depends_on"]["postgres"]["condition"],
            "service_healthy"
        );
        assert!(kezd["depends_on"].get("nats").is_some());
        // kezd's own health check (GET /v1/healthz), as kezd's parser reads it.
        let test = strings(&kezd["healthcheck"]["test"]);
        assert_eq!(test[0], "CMD", "{name}: {test:?}");
        let cli = Cli::try_parse_from(&test[1..]).expect("kezd parses the health check");
        assert!(
            matches!(cli.command, Some(Subcommand::Healthcheck(_))),
            "{name}: {test:?}"
        );
    }
    assert_eq!(
        services["kezd-2"]["depends_on"]["kezd-1"]["condition"], "service_healthy",
        "the second instance starts after the first has created the server key"
    );
    // The config's services are the compose file's.
    let broker = cluster["broker_url"].as_str().expect("broker_url");
    assert!(services.contains_key(url_host(broker)), "{broker}");
    let database = cluster["database_url"].as_str().expect("database_url");
    assert!(services.contains_key(url_host(database)), "{database}");
    assert!(
        services["postgres"]["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("postgres:"))
    );
    assert_eq!(services["postgres"]["environment"]["POSTGRES_USER"], "kez");
    assert!(
        services["nats"]["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("nats:"))
    );

    // The proxy: Caddy with the Caddyfile, public ports, and the address kezd trusts.
    let proxy = &services["proxy"];
    assert!(
        proxy["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("caddy:"))
    );
    assert!(strings(&proxy["volumes"]).contains(&"./Caddyfile:/etc/caddy/Caddyfile:ro"));
    assert!(strings(&proxy["ports"]).contains(&"443:443"));
    let proxy_ip = proxy["networks"]["kez"]["ipv4_address"]
        .as_str()
        .expect("the proxy's fixed address");
    let trusted: Vec<&str> = cluster["trusted_proxies"]
        .as_array()
        .expect("trusted_proxies")
        .iter()
        .filter_map(toml::Value::as_str)
        .collect();
    assert_eq!(trusted, [proxy_ip], "kezd trusts exactly the proxy");
    let caddyfile = read("Caddyfile");
    for upstream in ["kezd-1:6969", "kezd-2:6969"] {
        assert!(caddyfile.contains(upstream), "the proxy reaches {upstream}");
    }
    assert!(
        caddyfile.contains("lb_policy ip_hash"),
        "sticky by address, as the guide's rate-limit section says"
    );
    assert!(caddyfile.contains("flush_interval -1"), "SSE unbuffered");
    assert!(
        cluster["bind"]
            .as_str()
            .is_some_and(|b| b.ends_with(":6969")),
        "the port the proxy uses"
    );
}

/// The JSON-array form of a Dockerfile instruction (`ENTRYPOINT ["kezd"]`) in its last stage.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .rfind(|line| line.starts_with(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("no {instruction}"));
    serde_json::from_str(&line[instruction.len()..]).expect("exec (JSON array) form")
}

#[test]
fn dockerfile_runs_the_kezd_binary_with_the_tests_subcommands() {
    let dockerfile = read("Dockerfile");
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    assert!(stages[0].starts_with("FROM rust:") && stages[0].ends_with(" AS build"));
    assert!(stages[1].contains("debian:bookworm-slim") || stages[1].contains("distroless"));
    assert!(dockerfile.contains("cargo build --release --locked -p kezd"));
    assert!(dockerfile.contains("COPY --from=build /out/kezd /usr/local/bin/kezd"));
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("USER");
    assert!(!["USER root", "USER 0"].contains(&user), "runs as non-root");

    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT");
    assert_eq!(entrypoint, ["kezd"]);
    let binary = Path::new(env!("CARGO_BIN_EXE_kezd"));
    assert_eq!(binary.file_name().and_then(|n| n.to_str()), Some("kezd"));
    // The default command is `kezd serve`, as kezd's own parser reads it; its configuration
    // file is named by KEZ_CONFIG (kezd/tests/image_defaults.rs runs it).
    let cmd = exec_form(&dockerfile, "CMD");
    let argv: Vec<&str> = entrypoint.iter().chain(&cmd).map(String::as_str).collect();
    let cli = Cli::try_parse_from(&argv).expect("kezd parses the image's command");
    assert_eq!(cli.command, Some(Subcommand::Serve));
    assert!(dockerfile.contains("COPY deploy/kezd.container.toml /etc/kezd/kezd.toml"));
    // The build context leaves out target/ (gigabytes), .git, data, databases and keys.
    let ignore = read("Dockerfile.dockerignore");
    for pattern in [
        "target",
        ".git",
        "data",
        "**/*.db",
        "**/*.pem",
        "**/server-keys.json",
    ] {
        assert!(ignore.lines().any(|l| l == pattern), "{pattern}");
    }
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let unit = read("kezd.service");
    // Both commands are kezd's own: check-config before each start, then serve.
    for (key, subcommand) in [
        ("ExecStartPre=", Subcommand::CheckConfig),
        ("ExecStart=", Subcommand::Serve),
    ] {
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"));
        let argv: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(argv[0], "/usr/local/bin/kezd");
        let cli = Cli::try_parse_from(&argv).expect("kezd parses the unit's command");
        assert_eq!(cli.command, Some(subcommand), "{line}");
    }
    // SIGHUP reloads (kezd/tests/operate/reload.rs); port 443 with one capability; the key
    // from a credential, named by the variable kezd reads for tls.key.
    for line in [
        "ExecReload=/bin/kill -HUP $MAINPID",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "LoadCredential=tls-key:/etc/kezd/privkey.pem",
        "Environment=KEZ_TLS_KEY=%d/tls-key",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line}");
    }
    let single: toml::Table = read("kezd.single.toml").parse().expect("TOML");
    assert!(
        single["bind"].as_str().is_some_and(|b| b.ends_with(":443")),
        "the unit's capability is for the config's port"
    );
    assert_eq!(
        single["tls"]["key"].as_str(),
        Some("/etc/kezd/privkey.pem"),
        "the credential's source is the config's key"
    );
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped systemd-analyze verify: systemd-analyze is not installed");
        return;
    };
    assert!(version.status.success());
    // verify checks that ExecStart's binary exists: point it at the one under test.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kezd.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/kezd", env!("CARGO_BIN_EXE_kezd")),
    )
    .expect("write the unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("kezd.service"),
        "systemd-analyze complains about the unit: {stderr}"
    );
}
