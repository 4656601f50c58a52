//! Configuration: the example file documents and validates every key, unknown keys are
//! warnings that name the key, bad values are errors that name the key, the layers override in
//! order (file < environment < flags), and `kezd check-config` exits 0 or 1 accordingly.

use std::path::{Path, PathBuf};
use std::process::Command;

use kezd::config::keys::KEYS;
use kezd::config::{Config, ConfigError, FlagSetting, Sources, Warning};

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kezd.example.toml")
}

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("kezd.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn load_text(text: &str) -> Result<kezd::config::Loaded, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    Config::load(&Sources {
        file: Some(write(dir.path(), text)),
        ..Sources::default()
    })
}

#[test]
fn the_example_file_validates_and_states_the_defaults() {
    let loaded = Config::load(&Sources {
        file: Some(example_path()),
        ..Sources::default()
    })
    .expect("the example is valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.to_raw(), Config::default().to_raw());
}

#[test]
fn the_example_file_documents_every_key() {
    let text = std::fs::read_to_string(example_path()).expect("example");
    let mut documented = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        // Settings are `key = value`, possibly commented out as `# key = value`.
        let setting = line.strip_prefix("# ").unwrap_or(line);
        if let Some((key, _)) = setting.split_once(" = ")
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            documented.push(if section.is_empty() {
                key.to_owned()
            } else {
                format!("{section}.{key}")
            });
        }
    }
    for key in KEYS {
        assert!(
            documented.contains(&key.path.to_owned()),
            "{} is not documented",
            key.path
        );
    }
}

#[test]
fn unknown_keys_are_warnings_naming_them() {
    let loaded = load_text(
        "bnid = \"0.0.0.0:1\"\nbind = \"127.0.0.1:7000\"\n[http]\nmax_conections = 3\n[limits]\nx = 1\n",
    )
    .expect("unknown keys are not fatal");
    let keys: Vec<String> = loaded
        .warnings
        .iter()
        .map(|w| match w {
            Warning::UnknownKey { key, .. } => key.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys, ["bnid", "http.max_conections", "limits"]);
    assert_eq!(loaded.config.bind.port(), 7000, "known keys still apply");
    assert!(loaded.warnings[0].to_string().contains("`bnid`"));
}

#[test]
fn bad_values_are_errors_naming_the_key() {
    let cases = [
        ("[http]\nmax_connections = \"many\"", "http.max_connections"),
        ("[http]\nmax_connections = 0", "http.max_connections"),
        ("[rate]\nclient_per_minute = -5", "rate.client_per_minute"),
        (
            "[rate]\nclient_per_minute = 5000000000",
            "rate.client_per_minute",
        ),
        ("bind = \"nowhere\"", "bind"),
        ("server_name = \"Kez.Example\"", "server_name"),
        ("server_name = \"kez.example.\"", "server_name"),
        ("server_name = \"kez.example:0\"", "server_name"),
        ("durability = \"sometimes\"", "durability"),
        ("[tls]\ncert = \"c.pem\"", "tls.key"),
        ("[inbox]\npage_default = 600", "inbox.page_default"),
        ("trusted_proxies = [\"10.0.0.0/33\"]", "trusted_proxies"),
        ("trusted_proxies = \"10.0.0.0/8\"", "trusted_proxies"),
        (
            "[federation]\nallowed_private_addresses = [\"peer.internal\"]",
            "federation.allowed_private_addresses",
        ),
        (
            "[federation]\nallowed_private_addresses = [\"10.0.0.0/40\"]",
            "federation.allowed_private_addresses",
        ),
        ("database_url = \"mysql://db/kez\"", "database_url"),
        ("broker_url = \"http://nats:4222\"", "broker_url"),
        ("broker_prefix = \"kez.*\"", "broker_prefix"),
        ("public_base_url = \"kez.example\"", "public_base_url"),
        ("[log]\nformat = \"xml\"", "log.format"),
        ("[log]\nlevel = \"info,[\"", "log.level"),
        ("http = 5", "http"),
        ("[skew]\nauth_secs = 0", "skew.auth_secs"),
        (
            "[http]\nmax_inflight_bytes_per_address = 1048576",
            "http.max_inflight_bytes_per_address",
        ),
    ];
    for (text, key) in cases {
        let error = load_text(text).expect_err(text).to_string();
        assert!(
            error.contains(&format!("`{key}`")),
            "{text:?} gave {error:?}"
        );
    }
    let not_toml = load_text("bind = ").expect_err("not TOML").to_string();
    assert!(not_toml.contains("not valid TOML"), "{not_toml}");
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "[http]\nmax_connections = 5\n");
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let load = |env: Vec<(String, String)>, flags: Vec<FlagSetting>| {
        Config::load(&Sources {
            file: Some(file.clone()),
            env,
            flags,
        })
    };

    let from_file = load(vec![], vec![]).expect("valid");
    assert_eq!(from_file.config.http.max_connections.get(), 5);

    let from_env = load(
        env(&[
            ("KEZ_HTTP_MAX_CONNECTIONS", "7"),
            ("KEZ_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
            ("KEZ_NOT_A_SETTING", "x"),
            ("HOME", "/root"),
        ]),
        vec![],
    )
    .expect("valid");
    assert_eq!(from_env.config.http.max_connections.get(), 7);
    assert_eq!(from_env.config.trusted_proxies.iter().count(), 2);
    assert_eq!(
        from_env.warnings,
        [Warning::UnknownVariable {
            name: "KEZ_NOT_A_SETTING".into()
        }]
    );

    let from_flag = load(
        env(&[("KEZ_HTTP_MAX_CONNECTIONS", "7")]),
        vec![FlagSetting {
            key: "http.max_connections".into(),
            value: "9".into(),
            flag: "--set",
        }],
    )
    .expect("valid");
    assert_eq!(from_flag.config.http.max_connections.get(), 9);

    let bad_env = load(env(&[("KEZ_HTTP_MAX_CONNECTIONS", "lots")]), vec![])
        .expect_err("not a number")
        .to_string();
    assert!(
        bad_env.contains("`http.max_connections`") && bad_env.contains("KEZ_HTTP_MAX_CONNECTIONS"),
        "{bad_env}"
    );
    let unknown_flag = load(
        vec![],
        vec![FlagSetting {
            key: "http.nope".into(),
            value: "1".into(),
            flag: "--set",
        }],
    );
    assert!(matches!(
        unknown_flag,
        Err(ConfigError::UnknownFlagKey { .. })
    ));
}

/// SPEC §9.8: the allow-list of private addresses is read as networks (a bare address is a
/// network of one) and written back in canonical form; the guard's switch stays off.
#[test]
fn allowed_private_addresses_are_networks() {
    let loaded =
        load_text("[federation]\nallowed_private_addresses = [\"127.0.1.2\", \"10.20.3.4/16\"]\n")
            .expect("valid");
    let federation = &loaded.config.federation;
    assert!(!federation.allow_private_addresses);
    let allowed: Vec<String> = federation
        .allowed_private_addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(allowed, ["127.0.1.2/32", "10.20.0.0/16"]);
    assert_eq!(
        loaded.config.to_raw().federation.allowed_private_addresses,
        allowed
    );
}

#[test]
fn derived_values_follow_their_sources() {
    let plain =
        load_text("bind = \"127.0.0.1:7000\"\ndata_dir = \"/var/lib/kez\"\n").expect("valid");
    assert_eq!(
        plain.config.public_base_url.as_str(),
        "http://127.0.0.1:7000"
    );
    assert_eq!(
        plain.config.to_raw().database_url.as_deref(),
        Some("sqlite:///var/lib/kez/kezd.db")
    );
    let tls = load_text("server_name = \"kez.example\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n")
        .expect("valid");
    assert_eq!(tls.config.public_base_url.as_str(), "https://kez.example");
}

fn kezd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kezd"));
    command.env_clear();
    command
}

#[test]
fn check_config_prints_the_effective_config_and_exits_0() {
    let output = kezd()
        .args(["check-config", "--config"])
        .arg(example_path())
        .env("KEZ_HTTP_MAX_CONNECTIONS", "77")
        .output()
        .expect("run kezd");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    let table: toml::Table = printed.parse().expect("the output is TOML");
    assert_eq!(table["server_name"].as_str(), Some("localhost:6969"));
    assert_eq!(table["http"]["max_connections"].as_integer(), Some(77));

    let flags = kezd()
        .args([
            "check-config",
            "--bind",
            "127.0.0.1:7001",
            "--set",
            "rate.sender_per_minute=3",
        ])
        .output()
        .expect("run kezd");
    assert!(flags.status.success(), "{flags:?}");
    let printed = String::from_utf8(flags.stdout).expect("utf-8");
    assert!(printed.contains("bind = \"127.0.0.1:7001\""), "{printed}");
    assert!(printed.contains("sender_per_minute = 3"), "{printed}");
}

#[test]
fn check_config_exits_1_naming_the_bad_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "[http]\nmax_connections = 0\n");
    let output = kezd()
        .args(["check-config", "--config"])
        .arg(&bad)
        .output()
        .expect("run kezd");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`http.max_connections`"), "{stderr}");

    let missing = kezd()
        .args(["check-config", "--config", "/nonexistent/kezd.toml"])
        .output()
        .expect("run kezd");
    assert_eq!(missing.status.code(), Some(1));

    let warned = write(dir.path(), "typo_key = 1\n");
    let output = kezd()
        .args(["check-config", "--config"])
        .arg(&warned)
        .output()
        .expect("run kezd");
    assert!(output.status.success(), "an unknown key is a warning");
    assert!(String::from_utf8_lossy(&output.stderr).contains("`typo_key`"));
}

#[test]
fn help_and_version() {
    let version = kezd().arg("--version").output().expect("run kezd");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("kezd {}", env!("CARGO_PKG_VERSION"))
    );
    let help = kezd().arg("--help").output().expect("run kezd");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("check-config") && text.contains("serve"),
        "{text}"
    );
}
