//! A generated CA and real HTTPS servers (hyper + tokio-rustls) on 127.0.0.1 that record
//! every request and answer with a handler the test supplies.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A test certificate authority; its PEM is written to a file for `extra_roots`.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate as a PEM file.
    pub pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Ca {
    /// A fresh CA.
    pub fn new() -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, "KEZ federation test CA");
        let cert = params.self_signed(&key).expect("CA certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let pem_file = dir.path().join("ca.pem");
        std::fs::write(&pem_file, cert.pem()).expect("write CA");
        Ca {
            issuer: Issuer::new(params, key),
            pem_file,
            _dir: dir,
        }
    }

    /// A certificate for exactly `names`, signed by this CA.
    pub fn issue(&self, names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).expect("leaf params");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The request target as sent (path and query).
    pub path_and_query: String,
    /// All headers (`host` included for HTTP/1.1; HTTP/2's `:authority` is in `authority`).
    pub headers: HeaderMap,
    /// The authority the client named (Host header or HTTP/2 `:authority`).
    pub authority: String,
    /// The body bytes.
    pub body: Bytes,
}

/// A reply header that makes the server stream the body in 8 KiB chunks without a
/// `Content-Length`, so a client's cap must act while reading.
pub const STREAM: &str = "x-test-stream";

/// What the handler returns: status, extra headers, body.
pub type Reply = (StatusCode, Vec<(&'static str, String)>, Vec<u8>);

/// The request handler of a test server.
pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A running HTTPS server; dropping it stops accepting.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every request received, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// The requests received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

/// Starts an HTTPS server on 127.0.0.1:0 with a certificate for `cert_names`.
pub async fn serve(ca: &Ca, cert_names: &[&str], handler: Handler) -> TestServer {
    super::install_crypto_provider();
    let (certs, key) = ca.issue(cert_names);
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server TLS config");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, handler, log) = (acceptor.clone(), handler.clone(), log.clone());
            tokio::spawn(async move {
                // A client that rejects our certificate fails the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req: Request<Incoming>| {
                    let (handler, log) = (handler.clone(), log.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let authority = parts
                            .uri
                            .authority()
                            .map(|a| a.to_string())
                            .or_else(|| {
                                parts
                                    .headers
                                    .get("host")
                                    .and_then(|h| h.to_str().ok())
                                    .map(str::to_owned)
                            })
                            .unwrap_or_default();
                        let seen = Seen {
                            method: parts.method.to_string(),
                            path_and_query: parts
                                .uri
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            headers: parts.headers,
                            authority,
                            body,
                        };
                        let (status, headers, body) = handler(&seen);
                        log.lock().expect("lock").push(seen);
                        let mut resp = Response::builder().status(status);
                        let mut stream = false;
                        for (k, v) in headers {
                            if k == STREAM {
                                stream = true;
                            } else {
                                resp = resp.header(k, v);
                            }
                        }
                        let body = if stream {
                            let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = body
                                .chunks(8192)
                                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                                .collect();
                            Either::Right(StreamBody::new(futures_util::stream::iter(chunks)))
                        } else {
                            Either::Left(Full::new(Bytes::from(body)))
                        };
                        Ok::<_, std::convert::Infallible>(resp.body(body).expect("response"))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    TestServer { addr, seen, task }
}

/// A JSON reply.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    (
        status,
        vec![("content-type", "application/json".to_owned())],
        serde_json::to_vec(value).expect("json"),
    )
}
