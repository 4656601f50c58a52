//! The testnet itself: a CA, a DNS server and N kezd processes wired together the way
//! federation-plan.md fixes it, started with one builder call and torn down on drop.

use std::collections::HashSet;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kez_federation::{ClientConfig, FederationClient, ServerKeys};
use kez_spec::ServerName;

use tempfile::TempDir;

use crate::addresses::{self, RogueAddresses};
use crate::ca::TestCa;
use crate::dns::DnsServer;
use crate::error::TestnetError;
use crate::node::Node;

/// Default bound on how long one node may take to answer its first health check. A debug
/// kezd on a busy 2-core machine starts in well under a second; the margin is for a build
/// running next to the tests.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Set to `1` to keep the testnet's directory (configs, logs, data) after it is dropped; its
/// path is printed on stderr.
pub const KEEP_DIR_VARIABLE: &str = "KEZ_TESTNET_KEEP";

/// Options of one node.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    /// TOML documents merged into the generated config file, in order (see
    /// [`NodeOptions::extra_config`]).
    extra_config: Vec<String>,
    /// Issue the certificate for the SRV target instead of the server name.
    cert_for_srv_target_only: bool,
}

impl NodeOptions {
    /// Default options: a certificate for the server name, no extra configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// TOML text added to the node's generated config file, e.g.
    /// `"[federation]\nblock = [\"c.test\"]\n[rate]\nsender_per_minute = 5"`.
    ///
    /// The text is merged, not pasted: tables are merged key by key and the extra value wins,
    /// so a `[federation]` table here adds to the generated one instead of being a duplicate
    /// table that TOML rejects. Keys before any table header are top-level keys. Calling this
    /// again merges another document over the result: each call's text is a document of its
    /// own, so its top-level keys stay top-level whatever the previous call's last table was.
    pub fn extra_config(mut self, toml: impl AsRef<str>) -> Self {
        self.extra_config.push(toml.as_ref().to_owned());
        self
    }

    /// Issue the node's certificate for its SRV target (`node-a.test`) only, not for its
    /// server name (`a.test`): a misconfigured peer that SPEC §9.1 says must be refused.
    pub fn cert_for_srv_target_only(mut self) -> Self {
        self.cert_for_srv_target_only = true;
        self
    }
}

/// Collects the nodes and options; [`TestnetBuilder::start`] brings everything up.
#[derive(Debug)]
pub struct TestnetBuilder {
    /// The kezd binary every node runs.
    kezd_bin: PathBuf,
    /// Nodes in the order given.
    nodes: Vec<(String, NodeOptions)>,
    /// HTTPS (default) or plain HTTP for every node.
    tls: bool,
    /// Bound on each node's start-up.
    startup_timeout: Duration,
    /// Keep the directory after drop.
    keep_dir: bool,
}

impl TestnetBuilder {
    /// Adds a node with default options. `name` is its server name, a DNS name under `.test`.
    pub fn node(self, name: impl Into<String>) -> Self {
        self.node_with(name, NodeOptions::default())
    }

    /// Adds a node with options.
    pub fn node_with(mut self, name: impl Into<String>, options: NodeOptions) -> Self {
        self.nodes.push((name.into(), options));
        self
    }

    /// HTTPS (`true`, the default) or plain HTTP for every node. Federation requires HTTPS
    /// (SPEC §9.1); plain HTTP is for client-API tests that do not federate.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// How long each node may take to answer `GET /v1/healthz`.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Keep the directory (configs, logs, data) after the testnet is dropped, to read the
    /// logs of a failed test. Also turned on by `KEZ_TESTNET_KEEP=1`.
    pub fn keep_dir(mut self, keep: bool) -> Self {
        self.keep_dir = keep;
        self
    }

    /// Creates the CA and the DNS server, writes each node's certificate and config, publishes
    /// its DNS records, starts every kezd, and waits until each answers its health check.
    /// On error every process started so far is killed.
    pub async fn start(self) -> Result<Testnet, TestnetError> {
        crate::install_crypto_provider();
        if !self.kezd_bin.is_file() {
            return Err(TestnetError::KezdBinary {
                path: self.kezd_bin,
                reason: "not a file (build it with `cargo build -p kezd`)".to_owned(),
            });
        }
        if self.nodes.len() > addresses::MAX_NODES {
            return Err(TestnetError::InvalidNodeName(format!(
                "more than {} nodes",
                addresses::MAX_NODES
            )));
        }
        let mut seen = HashSet::new();
        for (name, _) in &self.nodes {
            if !is_test_name(name) {
                return Err(TestnetError::InvalidNodeName(name.clone()));
            }
            if !seen.insert(name.as_str()) {
                return Err(TestnetError::DuplicateNode(name.clone()));
            }
        }

        let dir = tempfile::Builder::new()
            .prefix("kez-testnet-")
            .tempdir()
            .map_err(|e| TestnetError::io("creating the testnet directory", e))?;
        let ca = TestCa::new(dir.path())?;
        let dns = DnsServer::start().await?;
        let ips: Vec<Ipv4Addr> = (0..self.nodes.len()).map(addresses::node_ip).collect();
        let ports = free_ports(&ips)?;
        let allowed = addresses::allowed_private_addresses(&ips);

        let mut nodes = Vec::with_capacity(self.nodes.len());
        for (((name, options), ip), port) in self.nodes.into_iter().zip(ips).zip(ports) {
            let host = Host {
                name: &name,
                ip,
                port,
            };
            let node = prepare_node(dir.path(), &ca, &dns, host, &options, &allowed, self.tls)?;
            dns.publish_kez_server(&node.name, &node.srv_target, node.addr())
                .await?;
            nodes.push(node);
        }

        let keep_dir =
            self.keep_dir || std::env::var(KEEP_DIR_VARIABLE).is_ok_and(|value| value == "1");
        let mut testnet = Testnet {
            client: build_client(&ca, &nodes)?,
            kezd_bin: self.kezd_bin,
            startup_timeout: self.startup_timeout,
            keep_dir,
            nodes,
            dns: Some(dns),
            ca,
            rogue_addresses: RogueAddresses::default(),
            rogue_verifier: OnceLock::new(),
            dir: Some(dir),
        };
        // Spawn all, then wait for each: the nodes start in parallel. If anything fails,
        // dropping `testnet` kills what was started.
        for node in &mut testnet.nodes {
            node.spawn(&testnet.kezd_bin)?;
        }
        for node in &mut testnet.nodes {
            node.wait_ready(&testnet.client, testnet.startup_timeout)
                .await?;
        }
        Ok(testnet)
    }
}

/// A running test network. Dropping it kills every kezd (SIGKILL) and stops the DNS server;
/// [`Testnet::shutdown`] stops the nodes gracefully instead.
#[derive(Debug)]
pub struct Testnet {
    /// The binary the nodes run (restarts use it again).
    kezd_bin: PathBuf,
    /// The nodes, in the order given to the builder.
    nodes: Vec<Node>,
    /// Trusts the CA and resolves every node name to 127.0.0.1.
    client: reqwest::Client,
    /// The CA that signed every node's certificate.
    ca: TestCa,
    /// `None` only during shutdown.
    dns: Option<DnsServer>,
    /// Bound on each node's start-up (also for restarts).
    startup_timeout: Duration,
    /// Keep the directory on drop.
    keep_dir: bool,
    /// Hands out the rogue peers' addresses.
    rogue_addresses: RogueAddresses,
    /// What rogue peers check the nodes' request signatures with, built once (see
    /// [`Testnet::rogue_verifier`]).
    rogue_verifier: OnceLock<FederationClient>,
    /// Holds configs, certificates, logs and data; `None` only during drop.
    dir: Option<TempDir>,
}

impl Testnet {
    /// A builder for a testnet whose nodes run `kezd_bin` (e.g. from [`crate::kezd_binary`]
    /// or `env!("CARGO_BIN_EXE_kezd")` in kezd's own tests).
    pub fn builder(kezd_bin: impl Into<PathBuf>) -> TestnetBuilder {
        TestnetBuilder {
            kezd_bin: kezd_bin.into(),
            nodes: Vec::new(),
            tls: true,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            keep_dir: false,
        }
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Result<&Node, TestnetError> {
        self.nodes
            .iter()
            .find(|node| node.name == name)
            .ok_or_else(|| TestnetError::UnknownNode(name.to_owned()))
    }

    /// Every node, in the order given to the builder.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// Process ids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(Node::pid).collect()
    }

    /// An HTTPS client that trusts only the testnet CA and resolves every node name and SRV
    /// target to the node's address and port, so tests use `https://a.test:<port>` with
    /// real certificate checks. Cheap to clone.
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    /// The builder behind [`Testnet::client`], to add settings (timeouts, more names).
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder, TestnetError> {
        client_builder(&self.ca, &self.nodes)
    }

    /// The DNS server, to change records at run time.
    pub fn dns(&self) -> &DnsServer {
        // Invariant: `dns` is `Some` from `start` until `shutdown` consumes the testnet.
        self.dns
            .as_ref()
            .expect("the DNS server runs while the testnet exists")
    }

    /// The CA.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// An address for a rogue peer to listen on: in the block every node allows (`listed`),
    /// or outside every node's allow-list, where SPEC §9.8 forbids connecting.
    pub fn rogue_ip(&self, listed: bool) -> Ipv4Addr {
        self.rogue_addresses.next(listed)
    }

    /// The federation client rogue peers verify the nodes' requests with (it fetches their
    /// server documents and keys). One per testnet, shared by its rogues, built on first use:
    /// building one loads the system's root certificates, about 150 files, and a suite run
    /// starts a rogue for nearly every federation case. It never signs, so its key and name
    /// are placeholders.
    pub(crate) fn rogue_verifier(&self) -> Result<FederationClient, TestnetError> {
        if let Some(verifier) = self.rogue_verifier.get() {
            return Ok(verifier.clone());
        }
        let name = ServerName::parse("rogue-verifier.test")
            .map_err(|_| TestnetError::InvalidNodeName("rogue-verifier.test".to_owned()))?;
        let verifier = FederationClient::new(
            ClientConfig {
                this_server: name,
                resolver: Some(self.dns().addr()),
                extra_roots: vec![self.ca.ca_pem_path().to_path_buf()],
                allow_private_addresses: true,
                allowed_private_addresses: Vec::new(),
                request_timeout: Duration::from_secs(10),
                user_agent: "kez-testnet-rogue".to_owned(),
            },
            Arc::new(ServerKeys::generate()),
        )
        .map_err(|e| TestnetError::Rogue(format!("verifier: {e}")))?;
        Ok(self.rogue_verifier.get_or_init(|| verifier).clone())
    }

    /// The testnet's directory (CA certificate, one subdirectory per node).
    pub fn dir(&self) -> &Path {
        // Invariant: `dir` is `Some` until drop.
        self.dir
            .as_ref()
            .map(TempDir::path)
            .expect("the directory exists while the testnet exists")
    }

    /// SIGKILL the node and reap it: a crash, no draining.
    pub async fn kill(&mut self, name: &str) -> Result<(), TestnetError> {
        self.node_mut(name)?.kill().await
    }

    /// SIGTERM the node and wait for it to exit (SIGKILL after
    /// [`crate::node::STOP_TIMEOUT`]); returns its exit status.
    pub async fn stop(&mut self, name: &str) -> Result<ExitStatus, TestnetError> {
        self.node_mut(name)?.stop().await
    }

    /// Starts the node again on the same port, config and data directory, stopping it
    /// gracefully first if it runs, and waits until it answers its health check.
    pub async fn restart(&mut self, name: &str) -> Result<(), TestnetError> {
        let kezd_bin = self.kezd_bin.clone();
        let client = self.client.clone();
        let timeout = self.startup_timeout;
        let node = self.node_mut(name)?;
        if node.is_running() {
            node.stop().await?;
        }
        node.spawn(&kezd_bin)?;
        node.wait_ready(&client, timeout).await
    }

    /// Stops every node gracefully (SIGTERM to all, then waits for each) and the DNS server.
    /// Returns the first error after trying every node.
    pub async fn shutdown(mut self) -> Result<(), TestnetError> {
        let mut first_error = None;
        for node in &mut self.nodes {
            if node.is_running()
                && let Err(e) = node.terminate()
            {
                first_error.get_or_insert(e);
            }
        }
        for node in &mut self.nodes {
            if node.is_running()
                && let Err(e) = node.wait_stopped().await
            {
                first_error.get_or_insert(e);
            }
        }
        if let Some(dns) = self.dns.take() {
            dns.shutdown().await;
        }
        first_error.map_or(Ok(()), Err)
    }

    fn node_mut(&mut self, name: &str) -> Result<&mut Node, TestnetError> {
        self.nodes
            .iter_mut()
            .find(|node| node.name == name)
            .ok_or_else(|| TestnetError::UnknownNode(name.to_owned()))
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        // Also runs while a failing test unwinds: no kezd may outlive the test binary.
        for node in &mut self.nodes {
            node.kill_blocking();
        }
        if self.keep_dir
            && let Some(dir) = self.dir.take()
        {
            let path = dir.keep();
            eprintln!("kez-testnet: kept {}", path.display());
        }
    }
}

/// Who a node is and where it listens.
struct Host<'a> {
    name: &'a str,
    ip: Ipv4Addr,
    port: u16,
}

/// Writes a node's directory, certificate and config; the process is not started. `allowed`
/// is every node's `allowed_private_addresses`.
fn prepare_node(
    root: &Path,
    ca: &TestCa,
    dns: &DnsServer,
    host: Host<'_>,
    options: &NodeOptions,
    allowed: &[String],
    tls: bool,
) -> Result<Node, TestnetError> {
    let Host { name, ip, port } = host;
    let dir = root.join(name);
    let data_dir = dir.join("data");
    fs::create_dir_all(&data_dir)
        .map_err(|e| TestnetError::io(format!("creating {}", data_dir.display()), e))?;
    let srv_target = format!("node-{name}");
    let cert_name = if options.cert_for_srv_target_only {
        srv_target.clone()
    } else {
        name.to_owned()
    };
    let cert_files = if tls {
        Some(ca.write_leaf(&[&cert_name], &dir, "tls")?)
    } else {
        None
    };

    let scheme = if tls { "https" } else { "http" };
    let mut config = toml::Table::new();
    config.insert("bind".into(), format!("{ip}:{port}").into());
    config.insert("server_name".into(), name.into());
    config.insert(
        "public_base_url".into(),
        format!("{scheme}://{name}:{port}").into(),
    );
    config.insert("data_dir".into(), path_value(&data_dir));
    if let Some(files) = &cert_files {
        let mut table = toml::Table::new();
        table.insert("cert".into(), path_value(&files.cert));
        table.insert("key".into(), path_value(&files.key));
        config.insert("tls".into(), table.into());
    }
    // The keys of federation-plan.md; a kezd without federation warns about them and goes on.
    let mut federation = toml::Table::new();
    federation.insert("resolver".into(), dns.addr().to_string().into());
    federation.insert(
        "extra_roots".into(),
        toml::Value::Array(vec![path_value(ca.ca_pem_path())]),
    );
    // Exactly the testnet's own hosts: SPEC §9.8's guard stays on for every other address.
    federation.insert(
        "allowed_private_addresses".into(),
        toml::Value::Array(allowed.iter().map(|a| a.as_str().into()).collect()),
    );
    config.insert("federation".into(), federation.into());
    // A test network's users register without invitations; a node that tests the other
    // policies sets its own in `extra_config`.
    let mut registration = toml::Table::new();
    registration.insert("policy".into(), "open".into());
    config.insert("registration".into(), registration.into());

    for document in &options.extra_config {
        let extra: toml::Table =
            document
                .parse()
                .map_err(|e: toml::de::Error| TestnetError::ExtraConfig {
                    node: name.to_owned(),
                    reason: e.to_string(),
                })?;
        merge(&mut config, extra);
    }
    let config_path = dir.join("kezd.toml");
    let text = format!(
        "# Written by kez-testnet for node {name}.\n{}",
        toml::to_string(&config).map_err(|e| TestnetError::ExtraConfig {
            node: name.to_owned(),
            reason: e.to_string(),
        })?
    );
    fs::write(&config_path, text)
        .map_err(|e| TestnetError::io(format!("writing {}", config_path.display()), e))?;

    Ok(Node {
        name: name.to_owned(),
        srv_target,
        ip,
        port,
        tls,
        cert_name,
        log_path: dir.join("kezd.log"),
        dir,
        data_dir,
        config_path,
        cert_files,
        child: None,
        starts: 0,
    })
}

/// Deep merge: tables merge key by key, any other value of `extra` replaces the base value.
fn merge(base: &mut toml::Table, extra: toml::Table) {
    for (key, value) in extra {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(extra_table)) => {
                merge(base_table, extra_table);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn path_value(path: &Path) -> toml::Value {
    path.display().to_string().into()
}

fn client_builder(ca: &TestCa, nodes: &[Node]) -> Result<reqwest::ClientBuilder, TestnetError> {
    crate::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        // A developer's HTTPS_PROXY must not capture loopback test traffic.
        .no_proxy()
        .tls_certs_only([ca.reqwest_certificate()?])
        .connect_timeout(Duration::from_secs(5));
    for node in nodes {
        builder = builder
            .resolve(&node.name, node.addr())
            .resolve(&node.srv_target, node.addr());
    }
    Ok(builder)
}

fn build_client(ca: &TestCa, nodes: &[Node]) -> Result<reqwest::Client, TestnetError> {
    Ok(client_builder(ca, nodes)?.build()?)
}

/// A free port of each address. The listeners are held until all are picked, then released
/// for kezd to bind. Another process could take one in between; the health check (which
/// compares the server name) would catch it.
fn free_ports(ips: &[Ipv4Addr]) -> Result<Vec<u16>, TestnetError> {
    let listeners = ips
        .iter()
        .map(|ip| TcpListener::bind(SocketAddr::from((*ip, 0))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TestnetError::io("picking a free port on a loopback address", e))?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|addr| addr.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TestnetError::io("reading a picked port", e))
}

/// A lowercase DNS name of at least two labels ending in `.test`: what the zone serves and
/// what kezd accepts as a server name.
fn is_test_name(name: &str) -> bool {
    let Some(prefix) = name.strip_suffix(".test") else {
        return false;
    };
    !prefix.is_empty()
        && name.len() <= 253
        && prefix.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_must_be_lowercase_names_under_test() {
        assert!(is_test_name("a.test"));
        assert!(is_test_name("node-1.b.test"));
        for bad in [
            "test",
            ".test",
            "A.test",
            "a.example",
            "a..test",
            "-a.test",
            "a b.test",
        ] {
            assert!(!is_test_name(bad), "{bad}");
        }
    }

    #[test]
    fn extra_config_merges_tables_and_overrides_values() {
        let mut base: toml::Table = "bind = \"x\"\n[federation]\nresolver = \"r\"\n"
            .parse()
            .expect("base");
        let extra: toml::Table =
            "bind = \"y\"\n[federation]\nblock = [\"c.test\"]\n[rate]\nsender_per_minute = 5\n"
                .parse()
                .expect("extra");
        merge(&mut base, extra);
        assert_eq!(base["bind"].as_str(), Some("y"));
        assert_eq!(base["federation"]["resolver"].as_str(), Some("r"));
        assert_eq!(base["federation"]["block"][0].as_str(), Some("c.test"));
        assert_eq!(base["rate"]["sender_per_minute"].as_integer(), Some(5));
    }
}
