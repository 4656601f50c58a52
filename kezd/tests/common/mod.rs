//! Helpers shared by the server tests: a real daemon on 127.0.0.1:0 with a real SQLite store in
//! a temporary directory, and raw HTTP/1.1 over a TcpStream for the cases a client library
//! would hide (partial heads, unfinished bodies, `..` in paths).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod kez;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kezd::broker::LocalBroker;
use kezd::config::{Config, RawConfig};
use kezd::router::Router;
use kezd::server::ServeError;
use kezd::state::AppState;
use kezd::store::{SqliteOptions, SqliteStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A validated config: the defaults with `edit` applied.
pub fn config(edit: impl FnOnce(&mut RawConfig)) -> Config {
    let mut raw = RawConfig::default();
    edit(&mut raw);
    Config::from_raw(raw).expect("test config is valid")
}

/// A daemon serving on an ephemeral port.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state, to look at metrics or the shutdown signal.
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    /// The store's directory, removed when the server is dropped.
    _data: tempfile::TempDir,
}

impl TestServer {
    /// Starts a daemon with the standard routes.
    pub async fn start(config: Config) -> Self {
        Self::start_with(config, |router| router).await
    }

    /// Starts a daemon whose routes are the standard ones plus what `extend` adds.
    pub async fn start_with(config: Config, extend: impl FnOnce(Router) -> Router) -> Self {
        Self::start_in(config, extend, tempfile::tempdir().expect("temp dir")).await
    }

    /// Stops the daemon, then starts a new one with the same config on the same store (on a new
    /// port): what the new one knows is what the store kept.
    pub async fn restart(self) -> Self {
        let config = self.state.config().clone();
        self.restart_with(config).await
    }

    /// Stops the daemon, then starts a new one with `config` on the same store (on a new
    /// port): what an operator's changed configuration does to what is stored.
    pub async fn restart_with(mut self, config: Config) -> Self {
        self.signal_stop();
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task did not panic")
            .expect("serve ends cleanly");
        self.state.store().close().await;
        Self::start_in(config, |router| router, self._data).await
    }

    /// Starts a daemon whose store lives in `data`.
    async fn start_in(
        config: Config,
        extend: impl FnOnce(Router) -> Router,
        data: tempfile::TempDir,
    ) -> Self {
        let store = SqliteStore::open(SqliteOptions::new(data.path().join("kezd.db")))
            .await
            .expect("open store");
        Self::start_on(config, extend, Arc::new(store), data).await
    }

    /// Starts a daemon with the standard routes on `store` (a PostgreSQL store, say).
    pub async fn start_with_store(config: Config, store: Arc<dyn Store>) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        Self::start_on(config, |router| router, store, data).await
    }

    async fn start_on(
        config: Config,
        extend: impl FnOnce(Router) -> Router,
        store: Arc<dyn Store>,
        data: tempfile::TempDir,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let router = extend(kezd::handlers::routes(&config));
        let state =
            AppState::new(config, store, Arc::new(LocalBroker::new()), None).expect("state");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(kezd::serve(listener, state.clone(), router, async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            state,
            stop: Some(stop),
            task,
            _data: data,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.signal_stop();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task did not panic")
    }

    /// Waits for `serve` to return after [`signal_stop`](Self::signal_stop).
    pub async fn join(self, within: Duration) -> Result<(), ServeError> {
        tokio::time::timeout(within, self.task)
            .await
            .expect("serve returns in time")
            .expect("serve task did not panic")
    }
}

/// A reqwest client for plain HTTP that ignores any proxy settings of the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The head, status line and headers, as text.
    pub head: String,
    /// The body (by Content-Length).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (head, then a Content-Length body) from `stream`.
pub async fn read_response(stream: &mut TcpStream) -> std::io::Result<RawResponse> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut response = RawResponse {
        status,
        head,
        body: buffer[head_end..].to_vec(),
    };
    let length: usize = response
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while response.body.len() < length {
        let mut chunk = vec![0u8; length - response.body.len()];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        response.body.extend_from_slice(&chunk[..n]);
    }
    Ok(response)
}

/// Sends `request` on a new connection and reads one response.
pub async fn raw_exchange(addr: SocketAddr, request: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    tokio::time::timeout(Duration::from_secs(5), read_response(&mut stream))
        .await
        .expect("response in time")
        .expect("response")
}

/// The JSON body of a reqwest response.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("JSON body")
}

/// A TLS connection to `addr` as `localhost`, trusting exactly the PEM certificates in
/// `trusted` (verification on), offering the ALPN protocols in `offer`.
pub async fn tls_connect(
    addr: SocketAddr,
    trusted: &[&str],
    offer: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for pem in trusted {
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).expect("der");
        roots.add(der).expect("root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = offer.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}
