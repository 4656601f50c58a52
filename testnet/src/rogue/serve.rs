//! The rogue's HTTPS side (hyper + tokio-rustls on 127.0.0.1): its server document, WebFinger
//! and handle records for its users, and the transaction endpoint, which records every request
//! and answers as the scripted [`Behaviour`] says.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kez_spec::s2s::{RequestParts, ServerAuth};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::send::message_id;
use super::{Behaviour, DocumentKeys, Shared, lock};
use crate::ca::IssuedCert;
use crate::error::TestnetError;
use kez_spec::clock::now_ms;
use kez_spec::server_document::{Published, ServerDocument};

/// Largest transaction body read (SPEC §9.4's default `max_txn_bytes`).
const MAX_TXN_BYTES: usize = 8 * 1024 * 1024;

/// One `PUT /v1/federation/txn/{id}` as the rogue saw and answered it.
#[derive(Debug, Clone)]
pub struct ReceivedTxn {
    /// The transaction id from the path.
    pub txn_id: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// The header checked as SPEC §9.3 says a receiver must (destination, window, the
    /// origin's published key, signature): the parsed header, or the error code. The rogue
    /// answers whatever the verdict; tests decide what it means.
    pub auth: Result<ServerAuth, String>,
    /// The body, parsed (`Value::Null` when it is not JSON).
    pub body: Value,
    /// The status the rogue answered.
    pub status: u16,
    /// When the request arrived.
    pub received_at: Instant,
    /// When the answer was ready to go out (after any [`Behaviour::Slow`] delay).
    pub answered_at: Instant,
}

/// A TLS acceptor for the rogue's certificate, offering h2 and HTTP/1.1 like kezd.
pub(super) fn acceptor(cert: &IssuedCert) -> Result<TlsAcceptor, TestnetError> {
    let bad = |what: String| TestnetError::Rogue(format!("certificate: {what}"));
    let certs = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until the task is aborted.
pub(super) async fn run(listener: TcpListener, acceptor: TlsAcceptor, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        shared.traffic.connection();
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            // A client that refuses the certificate ends the handshake: nothing to serve.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(&shared, request).await) }
            });
            // A connection error is the peer's business; the rogue just serves the next one.
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: &Value, headers: &[(&str, String)]) -> Answer {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        // Invariant: the status and header names above are valid constants.
        .expect("a valid response")
}

fn error(status: StatusCode, code: &str) -> Answer {
    answer(status, &json!({"error": code, "message": code}), &[])
}

async fn route(shared: &Shared, request: Request<Incoming>) -> Answer {
    shared.traffic.request(request.uri().path());
    let request = if shared.redirects {
        match super::hostile::redirect(&shared.traffic, request) {
            Ok(request) => request,
            Err(location) => {
                return answer(
                    StatusCode::TEMPORARY_REDIRECT,
                    &json!({}),
                    &[("location", location)],
                );
            }
        }
    } else {
        request
    };
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    match (request.method(), path.as_str()) {
        (&Method::GET, "/.well-known/kez") => answer(StatusCode::OK, &document(shared), &[]),
        (&Method::GET, p)
            if (p == "/.well-known/webfinger" || p.starts_with("/v1/u/"))
                && shared.lookups_down.load(Ordering::SeqCst) =>
        {
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        (&Method::GET, "/.well-known/webfinger") => {
            let _in_flight = shared.lookups.enter(resource_handle(&query)).await;
            webfinger(shared, &query)
        }
        (&Method::GET, "/v1/healthz") => answer(
            StatusCode::OK,
            &json!({"server": shared.name.as_str(), "status": "ok", "version": "kez-testnet-rogue"}),
            &[],
        ),
        (&Method::GET, p) if p.starts_with("/v1/u/") => record(shared, &p["/v1/u/".len()..]),
        (&Method::PUT, p) if p.starts_with("/v1/federation/txn/") => txn(shared, request).await,
        _ => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

/// The signed server document (SPEC §9.2), patched for [`DocumentKeys::Expired`].
pub(super) fn document(shared: &Shared) -> Value {
    let keys = shared
        .keys
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let keys = &keys.current;
    let now = now_ms();
    let limits = json!({"max_txn_envelopes": 100, "max_txn_bytes": MAX_TXN_BYTES});
    let old = keys
        .old_verify_keys(now)
        .map(|k| (&k.id, k.key, k.expired_at_ms));
    let signed = ServerDocument::sign(
        keys.signing_key(),
        keys.key_id(),
        old,
        &shared.name,
        &Published::new("kez-testnet-rogue", &limits),
        now,
    )
    // Signing a JSON object cannot fail; if it did, a string is a document every peer refuses.
    .unwrap_or_else(|e| Value::String(e.to_string()));
    let signed = match &shared.flaw {
        Some(flaw) => super::hostile::spoil(signed, flaw, keys.signing_key()),
        None => signed,
    };
    match shared.document {
        DocumentKeys::Current => signed,
        DocumentKeys::Expired => {
            let Value::Object(mut body) = signed else {
                return signed;
            };
            if let Some(entry) = body
                .get_mut("verify_keys")
                .and_then(|k| k.get_mut(keys.key_id().as_str()))
                .and_then(Value::as_object_mut)
            {
                entry.insert("valid_until".into(), now.saturating_sub(3_600_000).into());
            }
            kez_spec::signed::sign(body, keys.signing_key(), Some(keys.key_id().clone()))
        }
    }
}

/// The `acct:<handle>@<name>` of a WebFinger query, if it is one.
fn resource(query: &str) -> Option<(&str, &str)> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("resource="))?
        .strip_prefix("acct:")?
        .split_once('@')
}

/// The handle a WebFinger query asks about (empty when it names none).
fn resource_handle(query: &str) -> &str {
    resource(query).map_or("", |(handle, _)| handle)
}

/// `GET /.well-known/webfinger?resource=acct:<handle>@<name>` (SPEC §4.4).
fn webfinger(shared: &Shared, query: &str) -> Answer {
    let Some((handle, server)) = resource(query) else {
        return error(StatusCode::BAD_REQUEST, "malformed_request");
    };
    let users = lock(&shared.users);
    let user = match users.get(handle) {
        Some(user) if server == shared.name.as_str() => user,
        _ => return error(StatusCode::NOT_FOUND, "unknown_handle"),
    };
    let href = format!("https://{}/v1/u/{handle}", shared.name);
    let primary = kez_spec::Primary::from(&user.key).to_string();
    let jrd = json!({
        "subject": format!("acct:{handle}@{}", shared.name),
        "aliases": [href],
        "links": [{"rel": "self", "type": "application/json", "href": href}],
        "properties": {
            "https://kez.lat/ns/primary": primary,
            "https://kez.lat/ns/server": shared.name.as_str(),
        },
    });
    answer(
        StatusCode::OK,
        &jrd,
        &[("access-control-allow-origin", "*".into())],
    )
}

/// `GET /v1/u/{handle}` (SPEC §4.2).
fn record(shared: &Shared, handle: &str) -> Answer {
    let users = lock(&shared.users);
    let Some(user) = users.get(handle) else {
        return error(StatusCode::NOT_FOUND, "unknown_handle");
    };
    let record = json!({
        "handle": handle,
        "server": shared.name.as_str(),
        "address": format!("{handle}@{}", shared.name),
        "primary": kez_spec::Primary::from(&user.key).to_string(),
        "registered_at": user.registered_at_ms,
        "registration": user.registration,
    });
    answer(StatusCode::OK, &record, &[])
}

/// `PUT /v1/federation/txn/{id}`: record, check the header, answer as scripted.
async fn txn(shared: &Shared, request: Request<Incoming>) -> Answer {
    let received_at = Instant::now();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |pq| pq.as_str().to_owned());
    let txn_id = request.uri().path()["/v1/federation/txn/".len()..].to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = match Limited::new(request.into_body(), MAX_TXN_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    };
    let auth = check_auth(shared, authorization.as_deref(), &path_and_query, &bytes).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);

    let behaviour = {
        let mut guard = lock(&shared.behaviour);
        let default = guard.1.clone();
        guard.0.pop_front().unwrap_or(default)
    };
    let response = match behaviour {
        Behaviour::Fail {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match status.as_u16() {
                429 => "rate_limited",
                503 => "unavailable",
                _ => "internal",
            };
            let headers: Vec<(&str, String)> = retry_after
                .map(|secs| ("retry-after", secs.to_string()))
                .into_iter()
                .collect();
            answer(status, &json!({"error": code, "message": code}), &headers)
        }
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            results(shared, &body, usize::MAX, 0)
        }
        Behaviour::Held => {
            let (release, holding) = &shared.held_txns;
            let mut released = release.subscribe();
            holding.fetch_add(1, Ordering::SeqCst);
            // The sender is gone only when the rogue is dropped, which ends this task too.
            let _ = released.wait_for(|released| *released).await;
            holding.fetch_sub(1, Ordering::SeqCst);
            results(shared, &body, usize::MAX, 0)
        }
        Behaviour::Accept => results(shared, &body, usize::MAX, 0),
        Behaviour::Defer {
            accept_first,
            retry_after,
        } => results(shared, &body, accept_first, retry_after),
    };
    lock(&shared.received).push(ReceivedTxn {
        txn_id,
        authorization,
        auth,
        body,
        status: response.status().as_u16(),
        received_at,
        answered_at: Instant::now(),
    });
    response
}

/// 200 with one result per envelope: the first `accept` accepted (or `duplicate`), the rest
/// deferred. 400 when the body is not a transaction.
fn results(shared: &Shared, body: &Value, accept: usize, retry_after: u64) -> Answer {
    let Some(envelopes) = body.get("envelopes").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "malformed_request");
    };
    let mut accepted = lock(&shared.accepted);
    let results: Vec<Value> = envelopes
        .iter()
        .enumerate()
        .map(|(i, envelope)| {
            let id = message_id(envelope);
            if i >= accept {
                json!({"id": id, "status": "deferred", "code": "rate_limited", "retry_after": retry_after})
            } else if accepted.1.insert(id.clone()) {
                accepted.0.push(envelope.clone());
                json!({"id": id, "status": "accepted"})
            } else {
                json!({"id": id, "status": "duplicate"})
            }
        })
        .collect();
    answer(StatusCode::OK, &json!({"results": results}), &[])
}

/// SPEC §9.3's checks on the `Authorization` header; the error is the code a strict receiver
/// would answer.
async fn check_auth(
    shared: &Shared,
    header: Option<&str>,
    path_and_query: &str,
    body: &[u8],
) -> Result<ServerAuth, String> {
    let auth =
        ServerAuth::parse(header.ok_or("s2s_unauthorized")?).map_err(|e| e.code().to_owned())?;
    let now_secs = now_ms() / 1000;
    // Checks 2 and 3 before the key lookup, in SPEC §9.3's order.
    if auth.destination != shared.name {
        return Err("wrong_destination".to_owned());
    }
    kez_spec::clock::check_window(auth.ts, now_secs, kez_spec::s2s::DEFAULT_SKEW_SECS)
        .map_err(|e| e.code().to_owned())?;
    let key = shared
        .verifier
        .origin_key(&auth.origin, &auth.key_id, auth.ts.saturating_mul(1000))
        .await
        .map_err(|e| match e {
            kez_federation::FederationError::UnknownKey { .. } => "unknown_key".to_owned(),
            other => format!("unavailable: {other}"),
        })?;
    let parts = RequestParts {
        method: "PUT",
        path_and_query,
        body,
    };
    auth.verify(
        parts,
        &shared.name,
        &key,
        now_secs,
        kez_spec::s2s::DEFAULT_SKEW_SECS,
    )
    .map_err(|e| e.code().to_owned())?;
    Ok(auth)
}
