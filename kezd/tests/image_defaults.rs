//! The container image's defaults, run for real without Docker: the real kezd binary started
//! with exactly the `ENV`, `WORKDIR`, `ENTRYPOINT` and `CMD` of deploy/Dockerfile's runtime
//! stage (read from the file, so the test and the image cannot drift) and the configuration
//! the image copies in, with every absolute path moved under a temporary root. It must serve
//! plain HTTP on the exposed port's configuration with no mount, answer the image's own
//! `HEALTHCHECK` command, switch to HTTPS by environment variables alone, and the health check
//! must fail, in one line, once nothing listens.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[path = "support/example_certificate.rs"]
mod example_certificate;
use example_certificate::ExampleCertificate;

/// Bound on kezd's start; a liveness bound, not a measurement.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The instructions of the Dockerfile's last stage, continuation lines joined, comments and
/// parser directives dropped: `(INSTRUCTION, arguments)`.
fn runtime_stage() -> Vec<(String, String)> {
    let path = repo_root().join("deploy/Dockerfile");
    let text = std::fs::read_to_string(&path).expect("deploy/Dockerfile");
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (current.is_empty() && trimmed.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let last_from = joined
        .iter()
        .rposition(|line| line.starts_with("FROM "))
        .expect("a FROM");
    joined[last_from..]
        .iter()
        .map(|line| {
            let (instruction, args) = line.split_once(' ').unwrap_or((line, ""));
            (instruction.to_owned(), args.trim().to_owned())
        })
        .collect()
}

/// The arguments of the stage's last `instruction`.
fn last<'a>(stage: &'a [(String, String)], instruction: &str) -> &'a str {
    stage
        .iter()
        .rfind(|(name, _)| name == instruction)
        .map(|(_, args)| args.as_str())
        .unwrap_or_else(|| panic!("no {instruction} in the runtime stage"))
}

/// An exec-form (JSON array) argument list.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not exec form ({e}): {args}"))
}

/// Every `ENV KEY=VALUE …` of the stage (unquoted values, as the Dockerfile writes them).
fn image_env(stage: &[(String, String)]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (_, args) in stage.iter().filter(|(name, _)| name == "ENV") {
        for pair in args.split_whitespace() {
            let (key, value) = pair.split_once('=').expect("ENV KEY=VALUE");
            assert!(!value.contains('"'), "quoted ENV values are not read here");
            env.insert(key.to_owned(), value.to_owned());
        }
    }
    env
}

/// The image's file system and command, rooted in a temporary directory.
struct Image {
    root: tempfile::TempDir,
    env: BTreeMap<String, String>,
    workdir: PathBuf,
    argv: Vec<String>,
    healthcheck: Vec<String>,
    /// The port kezd listens on instead of the image's (which may be taken on this machine).
    port: u16,
}

impl Image {
    /// Reads the Dockerfile, checks the defaults it promises, and lays out the files it copies.
    fn new() -> Image {
        let stage = runtime_stage();
        let root = tempfile::tempdir().expect("temp root");
        let under_root = |path: &str| match path.strip_prefix('/') {
            Some(relative) => root.path().join(relative),
            None => PathBuf::from(path),
        };
        let user = last(&stage, "USER");
        assert!(
            !["root", "0", "0:0"].contains(&user) && !user.starts_with("root:"),
            "runs as non-root, not {user}"
        );
        let volume = exec_form(last(&stage, "VOLUME"));
        let exposed: u16 = last(&stage, "EXPOSE").parse().expect("one EXPOSEd port");

        let env = image_env(&stage);
        let data_dir = env.get("KEZ_DATA_DIR").expect("KEZ_DATA_DIR");
        assert!(
            volume.contains(data_dir),
            "the data directory {data_dir} is the volume {volume:?}"
        );
        let config_path = env.get("KEZ_CONFIG").expect("KEZ_CONFIG names the file");
        assert!(
            !env.keys().any(|k| k.starts_with("KEZ_TLS")),
            "plain HTTP by default"
        );

        // The configuration the image copies to KEZ_CONFIG, with the port moved to a free one.
        let copied = stage
            .iter()
            .filter(|(name, _)| name == "COPY")
            .filter_map(|(_, args)| args.split_once(' '))
            .find(|(_, dest)| dest == config_path)
            .map(|(source, _)| source.to_owned())
            .expect("the image copies a configuration to KEZ_CONFIG");
        let text = std::fs::read_to_string(repo_root().join(&copied)).expect("the copied file");
        let mut config: toml::Table = text.parse().expect("TOML");
        let bind = config["bind"].as_str().expect("bind").to_owned();
        assert_eq!(
            bind,
            format!("0.0.0.0:{exposed}"),
            "serves the EXPOSEd port"
        );
        assert!(config.get("tls").is_none(), "plain HTTP by default");
        let port = free_port();
        config.insert("bind".into(), format!("0.0.0.0:{port}").into());
        let config_file = under_root(config_path);
        std::fs::create_dir_all(config_file.parent().expect("a directory")).expect("mkdir");
        std::fs::write(&config_file, config.to_string()).expect("write config");

        let workdir = under_root(last(&stage, "WORKDIR"));
        std::fs::create_dir_all(&workdir).expect("WORKDIR");
        let env = env
            .into_iter()
            .map(|(key, value)| {
                let value = under_root(&value).display().to_string();
                (key, value)
            })
            .collect();
        let mut argv = exec_form(last(&stage, "ENTRYPOINT"));
        argv.extend(exec_form(last(&stage, "CMD")));
        let healthcheck = last(&stage, "HEALTHCHECK");
        let healthcheck = exec_form(&healthcheck[healthcheck.find("CMD [").expect("CMD") + 4..]);
        Image {
            root,
            env,
            workdir,
            argv,
            healthcheck,
            port,
        }
    }

    /// `argv` run as the image would: the kezd binary for `kezd`, the image's environment only
    /// (plus `extra`), its working directory.
    fn command(&self, argv: &[String], extra: &[(&str, String)]) -> Command {
        assert_eq!(argv[0], "kezd", "the image's binary");
        let mut command = Command::new(env!("CARGO_BIN_EXE_kezd"));
        command
            .args(&argv[1..])
            .env_clear()
            .envs(&self.env)
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(&self.workdir);
        command
    }

    /// Starts `ENTRYPOINT` + `CMD` and waits until kezd logs that it serves.
    fn start(&self, extra: &[(&str, String)]) -> Running {
        let mut child = self
            .command(&self.argv, extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kezd starts");
        let stderr = child.stderr.take().expect("stderr");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut log = Vec::new();
        loop {
            match received.recv_timeout(START_TIMEOUT) {
                Ok(line) if line.contains("ready to serve") => break,
                Ok(line) => log.push(line),
                Err(e) => {
                    let _ = child.kill();
                    panic!("kezd did not start ({e}): {}", log.join("\n"));
                }
            }
        }
        Running { child }
    }

    /// The image's `HEALTHCHECK` command, with the image's environment plus `extra`.
    fn healthcheck(&self, extra: &[(&str, String)]) -> Output {
        self.command(&self.healthcheck, extra)
            .output()
            .expect("kezd healthcheck runs")
    }
}

/// A started kezd, killed on drop.
struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A failed health check: exit status 1 and exactly one line on stderr naming `what`.
fn assert_unhealthy(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(what), "{stderr}");
}

#[test]
fn the_image_serves_plain_http_with_no_mount_and_answers_its_healthcheck() {
    let image = Image::new();
    assert_eq!(image.healthcheck, ["kezd", "healthcheck"]);
    let running = image.start(&[]);
    let out = image.healthcheck(&[]);
    assert!(
        out.status.success(),
        "healthcheck: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    // The data directory is the one the image's environment names, inside the volume.
    assert!(
        image
            .root
            .path()
            .join("var/lib/kezd/server-keys.json")
            .is_file()
    );
    // The same over an explicit URL; a closed port is not healthy.
    let url = |port: u16| ("--url".to_owned(), format!("http://127.0.0.1:{port}"));
    let explicit = |(flag, value): (String, String)| {
        let argv = ["kezd".to_owned(), "healthcheck".to_owned(), flag, value];
        image.command(&argv, &[]).output().expect("runs")
    };
    assert!(explicit(url(image.port)).status.success());
    assert_unhealthy(&explicit(url(free_port())), "connecting to 127.0.0.1:");
    drop(running);
    assert_unhealthy(&image.healthcheck(&[]), "connecting to 127.0.0.1:");
}

#[test]
fn tls_is_turned_on_by_environment_variables_alone() {
    let image = Image::new();
    let certificate = ExampleCertificate::new();
    let tls = [
        ("KEZ_SERVER_NAME", "kez.example.org".to_owned()),
        ("KEZ_TLS_CERT", certificate.cert.display().to_string()),
        ("KEZ_TLS_KEY", certificate.key.display().to_string()),
    ];
    let _running = image.start(&tls);
    // Over HTTPS, the certificate checked for the server name against the configured chain.
    let out = image.healthcheck(&tls);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Plain HTTP on the same port gets no HTTP answer: TLS really is on.
    assert_unhealthy(&image.healthcheck(&tls[..1]), "");
    // A certificate the server does not serve is not trusted.
    let other = ExampleCertificate::new();
    let wrong = [
        tls[0].clone(),
        ("KEZ_TLS_CERT", other.cert.display().to_string()),
        tls[2].clone(),
    ];
    assert_unhealthy(&image.healthcheck(&wrong), "certificate");
}
