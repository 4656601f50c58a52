//! SIGHUP reloads the configuration file without dropping a connection: a renewed certificate
//! reaches new connections while an open one goes on with the old; an invalid file changes
//! nothing; an origin blocked by the reloaded file is refused; the log filter changes; a key
//! that cannot change live is named as needing a restart.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::common;
use crate::daemon::{Daemon, message};

/// A self-signed certificate for `localhost`: its PEM, and the PEM of its key.
fn localhost_certificate() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// The configuration file: TLS from `dir`, no DNS for federation (a closed port answers at
/// once), and `extra` appended.
fn write_config(dir: &Path, extra: &str) -> String {
    let path = dir.join("kezd.toml");
    let text = format!(
        "server_name = \"localhost\"\n{extra}\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    );
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

fn install_certificate(dir: &Path, (cert, key): &(String, String)) {
    std::fs::write(dir.join("cert.pem"), cert).expect("write cert");
    std::fs::write(dir.join("key.pem"), key).expect("write key");
}

/// One HTTPS/1.1 connection that trusts both certificates.
struct Connection {
    stream: BufReader<TlsStream<TcpStream>>,
}

impl Connection {
    async fn open(daemon: &Daemon, trusted: &[&str]) -> Connection {
        let stream = common::tls_connect(daemon.addr, trusted, &[b"http/1.1"]).await;
        Connection {
            stream: BufReader::new(stream),
        }
    }

    /// The certificate the server presented on this connection.
    fn certificate(&self) -> Vec<u8> {
        let (_, session) = self.stream.get_ref().get_ref();
        session.peer_certificates().expect("a certificate")[0].to_vec()
    }

    /// Sends one request on the connection (kept alive) and reads the status and body.
    async fn request(&mut self, head: &str, body: &str) -> (u16, String) {
        let request = format!(
            "{head}\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let stream = self.stream.get_mut();
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write request");
        let mut status_line = String::new();
        self.stream
            .read_line(&mut status_line)
            .await
            .expect("status line");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn health(&mut self) -> u16 {
        self.request("GET /v1/healthz HTTP/1.1", "").await.0
    }
}

/// A transaction from `b.example` whose `Authorization` header is well formed but signed by no
/// one: the origin check (SPEC §9.3 step 4) comes before the key is fetched.
async fn transaction_from_b(connection: &mut Connection) -> (u16, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let sig = "00".repeat(64);
    connection
        .request(
            &format!(
                "PUT /v1/federation/txn/t1 HTTP/1.1\r\nAuthorization: KEZ-Server origin=\"b.example\",destination=\"localhost\",key=\"ed25519:k1\",ts=\"{now}\",sig=\"{sig}\""
            ),
            r#"{"origin":"b.example","envelopes":[]}"#,
        )
        .await
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("der")
        .to_vec()
}

#[tokio::test]
async fn sighup_reloads_certificate_and_policy_without_dropping_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (localhost_certificate(), localhost_certificate());
    install_certificate(dir.path(), &old);
    let base = "[federation]\nresolver = \"127.0.0.1:1\"\nrequest_timeout_secs = 5\n";
    // No access log until a reload turns it on.
    let config = write_config(
        dir.path(),
        &format!("[log]\nlevel = \"info,kezd::access=off\"\n{base}"),
    );
    let mut daemon = Daemon::start(&["--config", &config], &dir.path().join("data")).await;
    let trusted = [old.0.as_str(), new.0.as_str()];

    let mut first = Connection::open(&daemon, &trusted).await;
    assert_eq!(first.certificate(), der(&old.0));
    assert_eq!(first.health().await, 200);
    let (status, body) = transaction_from_b(&mut first).await;
    assert!(
        !body.contains("origin_blocked"),
        "not blocked yet: {status} {body}"
    );

    // A renewal: the same paths, new files.
    install_certificate(dir.path(), &new);
    daemon.hang_up();
    let reloaded = daemon
        .wait_for(|line| message(line).starts_with("configuration"))
        .await;
    assert_eq!(message(&reloaded), "configuration reloaded", "{reloaded}");
    let mut second = Connection::open(&daemon, &trusted).await;
    assert_eq!(
        second.certificate(),
        der(&new.0),
        "new connections: new certificate"
    );
    assert_eq!(second.health().await, 200);
    assert_eq!(first.health().await, 200, "the open connection goes on");
    assert_eq!(first.certificate(), der(&old.0));

    // An invalid file changes nothing.
    std::fs::write(&config, "bnid = \"x\"\n").expect("write config");
    daemon.hang_up();
    let refused = daemon
        .wait_for(|line| message(line).starts_with("configuration"))
        .await;
    assert!(
        message(&refused).starts_with("configuration not reloaded")
            && refused["fields"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("`bnid`")),
        "{refused}"
    );
    assert_eq!(
        Connection::open(&daemon, &trusted).await.certificate(),
        der(&new.0)
    );

    // A blocked origin, the access log turned on, and a key that needs a restart.
    write_config(
        dir.path(),
        &format!(
            "[http]\nmax_connections = 500\n[log]\nlevel = \"info\"\n{base}block = [\"b.example\"]\n"
        ),
    );
    daemon.hang_up();
    let restart = daemon
        .wait_for(|line| message(line).contains("needs a restart"))
        .await;
    assert_eq!(
        restart["fields"]["key"], "http.max_connections",
        "{restart}"
    );
    let reloaded = daemon
        .wait_for(|line| message(line).starts_with("configuration"))
        .await;
    assert_eq!(message(&reloaded), "configuration reloaded", "{reloaded}");
    assert_eq!(
        reloaded["fields"]["changed"], "federation.block, log.level",
        "{reloaded}"
    );
    let (status, body) = transaction_from_b(&mut first).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"origin_blocked\""), "{body}");
    // The access log, on since the reload, names the origin server of a federation request.
    let access = daemon
        .wait_for(|line| line["target"] == "kezd::access" && line["fields"]["status"] == 403)
        .await;
    assert_eq!(access["fields"]["origin"], "b.example", "{access}");
    assert_eq!(first.health().await, 200, "still the same connection");
}
