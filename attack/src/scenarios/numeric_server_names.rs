//! Numeric server names: every spelling of a loopback, private, link-local or metadata address
//! that an address parser (inet_aton, the WHATWG URL parser, an HTTP client) would connect to —
//! decimal, hex, octal and mixed IPv4, IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6,
//! trailing dots — through every entry point that leads kezd to an outbound connection: the
//! remote look-up `GET /v1/u/bob@<name>`, a local user's send to `bob@<name>`, and a federation
//! transaction whose `Authorization` names origin `<name>`. Each must be refused (400, or 401
//! `s2s_unauthorized` for the transaction, with the SPEC §10 body; §2.2 says server names are
//! domain names), and a TCP listener on 127.0.0.1 that every loopback spelling points at must
//! count zero connections. kezd runs with the SSRF guard on (`allow_private_addresses = false`).
//!
//! Loopback only: the spellings of other ranges (10/8, 169.254.169.254, …) would send packets
//! off this machine if kezd connected to them, so an entry point gets them only after it
//! refused every loopback spelling; otherwise they are reported as not tried.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kez_conformance::user::{Peer, User, json_bytes, random_key};
use kez_conformance::{Fail, fail};
use kez_spec::{Address, Primary};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::daemon::{Daemon, NAME};
use crate::scenario::{Env, Outcome, RunFuture, Scenario};
use crate::wire::{self, ATTACKER, Answer, Reply};

/// The scenario.
pub const SCENARIO: Scenario = Scenario {
    name: "numeric_server_names",
    proves: "every numeric spelling of loopback/private/link-local/metadata addresses is \
             refused by the remote look-up, a send and a federation transaction, and no \
             connection reaches a listener on 127.0.0.1",
    timeout: Duration::from_secs(120),
    run,
};

/// Spellings that reach 127.0.0.1 (or the local host) when parsed as an address: each gets the
/// trap's port, so a connection kezd makes is counted.
const LOOPBACK: &[&str] = &[
    "0x7f000001",
    "0X7F000001",
    "0x7f000001.",
    "0x7f.0.0.1",
    "0x7f.0x0.0x0.0x1",
    "0x7f.1",
    "127.0.0.0x1",
    "127.0.0x1",
    "127.0x1",
    "0177.0.0.0x1",
    "0177.0.0.1",
    "0177.1",
    "017700000001",
    "2130706433",
    "127.1",
    "127.0.1",
    "127.0.0.1",
    "127.0.0.1.",
    "127.000.000.001",
    "0x0",
    "0",
    "0.0.0.0",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::]",
];

/// Spellings of private, CGNAT, link-local and cloud-metadata addresses, and of IPv6 forms that
/// embed them (tried only after the loopback ones are all refused; see the module doc).
const ELSEWHERE: &[&str] = &[
    "0x0a000001",
    "10.0.0.0x1",
    "012.0.0.1",
    "167772161",
    "0xc0a80001",
    "192.168.0.0x1",
    "0xac100001",
    "172.16.0.0x1",
    "100.64.0.0x1",
    "169.254.169.254",
    "169.254.169.254.",
    "169.254.169.0xfe",
    "0xa9fea9fe",
    "0xa9fea9fe.",
    "0251.0376.0251.0376",
    "0251.254.169.254",
    "169.254.43518",
    "2852039166",
    "[fe80::1]",
    "[fc00::1]",
    "[fd00:ec2::254]",
    "[::ffff:169.254.169.254]",
    "[::ffff:a9fe:a9fe]",
    "[::ffff:10.0.0.1]",
    "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b::7f00:1]",
    "[::127.0.0.1]",
    "[2002:7f00:1::]",
    "[2002:a9fe:a9fe::]",
];

/// Bound on each request: a refusal is immediate; kezd's own outbound timeout is set below it.
const WITHIN: Duration = Duration::from_secs(8);

const SETTINGS: &[(&str, &str)] = &[
    ("federation.allow_private_addresses", "false"),
    ("federation.request_timeout_secs", "3"),
    // The scenario makes a hundred look-ups from one address; a refusal must come from the
    // grammar, not from the reflection limits.
    ("rate.remote_lookups_per_minute", "1000000"),
    ("rate.remote_lookups_per_server_per_minute", "1000000"),
];

/// The entry points that lead to an outbound connection.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// `GET /v1/u/bob@<name>`.
    Lookup,
    /// `POST /v1/messages` to `bob@<name>`.
    Send,
    /// `PUT /v1/federation/txn/…` from origin `<name>`.
    Txn,
}

impl Entry {
    fn describe(self) -> &'static str {
        match self {
            Entry::Lookup => "GET /v1/u/bob@<name>",
            Entry::Send => "a send to bob@<name>",
            Entry::Txn => "a transaction from origin <name>",
        }
    }
}

fn run(env: Env) -> RunFuture {
    Box::pin(attack(env))
}

async fn attack(env: Env) -> Outcome {
    let trap = Trap::start().await?;
    let daemon = Daemon::start(&env.kezd, SETTINGS).await?;
    let sender = User::registered(daemon.server()).await?;
    let mut failures: Vec<String> = Vec::new();
    let mut figures = Vec::new();
    for entry in [Entry::Lookup, Entry::Send, Entry::Txn] {
        let mut refused = 0usize;
        let mut first_failure = None;
        let mut let_through = Vec::new();
        for host in LOOPBACK {
            let name = format!("{host}:{}", trap.port);
            match probe(&daemon, &sender, entry, &name).await? {
                None => refused += 1,
                Some(reason) => {
                    let_through.push(*host);
                    first_failure.get_or_insert(reason);
                }
            }
        }
        let loopback_held = refused == LOOPBACK.len();
        let mut refused_elsewhere = 0usize;
        if loopback_held {
            for host in ELSEWHERE {
                // Any port: these are refused by the grammar, never connected to.
                let name = format!("{host}:{}", trap.port);
                match probe(&daemon, &sender, entry, &name).await? {
                    None => refused_elsewhere += 1,
                    Some(reason) => {
                        let_through.push(*host);
                        first_failure.get_or_insert(reason);
                    }
                }
            }
        }
        let line = format!(
            "{}: {refused}/{} loopback spellings refused, {}",
            entry.describe(),
            LOOPBACK.len(),
            if loopback_held {
                format!("{refused_elsewhere}/{} others refused", ELSEWHERE.len())
            } else {
                format!(
                    "{} others not tried (loopback let through)",
                    ELSEWHERE.len()
                )
            }
        );
        if let Some(reason) = first_failure {
            failures.push(format!(
                "{line}; not refused: {}; first: {reason}",
                let_through.join(" ")
            ));
        } else if !loopback_held {
            failures.push(line.clone());
        }
        figures.push(line);
    }
    let connections = trap.count().await?;
    figures.push(format!(
        "connections to the listener on 127.0.0.1:{}: {connections}",
        trap.port
    ));
    if connections > 0 {
        failures.push(format!(
            "kezd connected {connections} times to the listener on 127.0.0.1:{} that only \
             numeric server names named",
            trap.port
        ));
    }
    if !failures.is_empty() {
        fail!("{}", failures.join("; "));
    }
    daemon.check_alive().await?;
    Ok(figures)
}

/// Tries `name` through `entry`: `None` when refused as required, else why not.
async fn probe(
    daemon: &Daemon,
    sender: &User,
    entry: Entry,
    name: &str,
) -> Result<Option<String>, Fail> {
    let address = format!("bob@{name}");
    let host = daemon.host();
    let request = match entry {
        Entry::Lookup => {
            // Brackets percent-encoded: an IPv6 literal is not a path character.
            let path = address.replace('[', "%5B").replace(']', "%5D");
            format!("GET /v1/u/{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .into_bytes()
        }
        Entry::Send => post(&host, "/v1/messages", &[], &send_body(sender, &address)?),
        Entry::Txn => {
            let body = json_bytes(&json!({ "origin": name, "envelopes": [] }));
            let auth = format!(
                "KEZ-Server origin=\"{name}\",destination=\"{NAME}\",key=\"ed25519:k1\",\
                 ts=\"{}\",sig=\"{}\"",
                now_s(),
                "0".repeat(128)
            );
            put(&host, "/v1/federation/txn/numeric-origin", &auth, &body)
        }
    };
    let reply = wire::exchange(ATTACKER, daemon.addr(), &request, WITHIN).await?;
    let what = format!("{} with {name}", entry.describe());
    let refused = match (&reply, entry) {
        (Reply::Answer(answer), Entry::Txn) => {
            is_error(answer, 401, &["s2s_unauthorized"])
                || is_error(answer, 400, &["invalid_server_name", "malformed_request"])
        }
        (Reply::Answer(answer), _) => is_error(
            answer,
            400,
            &["invalid_address", "invalid_server_name", "invalid_handle"],
        ),
        _ => false,
    };
    Ok((!refused).then(|| format!("{what}: {}", reply.describe())))
}

fn is_error(answer: &Answer, status: u16, codes: &[&str]) -> bool {
    answer.status == status
        && answer
            .error_code()
            .is_some_and(|code| codes.contains(&code.as_str()))
}

/// A send body to `address`: a valid envelope from `sender` to another server, re-addressed
/// and signed again (kezd cannot read the sealed part, so only the signature binds `to`).
fn send_body(sender: &User, address: &str) -> Result<Vec<u8>, Fail> {
    let placeholder = Address::parse("bob@elsewhere.test")
        .map_err(|e| Fail::Fail(format!("a placeholder address: {e}")))?;
    let peer = Peer {
        address: placeholder,
        primary: Primary::from(&random_key()),
    };
    let mut fields = sender.envelope_fields(&peer, "hello");
    fields.insert("to".into(), Value::from(address));
    let envelope = sender.sign(fields);
    Ok(json_bytes(&json!({ "to": address, "envelope": envelope })))
}

fn post(host: &str, path: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    request("POST", host, path, headers, body)
}

fn put(host: &str, path: &str, authorization: &str, body: &[u8]) -> Vec<u8> {
    request(
        "PUT",
        host,
        path,
        &[&format!("Authorization: {authorization}")],
        body,
    )
}

fn request(method: &str, host: &str, path: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn now_s() -> u64 {
    kez_spec::clock::now_ms() / 1000
}

/// A listener on 127.0.0.1 that records the peers it accepts and closes them at once.
struct Trap {
    /// Its port, given to every loopback spelling.
    port: u16,
    /// Peer addresses of the connections accepted so far.
    accepted: Arc<Mutex<Vec<SocketAddr>>>,
    /// Signalled after each accept.
    accepted_one: Arc<Notify>,
    /// The accept loop (aborted on drop).
    task: tokio::task::JoinHandle<()>,
}

impl Trap {
    async fn start() -> Result<Trap, Fail> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Fail::Fail(format!("binding the trap listener: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Fail::Fail(format!("the trap's address: {e}")))?
            .port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let accepted_one = Arc::new(Notify::new());
        let task = tokio::spawn({
            let (accepted, accepted_one) = (Arc::clone(&accepted), Arc::clone(&accepted_one));
            async move {
                while let Ok((stream, peer)) = listener.accept().await {
                    drop(stream);
                    lock(&accepted).push(peer);
                    accepted_one.notify_one();
                }
            }
        });
        Ok(Trap {
            port,
            accepted,
            accepted_one,
            task,
        })
    }

    /// Connections kezd made. The count is made exact by one connection of our own: the
    /// kernel hands connections to `accept` in order, so once ours is accepted, every earlier
    /// one has been recorded.
    async fn count(&self) -> Result<usize, Fail> {
        let marker = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| Fail::Fail(format!("connecting to the trap: {e}")))?;
        let ours = marker
            .local_addr()
            .map_err(|e| Fail::Fail(format!("the marker's address: {e}")))?;
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let notified = self.accepted_one.notified();
            {
                let accepted = lock(&self.accepted);
                if accepted.contains(&ours) {
                    return Ok(accepted.len() - 1);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                fail!("the trap listener did not accept its own marker connection");
            }
        }
    }
}

/// The accepted peers; a poisoned lock still holds a valid list (pushes cannot half-happen).
fn lock(accepted: &Mutex<Vec<SocketAddr>>) -> std::sync::MutexGuard<'_, Vec<SocketAddr>> {
    accepted
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}
