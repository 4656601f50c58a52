//! Configuration: the example file documents and validates every key, unknown keys are errors
//! with a hint, bad values are errors that name the key, the value and where it was set, the
//! layers override in order (file < environment < flags), and the real binary — `kezd
//! check-config` and `kezd serve` — refuses every bad file of a table, naming key and source,
//! checks the TLS certificate, warns about suspicious values and never prints a password.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
fn unknown_keys_are_errors_with_the_nearest_key_as_a_hint() {
    let cases = [
        ("bnid = \"0.0.0.0:1\"\n", "`bnid`", Some("`bind`")),
        (
            "[http]\nmax_conections = 3\n",
            "`http.max_conections`",
            Some("`http.max_connections`"),
        ),
        (
            "max_connections = 3\n",
            "`max_connections`",
            Some("`http.max_connections`"),
        ),
        (
            "[htpp]\nmax_connections = 3\n",
            "`htpp.max_connections`",
            Some("`http.max_connections`"),
        ),
        ("[limits]\nx = 1\n", "`limits.x`", None),
    ];
    for (text, key, hint) in cases {
        let error = load_text(text).expect_err(text);
        let message = error.to_string();
        assert!(
            matches!(error, ConfigError::UnknownKey { .. }),
            "{text:?}: {error:?}"
        );
        assert!(
            message.contains(key) && message.contains("kezd.toml"),
            "{message}"
        );
        match hint {
            Some(hint) => assert!(
                message.contains(&format!("did you mean {hint}?")),
                "{message}"
            ),
            None => assert!(!message.contains("did you mean"), "{message}"),
        }
    }
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
        ("[tls]\ncert = \"c.pem\"", "tls.cert"),
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
        ("[log]\nlevel = \"warning\"", "log.level"),
        ("[log]\nclient_addresses = \"no\"", "log.client_addresses"),
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
            error.contains(&format!("`{key}`")) && error.contains("kezd.toml"),
            "{text:?} gave {error:?}"
        );
    }
    let value = load_text("bind = \"nowhere\"")
        .expect_err("bad bind")
        .to_string();
    assert!(value.contains("`bind` = \"nowhere\" in "), "{value}");
    let not_toml = load_text("bind = ").expect_err("not TOML").to_string();
    assert!(
        not_toml.contains("not valid TOML (line 1, column"),
        "{not_toml}"
    );
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
    let typo = load(env(&[("KEZ_HTTP_MAX_CONECTIONS", "7")]), vec![])
        .expect_err("a near miss of a key")
        .to_string();
    assert!(
        typo.contains("KEZ_HTTP_MAX_CONECTIONS")
            && typo.contains("did you mean `KEZ_HTTP_MAX_CONNECTIONS`?"),
        "{typo}"
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
        bad_env.contains(
            "`http.max_connections` = \"lots\" from environment variable KEZ_HTTP_MAX_CONNECTIONS"
        ),
        "{bad_env}"
    );
    let zero_env = load(env(&[("KEZ_HTTP_MAX_CONNECTIONS", "0")]), vec![])
        .expect_err("zero")
        .to_string();
    assert!(
        zero_env.contains("`http.max_connections` = 0 from environment variable"),
        "{zero_env}"
    );
    let unknown_flag = load(
        vec![],
        vec![FlagSetting {
            key: "http.nope".into(),
            value: "1".into(),
            flag: "--set",
        }],
    );
    let unknown_flag = unknown_flag.expect_err("unknown key").to_string();
    assert!(
        unknown_flag.contains("`http.nope` from flag --set"),
        "{unknown_flag}"
    );
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
    // SPEC §4.4: without a configured base, links are under https://<server name>, whose
    // default takes the port of `bind`.
    assert_eq!(
        plain.config.public_base_url.as_str(),
        "https://localhost:7000"
    );
    assert_eq!(
        plain.config.to_raw().database_url.as_deref(),
        Some("sqlite:///var/lib/kez/kezd.db")
    );
    let tls = load_text("server_name = \"kez.example\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n")
        .expect("valid");
    assert_eq!(tls.config.public_base_url.as_str(), "https://kez.example");
    // The default server name carries the port of `bind` (SPEC §2.2): none for 443.
    assert_eq!(plain.config.server_name.as_str(), "localhost:7000");
    let https = load_text("bind = \"127.0.0.1:443\"\n").expect("valid");
    assert_eq!(https.config.server_name.as_str(), "localhost");
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

/// What `kezd serve` must say before it refuses to start, at most: a bad configuration is
/// found before anything is opened, so this only catches a daemon that started after all.
const REFUSAL_WAIT: Duration = Duration::from_secs(60);

/// Runs `kezd serve` with `args` and returns its exit code and stderr; it must exit by itself.
async fn serve_refuses(args: &[&str], env: &[(&str, &str)], data: &Path) -> (Option<i32>, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kezd"));
    command
        .env_clear()
        .arg("serve")
        .args(args)
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(REFUSAL_WAIT, command.output())
        .await
        .expect("kezd serve started instead of refusing")
        .expect("kezd runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A bad setting, written in a file, an environment variable or a flag, with what the error
/// must say.
struct BadCase {
    /// The configuration file's text.
    file: &'static str,
    /// `KEZ_*` variables.
    env: &'static [(&'static str, &'static str)],
    /// Flags.
    flags: &'static [&'static str],
    /// Texts the error must contain; `{file}` is the file's path.
    says: &'static [&'static str],
}

const BAD: &[BadCase] = &[
    BadCase {
        file: "bnid = \"0.0.0.0:1\"\n",
        env: &[],
        flags: &[],
        says: &["unknown key `bnid` in {file}", "did you mean `bind`?"],
    },
    BadCase {
        file: "[htpp]\nmax_connections = 3\n",
        env: &[],
        flags: &[],
        says: &["`htpp.max_connections` in {file}", "`http.max_connections`"],
    },
    BadCase {
        file: "[http]\nmax_connections = 0\n",
        env: &[],
        flags: &[],
        says: &["`http.max_connections` = 0 in {file} must be at least 1"],
    },
    BadCase {
        file: "[rate]\nclient_per_minute = -5\n",
        env: &[],
        flags: &[],
        says: &["`rate.client_per_minute` = -5 in {file} must be a non-negative integer"],
    },
    BadCase {
        file: "[log]\nlevel = \"warning\"\n",
        env: &[],
        flags: &[],
        says: &[
            "`log.level` = \"warning\" in {file}",
            "did you mean \"warn\"?",
        ],
    },
    BadCase {
        file: "server_name = \"Kez.Example\"\n",
        env: &[],
        flags: &[],
        says: &["`server_name` = \"Kez.Example\" in {file}"],
    },
    BadCase {
        file: "database_url = \"mysql://kez:hunter2@db/kez\"\n",
        env: &[],
        flags: &[],
        says: &["`database_url` = \"mysql://kez:***@db/kez\" in {file}"],
    },
    BadCase {
        // Not TOML, on the line with the password: the place is given, the line is not.
        file: "database_url = \"postgres://kez:hunter2@db/kez\n",
        env: &[],
        flags: &[],
        says: &["{file} is not valid TOML (line 1, column"],
    },
    BadCase {
        file: "",
        env: &[("KEZ_HTTP_MAX_CONNECTIONS", "0")],
        flags: &[],
        says: &["`http.max_connections` = 0 from environment variable KEZ_HTTP_MAX_CONNECTIONS"],
    },
    BadCase {
        file: "",
        env: &[("KEZ_HTTP_MAX_CONECTIONS", "7")],
        flags: &[],
        says: &[
            "KEZ_HTTP_MAX_CONECTIONS",
            "did you mean `KEZ_HTTP_MAX_CONNECTIONS`?",
        ],
    },
    BadCase {
        file: "",
        env: &[],
        flags: &["--set", "http.max_conections=7"],
        says: &[
            "`http.max_conections` from flag --set",
            "`http.max_connections`",
        ],
    },
    BadCase {
        file: "",
        env: &[],
        flags: &["--server-name", "kez.example.:80"],
        says: &["`server_name` = \"kez.example.:80\" from flag --server-name"],
    },
    BadCase {
        // A cluster (shared database or broker) without the one address of all instances.
        file: "database_url = \"postgres://kez@db.internal/kez\"\n",
        env: &[],
        flags: &[],
        says: &[
            "`public_base_url` must be set for a cluster",
            "peers and WebFinger must name one address for all instances",
        ],
    },
    BadCase {
        file: "",
        env: &[("KEZ_BROKER_URL", "nats://127.0.0.1:4222")],
        flags: &[],
        says: &["`public_base_url` must be set for a cluster"],
    },
    BadCase {
        file: "[database]\nmax_connections = 0\n",
        env: &[],
        flags: &[],
        says: &["`database.max_connections` = 0 in {file} must be from 1 to"],
    },
    BadCase {
        file: "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
        env: &[],
        flags: &[],
        says: &["/nonexistent/cert.pem"],
    },
];

#[tokio::test]
async fn check_config_and_serve_refuse_every_bad_setting_naming_key_and_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    for case in BAD {
        let file = write(dir.path(), case.file);
        let file_text = file.display().to_string();
        let mut args = vec!["--config", file_text.as_str()];
        args.extend_from_slice(case.flags);
        let checked = kezd()
            .arg("check-config")
            .args(&args)
            .envs(case.env.iter().copied())
            .output()
            .expect("run kezd");
        let check_stderr = String::from_utf8_lossy(&checked.stderr).into_owned();
        let (served, serve_stderr) = serve_refuses(&args, case.env, &dir.path().join("data")).await;
        for (command, code, stderr) in [
            ("check-config", checked.status.code(), &check_stderr),
            ("serve", served, &serve_stderr),
        ] {
            assert_eq!(code, Some(1), "{command} {:?}: {stderr}", case.file);
            for says in case.says {
                let says = says.replace("{file}", &file_text);
                assert!(
                    stderr.contains(&says),
                    "{command} {:?}: expected {says:?} in {stderr}",
                    case.file
                );
            }
            assert!(!stderr.contains("hunter2"), "{command} leaked: {stderr}");
        }
        assert!(checked.stdout.is_empty(), "nothing printed for a bad file");
    }
}

/// A certificate for `names` valid from `not_before` to `not_after`, written as PEM files;
/// returns `--tls-cert` and `--tls-key` flags for them.
fn certificate(
    dir: &Path,
    names: &[&str],
    not_before: SystemTime,
    not_after: SystemTime,
) -> [String; 4] {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("params");
    let since_epoch = |t: SystemTime| t.duration_since(UNIX_EPOCH).expect("after 1970");
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_before);
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_after);
    let cert = params.self_signed(&key).expect("self-signed");
    let tag = names.join("_");
    let cert_path = dir.join(format!("{tag}.{}.crt", since_epoch(not_after).as_secs()));
    let key_path = dir.join(format!("{tag}.{}.key", since_epoch(not_after).as_secs()));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    [
        "--tls-cert".into(),
        cert_path.display().to_string(),
        "--tls-key".into(),
        key_path.display().to_string(),
    ]
}

const DAY: Duration = Duration::from_secs(24 * 3600);

#[test]
fn check_config_checks_the_certificate_against_server_name_and_the_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = SystemTime::now();
    let run_as = |server_name: &str, flags: &[String]| {
        let output = kezd()
            .args(["check-config", "--server-name", server_name])
            .args(flags)
            .output()
            .expect("run kezd");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let run = |flags: &[String]| run_as("kez.example", flags);

    let good = certificate(dir.path(), &["kez.example"], now - DAY, now + 90 * DAY);
    let (code, stderr) = run(&good);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");

    let wildcard = certificate(dir.path(), &["*.kez.example"], now - DAY, now + 90 * DAY);
    assert_eq!(
        run_as("chat.kez.example", &wildcard).0,
        Some(0),
        "a wildcard covers the name"
    );

    let other = certificate(dir.path(), &["other.example"], now - DAY, now + 90 * DAY);
    let (code, stderr) = run(&other);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`tls.cert`")
            && stderr.contains("does not cover kez.example (it covers: other.example)"),
        "{stderr}"
    );

    let expired = certificate(dir.path(), &["kez.example"], now - 90 * DAY, now - DAY);
    let (code, stderr) = run(&expired);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("the certificate expired on"), "{stderr}");

    let expiring = certificate(dir.path(), &["kez.example"], now - 80 * DAY, now + 3 * DAY);
    let (code, stderr) = run(&expiring);
    assert_eq!(code, Some(0), "expiring soon is a warning: {stderr}");
    assert!(
        stderr.contains("warning: `tls.cert`") && stderr.contains("the certificate expires on"),
        "{stderr}"
    );
}

#[test]
fn check_config_warns_about_suspicious_values_and_never_prints_a_password() {
    let output = kezd()
        .args(["check-config", "--bind", "0.0.0.0:6969"])
        .env(
            "KEZ_DATABASE_URL",
            "postgres://kez:hunter2@db.internal:5432/kez",
        )
        .env("KEZ_BROKER_URL", "nats://kez:natspass@nats:4222")
        // Required in a cluster; the listening address is a mistake to warn about.
        .env("KEZ_PUBLIC_BASE_URL", "http://0.0.0.0:6969")
        .output()
        .expect("run kezd");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "warnings only: {stderr}");
    assert!(
        stderr.contains("warning: `server_name` is localhost:6969 (the default) while kezd listens on 0.0.0.0:6969"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: `public_base_url` is http://0.0.0.0:6969"),
        "{stderr}"
    );
    assert!(
        stdout.contains("database_url = \"postgres://kez:***@db.internal:5432/kez\"")
            && stdout.contains("broker_url = \"nats://kez:***@nats:4222\""),
        "{stdout}"
    );
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("hunter2") && !text.contains("natspass"),
            "{text}"
        );
    }
}

/// SPEC §4.1 check 10: `check-config` prints the registration policy in force — open on
/// localhost, token on any other name unless set — warns when it is open on a public name,
/// and refuses a policy that is none of the three.
#[test]
fn check_config_prints_the_registration_policy_and_warns_when_open_in_public() {
    let run = |args: &[&str]| {
        let output = kezd()
            .arg("check-config")
            .args(args)
            .output()
            .expect("run kezd");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.code(), stdout, stderr)
    };
    let policy = |stdout: &str| {
        let table: toml::Table = stdout.parse().expect("the output is TOML");
        table["registration"]["policy"]
            .as_str()
            .expect("policy")
            .to_owned()
    };
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(
        (code, policy(&stdout).as_str()),
        (Some(0), "open"),
        "{stderr}"
    );
    assert!(!stderr.contains("registration"), "{stderr}");
    let (code, stdout, stderr) = run(&["--server-name", "kez.example"]);
    assert_eq!(
        (code, policy(&stdout).as_str()),
        (Some(0), "token"),
        "{stderr}"
    );
    assert!(!stderr.contains("registration"), "{stderr}");

    let open = [
        "--server-name",
        "kez.example",
        "--set",
        "registration.policy=open",
    ];
    let (code, stdout, stderr) = run(&open);
    assert_eq!(
        (code, policy(&stdout).as_str()),
        (Some(0), "open"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: `registration.policy` is \"open\" on kez.example"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["--set", "registration.policy=invite"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`registration.policy` = \"invite\" from flag --set"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["--set", "registration.reserved_handles=ops,Bad"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`registration.reserved_handles`"),
        "{stderr}"
    );
}
