//! The floor server (`kez-bench floor-serve`) over a real socket: it must accept exactly what
//! verifies — a floor that accepted anything would measure less than the least a server does.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kez_spec::envelope::{Envelope, SignedEnvelope};
use kez_spec::{Address, Handle, Primary, ServerName, SigningKey};
use serde_json::{Value, json};

/// The floor server, killed when dropped.
struct Floor {
    child: Child,
    base: String,
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start() -> Floor {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_kez-bench"))
        .args(["floor-serve", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .spawn()
        .expect("kez-bench starts");
    let started = Instant::now();
    while tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the floor server did not listen"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Floor {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

fn address(handle: &str) -> Address {
    Address::new(
        Handle::parse(handle).expect("handle"),
        ServerName::parse("floor.test").expect("server"),
    )
}

/// A `POST /v1/messages` body from a fresh sender, and the message id a server must report.
fn send_body() -> (Value, String) {
    let sender = SigningKey::from_bytes(&[7; 32]);
    let recipient = SigningKey::from_bytes(&[9; 32]);
    let envelope = Envelope::seal(
        &sender,
        address("alice"),
        address("bob"),
        &Primary::from(&recipient),
        1_700_000_000_000,
        [1; 12],
        b"{\"text\":\"hello\"}",
    )
    .expect("seal")
    .sign(&sender);
    let text = envelope.to_string();
    let id = SignedEnvelope::parse(text.as_bytes())
        .expect("parses")
        .id
        .to_string();
    let envelope: Value = serde_json::from_str(&text).expect("JSON");
    (json!({"to": "bob@floor.test", "envelope": envelope}), id)
}

async fn post(floor: &Floor, body: String) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/messages", floor.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn a_verified_envelope_is_answered_201_with_its_id_twice() {
    let floor = start().await;
    let (body, id) = send_body();
    // The second time the sender's primary comes from the floor's cache.
    for seq in 1..=2 {
        let (status, answer) = post(&floor, body.to_string()).await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["id"], id.as_str());
        assert_eq!(answer["seq"], seq);
    }
}

#[tokio::test]
async fn a_tampered_envelope_and_a_malformed_body_are_refused() {
    let floor = start().await;
    let (mut body, _) = send_body();
    // Warm the cache with the genuine envelope, so the tampered one meets a known primary.
    assert_eq!(post(&floor, body.to_string()).await.0, 201);
    body["envelope"]["ts"] = json!(1_700_000_000_001_u64);
    let (status, answer) = post(&floor, body.to_string()).await;
    assert_eq!(status, 400, "a changed timestamp must not verify: {answer}");
    let (status, _) = post(&floor, "{\"to\":".to_owned()).await;
    assert_eq!(status, 400);
    let (status, _) = post(&floor, "{\"to\":\"bob@floor.test\"}".to_owned()).await;
    assert_eq!(status, 400);
}
