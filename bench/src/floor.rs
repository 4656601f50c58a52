//! The floor server: the least work any KEZ server must do to accept a send, and nothing
//! else, so `kez-bench floor` can measure what this machine allows before storage exists.
//!
//! Why: the send target is a rate on one particular machine, and machines differ (the same
//! kezd binary has measured three times faster on one day's machine than on another's). A
//! server that takes a `POST /v1/messages` over HTTP/1.1, parses the body, decodes the
//! envelope (a sender's primary decoded once, as kezd caches it) and checks its signature
//! with `verify_strict` — then answers 201 without storing, fsyncing or streaming anything —
//! does strictly less than SPEC §8.1 requires. Its rate on the same cores, under the same
//! load, bounds any conforming server's rate from above, and kezd's rate as a share of it says
//! how much of the machine kezd's storage and delivery cost.
//!
//! It runs in a process of its own (`kez-bench floor-serve`), so its CPU is read from /proc
//! exactly as kezd's is, and like kezd it uses mimalloc and tokio's multi-threaded runtime.

use std::cell::Cell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kez_spec::Primary;
use kez_spec::api::error_body::ErrorBody;
use kez_spec::api::send::{SendAnswer, SendRequest, SendStatus};
use kez_spec::envelope::SignedEnvelope;
use tokio::net::TcpListener;

/// What the floor server keeps between requests.
#[derive(Default)]
struct Floor {
    /// The seq of the last answer (a counter, not storage).
    seq: AtomicU64,
    /// Senders' primaries already decoded, by text (what kezd's user cache holds).
    primaries: RwLock<HashMap<String, Primary>>,
}

/// Serves on 127.0.0.1:`port` until the process is killed.
pub async fn serve(port: u16) -> Result<()> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let floor = Arc::new(Floor::default());
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let floor = floor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<Incoming>| {
                let floor = floor.clone();
                async move { Ok::<_, Infallible>(floor.answer(request).await) }
            });
            // A connection ends when the load generator closes it.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

impl Floor {
    /// 201 for an envelope whose signature verifies, 400 with the reason for anything else.
    async fn answer(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (status, body) = match request.into_body().collect().await {
            Ok(collected) => match self.accept(&collected.to_bytes()) {
                Ok(id) => {
                    let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
                    let answer = SendAnswer {
                        id,
                        seq: Some(seq),
                        status: SendStatus::Stored,
                        duplicate: None,
                    };
                    (201, serde_json::to_vec(&answer))
                }
                Err(reason) => (400, refusal(reason)),
            },
            Err(e) => (400, refusal(e.to_string())),
        };
        // Two strings and a number always serialise.
        let body = body.unwrap_or_default();
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }

    /// Parses and verifies one `POST /v1/messages` body; the message id.
    fn accept(&self, body: &[u8]) -> Result<String, String> {
        let SendRequest { envelope, .. } = SendRequest::parse(body).map_err(|e| e.to_string())?;
        let decoded = Cell::new(false);
        let envelope = SignedEnvelope::from_map_with_known(envelope, |text| {
            let known = self
                .primaries
                .read()
                .ok()
                .and_then(|cache| cache.get(text).copied());
            decoded.set(known.is_none());
            known
        })
        .map_err(|e| e.to_string())?;
        envelope.verify().map_err(|e| e.to_string())?;
        if decoded.get()
            && let Ok(mut cache) = self.primaries.write()
        {
            let primary = envelope.envelope.from_primary;
            cache.insert(primary.to_string(), primary);
        }
        Ok(envelope.id.to_string())
    }
}

/// The SPEC §10 body of a refused send, with the reason as its message.
fn refusal(reason: String) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&ErrorBody {
        error: "malformed_request".into(),
        message: reason,
    })
}
