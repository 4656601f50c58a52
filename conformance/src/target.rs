//! The servers under test as the runner sees them: existing deployments (`--server URL`) or
//! the nodes of a local testnet (`spawn.rs`), each connected or with the reason it cannot be.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::server::Server;

/// One server under test as the runner sees it.
#[derive(Debug, Clone)]
pub struct Target {
    /// How it was named (URL or node name).
    pub label: String,
    /// The connected server, or why it cannot be tested.
    pub server: Result<Arc<Server>, String>,
}

/// An HTTP client for external servers: the system's roots, plus `extra_ca` (PEM) if given.
pub fn external_client(extra_ca: Option<&Path>) -> Result<reqwest::Client, String> {
    kez_testnet::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kez-conformance/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", path.display()))?;
        builder = builder.tls_certs_merge([cert]);
    }
    builder
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

/// Connects to each URL (in parallel); unreachable servers become targets whose cases fail.
pub async fn connect_all(urls: &[String], http: reqwest::Client, timeout: Duration) -> Vec<Target> {
    let connects = urls.iter().map(|url| {
        let http = http.clone();
        async move {
            Target {
                label: url.clone(),
                server: Server::connect(url, http, timeout)
                    .await
                    .map(Arc::new)
                    .map_err(|e| format!("cannot test {url}: {e}")),
            }
        }
    });
    futures_util::future::join_all(connects).await
}
