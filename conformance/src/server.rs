//! A server under test, reached over HTTP(S) only: its base URL, its name (from
//! `/v1/healthz`), its signed document (`/.well-known/kez`, SPEC §9.2, when it federates), and
//! request helpers that put a timeout on every exchange, so a server that stops answering
//! fails the case that asked instead of hanging the suite.

use std::time::Duration;

use kez_spec::ServerName;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::fail::Fail;

/// A server under test.
#[derive(Debug)]
pub struct Server {
    /// `https://host[:port]`, no trailing slash.
    pub base: String,
    /// The server name it reports in `/v1/healthz`.
    pub name: ServerName,
    /// The HTTP client (trusts the testnet CA under `--spawn`, `--ca` otherwise).
    pub http: reqwest::Client,
    /// Its server document as served, or `Value::Null` when it serves none (no federation).
    pub document: Value,
    /// The bound on one request (connect, send, answer, body).
    pub timeout: Duration,
}

/// An answer: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Resp {
    /// What was asked, for failure messages: `GET /v1/u/x`.
    pub what: String,
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// The beginning of a body for messages, one line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut short: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        short.push('…');
    }
    short.replace('\n', "\\n")
}

impl Resp {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, Fail> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Fail::Fail(format!(
                "{}: body is not JSON ({e}): {}",
                self.what,
                excerpt(&self.body)
            ))
        })
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of `Content-Type`, lowercase, without parameters.
    pub fn media_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// The SPEC §10 error code of the body, if it has one.
    pub fn code(&self) -> Option<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()?
            .get("error")?
            .as_str()
            .map(str::to_owned)
    }

    /// Fails unless the status is `status`; returns the answer for further checks.
    pub fn expect(self, status: u16) -> Result<Resp, Fail> {
        if self.status != status {
            return Err(Fail::Fail(format!(
                "{}: expected {status}, got {}: {}",
                self.what,
                self.status,
                excerpt(&self.body)
            )));
        }
        Ok(self)
    }

    /// Fails unless this is the SPEC §10 error `status` `code`: that status, `Content-Type:
    /// application/json`, and a body `{"error": code, "message": <string>}`.
    pub fn expect_error(self, status: u16, code: &str) -> Result<Resp, Fail> {
        let got = self.code();
        if self.status != status || got.as_deref() != Some(code) {
            return Err(Fail::Fail(format!(
                "{}: expected {status} {code}, got {} {}: {}",
                self.what,
                self.status,
                got.unwrap_or_else(|| "(no error code)".into()),
                excerpt(&self.body)
            )));
        }
        check_error_shape(&self)?;
        Ok(self)
    }

    /// The JSON body of a 2xx answer with status `status`.
    pub fn expect_json(self, status: u16) -> Result<Value, Fail> {
        self.expect(status)?.json()
    }
}

/// SPEC §10: an error body is JSON with exactly a string `error` and a string `message`.
pub fn check_error_shape(resp: &Resp) -> Result<(), Fail> {
    if resp.media_type() != "application/json" {
        return Err(Fail::Fail(format!(
            "{}: an error must have Content-Type application/json, got {:?}",
            resp.what,
            resp.header("content-type")
        )));
    }
    let body = resp.json()?;
    let ok = body.as_object().is_some_and(|o| {
        o.get("error").is_some_and(Value::is_string)
            && o.get("message").is_some_and(Value::is_string)
    });
    if !ok {
        return Err(Fail::Fail(format!(
            "{}: an error body must be {{\"error\":<code>,\"message\":<text>}}, got {}",
            resp.what, body
        )));
    }
    Ok(())
}

impl Server {
    /// Connects to `base`: reads its name from `/v1/healthz` and its document from
    /// `/.well-known/kez`. The error says why the server cannot be tested.
    pub async fn connect(
        base: &str,
        http: reqwest::Client,
        timeout: Duration,
    ) -> Result<Server, String> {
        let base = base.trim_end_matches('/').to_owned();
        let probe = Server {
            base: base.clone(),
            name: ServerName::parse("unknown.invalid").map_err(|e| e.to_string())?,
            http,
            document: Value::Null,
            timeout,
        };
        let health = probe.get("/v1/healthz").await.map_err(|e| e.to_string())?;
        if health.status != 200 {
            return Err(format!("GET /v1/healthz answered {}", health.status));
        }
        let health = health.json().map_err(|e| e.to_string())?;
        let name = health
            .get("server")
            .and_then(Value::as_str)
            .ok_or("GET /v1/healthz has no \"server\" member")?;
        let name = ServerName::parse(name)
            .map_err(|e| format!("GET /v1/healthz names {name:?}, not a server name: {e}"))?;
        let document = probe
            .get("/.well-known/kez")
            .await
            .map_err(|e| e.to_string())?;
        let document = if document.status == 200 {
            document.json().map_err(|e| e.to_string())?
        } else {
            Value::Null
        };
        Ok(Server {
            name,
            document,
            ..probe
        })
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A published limit: `pointer` into the document's `limits`, e.g. `/max_body_bytes` or
    /// `/rate/register_per_hour`.
    pub fn limit(&self, pointer: &str) -> Option<u64> {
        self.document
            .pointer(&format!("/limits{pointer}"))
            .and_then(Value::as_u64)
    }

    /// One request with `headers` and an optional body; the whole exchange, body included,
    /// is bounded by the server's timeout.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Resp, Fail> {
        let what = format!("{method} {}", short_path(path));
        let mut builder = self.http.request(method, self.url(path));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        self.exchange(what, builder, "the server did not respond")
            .await
    }

    /// Sends `builder`'s request and reads the whole answer, within the server's timeout;
    /// `silence` says what no answer in time means.
    async fn exchange(
        &self,
        what: String,
        builder: reqwest::RequestBuilder,
        silence: &str,
    ) -> Result<Resp, Fail> {
        let exchange = async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok((status, headers, body))) => Ok(Resp {
                what,
                status,
                headers,
                body,
            }),
            Ok(Err(e)) => Err(Fail::Fail(format!("{what}: {}", error_chain(&e)))),
            Err(_) => Err(Fail::Fail(format!(
                "{what}: no answer within {:?} ({silence})",
                self.timeout
            ))),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Resp, Fail> {
        self.request(Method::GET, path, &[], None).await
    }

    /// `GET path` with headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Result<Resp, Fail> {
        self.request(Method::GET, path, headers, None).await
    }

    /// `POST path` with a JSON body (bytes as given).
    pub async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, Fail> {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request(Method::POST, path, &all, Some(body)).await
    }

    /// `POST path` with a chunked JSON body that sends `first` and then stalls, never ending:
    /// an answer can only come from what the server has read so far (SPEC §6.5). The exchange
    /// is bounded by the server's timeout, like every request.
    pub async fn post_stalled(&self, path: &str, first: Vec<u8>) -> Result<Resp, Fail> {
        let stalled = futures_util::StreamExt::chain(
            futures_util::stream::iter([Ok::<_, std::io::Error>(first)]),
            futures_util::stream::pending(),
        );
        let builder = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stalled));
        let what = format!("POST {} (a body that stalls)", short_path(path));
        self.exchange(
            what,
            builder,
            "the server waits for more of a body already over its limit",
        )
        .await
    }

    /// Whether the server federates (serves a document).
    pub fn federates(&self) -> bool {
        !self.document.is_null()
    }
}

/// A path for messages: long ids and credentials shortened.
fn short_path(path: &str) -> String {
    if path.len() <= 120 {
        path.to_owned()
    } else {
        format!("{}…", &path[..path.floor_char_boundary(117)])
    }
}

/// An error with its sources on one line (reqwest's top-level text hides the cause).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
