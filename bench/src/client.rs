//! The bench's KEZ client: identities, registrations, pre-built signed envelopes, stream and
//! poll credentials — every signed object built by kez-spec, the code real clients use — and
//! the endpoint a scenario talks to (plain HTTP to a kezd the bench started, or the testnet's
//! HTTPS). Everything signed here is made before a scenario's clock starts.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use kez_spec::api::inbox::InboxPage;
use kez_spec::api::send::SendRequest;
use kez_spec::auth::AuthRequest;
use kez_spec::envelope::{Envelope, SignedEnvelope};
use kez_spec::registration::Registration;
use kez_spec::{Address, Handle, Primary, ServerName, SigningKey};
use rand_core::{OsRng, RngCore};
use serde_json::Value;

use crate::http::{self, ByteStream};

/// How many registrations, polls or stream opens run at once during setup.
pub const SETUP_CONCURRENCY: usize = 32;

/// Plaintext size of every message: the ~500-byte messages the performance targets name.
pub const PLAINTEXT_BYTES: usize = 500;

pub use kez_spec::clock::now_ms;

/// Where a scenario sends requests: a base URL with a client for setup, and, for plain HTTP,
/// the socket address the hot path connects to directly.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `http://127.0.0.1:<port>` or `https://a.test:<port>`.
    pub base: String,
    /// For setup requests (registrations, polls) and for TLS streams and sends.
    pub client: reqwest::Client,
    /// Set for plain HTTP: the address and Host for raw connections.
    pub plain: Option<(SocketAddr, String)>,
}

impl Endpoint {
    /// A kezd the bench started, over plain HTTP.
    pub fn plain(addr: SocketAddr, host: &str) -> Result<Endpoint> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            // Before kezd's `http.header_read_timeout_ms` (10 s) closes an idle keep-alive
            // connection: reusing one at the moment kezd closes it fails the request
            // ("connection closed before message completed"), seen once in a verification poll.
            .pool_idle_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Endpoint {
            base: format!("http://{addr}"),
            client,
            plain: Some((addr, host.to_owned())),
        })
    }

    /// A testnet node, over HTTPS with the testnet's CA and names.
    pub fn https(base: String, client: reqwest::Client) -> Endpoint {
        Endpoint {
            base,
            client,
            plain: None,
        }
    }

    /// `POST path` with a JSON body; status and answer.
    pub async fn post(&self, path: &str, body: Bytes) -> Result<(u16, Bytes)> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        Ok((r.status().as_u16(), r.bytes().await?))
    }

    /// Opens an event stream at `path_and_query`.
    pub async fn stream(&self, path_and_query: &str) -> Result<ByteStream> {
        match &self.plain {
            Some((addr, host)) => http::open_stream(*addr, host, path_and_query).await,
            None => {
                http::open_stream_reqwest(&self.client, &format!("{}{path_and_query}", self.base))
                    .await
            }
        }
    }
}

/// A KEZ user: a handle on a server and the key of its primary.
#[derive(Debug, Clone)]
pub struct Ident {
    /// The primary's secret key (random per run, so runs never collide).
    pub key: SigningKey,
    /// `handle@server`.
    pub address: Address,
}

impl Ident {
    /// A fresh identity `<prefix><n>@server`.
    pub fn new(prefix: &str, n: usize, server: &str) -> Result<Ident> {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let handle = Handle::parse(&format!("{prefix}{n}"))?;
        let server = ServerName::parse(server)?;
        Ok(Ident {
            key: SigningKey::from_bytes(&seed),
            address: Address::new(handle, server),
        })
    }

    /// `count` identities `<prefix>0..` on `server`.
    pub fn many(prefix: &str, count: usize, server: &str) -> Result<Vec<Ident>> {
        (0..count).map(|n| Ident::new(prefix, n, server)).collect()
    }

    /// The handle.
    pub fn handle(&self) -> &Handle {
        self.address.handle()
    }

    /// The primary (SPEC §2.3).
    pub fn primary(&self) -> Primary {
        Primary::from(&self.key)
    }

    /// The signed registration (SPEC §4.1), timestamped now.
    pub fn registration(&self) -> Value {
        Registration {
            handle: self.handle().clone(),
            server: self.address.server().clone(),
            primary: self.primary(),
            ts_ms: now_ms(),
        }
        .sign(&self.key)
    }

    /// The path and query of this inbox's stream (SPEC §7.3 / §7.4), signed now.
    pub fn stream_path(&self, since: Option<u64>) -> String {
        let ts = now_ms() / 1000;
        let handle = self.handle();
        match since {
            None => {
                let cred = AuthRequest::StreamLive { handle }.sign(&self.key, ts);
                format!("/v1/inbox/{handle}/stream?auth={cred}")
            }
            Some(since) => {
                let cred = AuthRequest::StreamCursor { handle, since }.sign(&self.key, ts);
                format!("/v1/inbox/{handle}/stream?since={since}&auth={cred}")
            }
        }
    }
}

/// Registers every identity through `endpoint`, [`SETUP_CONCURRENCY`] at a time.
pub async fn register_all(endpoint: &Endpoint, idents: &[Ident]) -> Result<()> {
    stream::iter(idents)
        .map(|ident| async move {
            let body = serde_json::to_vec(&ident.registration())?;
            let (status, answer) = endpoint.post("/v1/register", body.into()).await?;
            if status != 201 {
                bail!(
                    "registering {} answered {status}: {}",
                    ident.address,
                    String::from_utf8_lossy(&answer)
                );
            }
            Ok(())
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// One message of the load, built and signed before the clock starts.
#[derive(Debug, Clone)]
pub struct Msg {
    /// Index of the sender in the scenario's sender list.
    pub sender: usize,
    /// Index of the recipient in the scenario's recipient list.
    pub recipient: usize,
    /// The message id (SPEC §6.4), as the server will report it.
    pub id: String,
    /// The complete `POST /v1/messages` body.
    pub body: Bytes,
}

/// Builds `count` messages; message `j` goes from sender `j % senders.len()` to recipient
/// `j % recipients.len()`. Sealing and signing take ~100 µs per message, so the work is
/// spread over every core (this happens before any clock starts).
pub fn build_messages(senders: &[Ident], recipients: &[Ident], count: usize) -> Result<Vec<Msg>> {
    if senders.is_empty() || recipients.is_empty() {
        bail!("need at least one sender and one recipient");
    }
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2);
    let chunk = count.div_ceil(threads).max(1);
    let ranges: Vec<(usize, usize)> = (0..count)
        .step_by(chunk)
        .map(|start| (start, (start + chunk).min(count)))
        .collect();
    let parts: Vec<Result<Vec<Msg>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ranges
            .iter()
            .map(|&(start, end)| {
                scope.spawn(move || {
                    (start..end)
                        .map(|j| {
                            build_one(
                                senders,
                                recipients,
                                j % senders.len(),
                                j % recipients.len(),
                                j,
                            )
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("builder thread panicked")))
            })
            .collect()
    });
    let mut messages = Vec::with_capacity(count);
    for part in parts {
        messages.extend(part?);
    }
    Ok(messages)
}

/// Seals a ~500-byte plaintext to the recipient, signs the envelope as the sender, and
/// computes the id the server will assign, by parsing it as a server would.
fn build_one(
    senders: &[Ident],
    recipients: &[Ident],
    sender: usize,
    recipient: usize,
    n: usize,
) -> Result<Msg> {
    let from = &senders[sender];
    let to = &recipients[recipient];
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let mut text = format!("kez-bench message {n} ");
    while text.len() < PLAINTEXT_BYTES - 12 {
        text.push_str("lorem ipsum ");
    }
    let plaintext = kez_spec::plaintext::Plaintext::bytes(&text);
    let envelope = Envelope::seal(
        &from.key,
        from.address.clone(),
        to.address.clone(),
        &to.primary(),
        now_ms(),
        nonce,
        &plaintext,
    )?
    .sign(&from.key);
    let id = SignedEnvelope::parse(envelope.to_string().as_bytes())
        .context("own envelope parses")?
        .id
        .to_string();
    let body = serde_json::to_vec(&SendRequest {
        to: to.address.to_string(),
        envelope,
    })?;
    Ok(Msg {
        sender,
        recipient,
        id,
        body: body.into(),
    })
}

/// How many 429 answers one inbox's poll waits out before it fails.
const MAX_POLL_REFUSALS: u32 = 10;

/// Every message id in `ident`'s inbox, in seq order, page by page (SPEC §8.2), with seqs.
pub async fn poll_all(endpoint: &Endpoint, ident: &Ident) -> Result<Vec<(u64, String)>> {
    let mut since = 0u64;
    let mut refusals = 0;
    let mut items = Vec::new();
    loop {
        let handle = ident.handle();
        let cred = AuthRequest::Poll { handle, since }.sign(&ident.key, now_ms() / 1000);
        let response = endpoint
            .client
            .get(format!(
                "{}/v1/inbox/{handle}?since={since}&limit=500",
                endpoint.base
            ))
            .header("x-kez-auth", cred.to_string())
            .send()
            .await?;
        let status = response.status();
        if status == 429 && refusals < MAX_POLL_REFUSALS {
            // Refused for a limit: asked again once its Retry-After has passed, as a client
            // would. Every refusal is counted, so that a run that meets them says so.
            refusals += 1;
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1);
            let body = response.text().await.unwrap_or_default();
            eprintln!("kez-bench: polling {handle} answered 429 ({body}); again in {wait} s");
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 10))).await;
            continue;
        }
        if status != 200 {
            bail!("polling {handle} answered {status}");
        }
        let bytes = response.bytes().await?;
        let page: InboxPage<'_> = serde_json::from_slice(&bytes).context("an inbox page")?;
        if page.messages.is_empty() {
            return Ok(items);
        }
        for m in &page.messages {
            items.push((m.seq, m.id.clone().into_owned()));
        }
        let next = page.next_since;
        if next <= since {
            // A server that does not advance the cursor would otherwise be polled forever.
            bail!("polling {handle}: next_since {next} does not advance past {since}");
        }
        since = next;
    }
}
