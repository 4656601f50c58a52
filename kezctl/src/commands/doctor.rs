//! `kezctl doctor <server>`: diagnose a server as a peer would see it. Every step has a
//! timeout and ends pass, warn, fail or skip with its reason; one verdict closes the report.
//!
//! Steps: name normalisation (SPEC §2.2); DNS — SRV (SPEC §9.1) and every IPv4 and IPv6
//! address with a TCP connect to each; TLS (the certificate must be valid for the server
//! name, SPEC §9.1); health and version (§4.5); clock skew (the `Date` header and the server
//! document's `ts`); the signed server document and its keys (§9.2); WebFinger (§4.4); and,
//! where the chosen identity is registered on that server, a real signed round trip: a sealed
//! message to itself, its delivery status, and reading it back verified and decrypted.
//!
//! DNS goes through the `kez-federation` crate's discovery (`--resolver` picks the DNS server);
//! without `--server`, every HTTPS request connects where discovery says, with the certificate
//! checked for the server name, and the server document is fetched and verified by the
//! federation client itself, exactly as a peer server would.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use kez_federation::discovery::{Discovery, SRV_PREFIX, SrvAnswer};
use kez_spec::ServerName;
use kez_spec::auth::AuthRequest;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::{Client, ClientError};
use crate::context::Context;
use crate::discover::Discoverer;
use crate::error::CliError;
use crate::message;
use crate::output;
use kez_spec::clock::now_ms;

/// A step's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Works as SPEC says.
    Pass,
    /// Works, but something deserves attention.
    Warn,
    /// Broken: peers will fail here.
    Fail,
    /// Not checked, with the reason.
    Skip,
}

/// One step of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Its name.
    pub step: &'static str,
    /// Its outcome.
    pub verdict: Verdict,
    /// Why.
    pub detail: String,
}

struct Report {
    steps: Vec<Step>,
    ctx_json: bool,
    /// The first failure to print a step (a closed stdout): later steps are not printed, and
    /// the run ends with it.
    print_error: Option<CliError>,
}

impl Report {
    fn add(&mut self, step: &'static str, verdict: Verdict, detail: impl Into<String>) {
        let step = Step {
            step,
            verdict,
            detail: detail.into(),
        };
        if !self.ctx_json && self.print_error.is_none() {
            let mark = match verdict {
                Verdict::Pass => "PASS",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "SKIP",
            };
            let printed = output::line(format!("{mark:<5}{:<18}{}", step.step, step.detail));
            self.print_error = printed.err();
        }
        self.steps.push(step);
    }
}

/// Runs `fut` with the step timeout; a timeout becomes an error text.
async fn timed<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("no answer within {} s", limit.as_secs()))
}

/// Diagnoses `input`.
pub async fn run(ctx: &Context, input: &str) -> Result<(), CliError> {
    let limit = ctx.client_options.timeout;
    let mut report = Report {
        steps: Vec::new(),
        ctx_json: ctx.out.is_json(),
        print_error: None,
    };
    let name = match ServerName::normalize(input) {
        Ok(name) => {
            let note = if name.as_str() == input {
                String::new()
            } else {
                format!(" (normalised from {input:?})")
            };
            report.add("name", Verdict::Pass, format!("{name}{note}"));
            name
        }
        Err(e) => {
            report.add("name", Verdict::Fail, format!("{input:?}: {e}"));
            return finish(ctx, &mut report, input);
        }
    };

    dns(ctx, &mut report, &name, limit).await;

    // As a peer: https://<name> through discovery, unless --server names a URL.
    let client = match &ctx.server {
        Some(url) => Client::new(url, &ctx.client_options)?,
        None => Client::for_server(&name, &ctx.client_options)?,
    };
    let reachable = health(&mut report, &client, &name, limit).await;
    if reachable {
        if ctx.server.is_none() {
            peer_document(ctx, &mut report, &name, limit).await;
        } else {
            document(&mut report, &client, &name, limit).await;
        }
        webfinger(ctx, &mut report, &client, &name, limit).await;
        round_trip(ctx, &mut report, &client, &name, limit).await;
    } else {
        for step in ["server document", "webfinger", "round trip"] {
            report.add(step, Verdict::Skip, "the server is not reachable");
        }
    }
    finish(ctx, &mut report, name.as_str())
}

fn finish(ctx: &Context, report: &mut Report, name: &str) -> Result<(), CliError> {
    if let Some(e) = report.print_error.take() {
        return Err(e);
    }
    let failed = report
        .steps
        .iter()
        .filter(|s| s.verdict == Verdict::Fail)
        .count();
    let skipped = report
        .steps
        .iter()
        .filter(|s| s.verdict == Verdict::Skip)
        .count();
    let verdict = if failed > 0 { "fail" } else { "pass" };
    if ctx.out.is_json() {
        ctx.out.result(
            "",
            &json!({"server": name, "verdict": verdict, "failed": failed,
                    "skipped": skipped, "steps": report.steps}),
        )?;
    } else {
        let extra = if skipped > 0 {
            format!(" ({skipped} step(s) skipped)")
        } else {
            String::new()
        };
        output::line(match failed {
            0 => format!("verdict: PASS — {name} looks healthy to a peer{extra}"),
            n => format!("verdict: FAIL — {n} check(s) failed for {name}{extra}"),
        })?;
    }
    if failed > 0 {
        return Err(CliError::DoctorFailed(failed));
    }
    Ok(())
}

async fn dns(ctx: &Context, report: &mut Report, name: &ServerName, limit: Duration) {
    let discovery = match Discovery::new(ctx.client_options.resolver) {
        Ok(d) => d,
        Err(e) => return report.add("dns srv", Verdict::Fail, format!("resolver: {e}")),
    };
    let host = name.host().to_owned();
    let targets: Vec<(String, u16)> = match name.port() {
        Some(port) => {
            report.add(
                "dns srv",
                Verdict::Pass,
                "explicit port: no SRV lookup (SPEC §9.1)",
            );
            vec![(host.clone(), port)]
        }
        None => match timed(limit, discovery.srv(&host)).await {
            Ok(Ok(answer)) => match answer.as_ref() {
                SrvAnswer::Records(records) => {
                    let shown: Vec<String> = records
                        .iter()
                        .map(|r| {
                            format!(
                                "{}:{} (priority {}, weight {})",
                                r.target, r.port, r.priority, r.weight
                            )
                        })
                        .collect();
                    report.add(
                        "dns srv",
                        Verdict::Pass,
                        format!("{SRV_PREFIX}{host}: {}", shown.join(", ")),
                    );
                    records.iter().map(|r| (r.target.clone(), r.port)).collect()
                }
                SrvAnswer::NoRecords => {
                    report.add(
                        "dns srv",
                        Verdict::Pass,
                        format!("no {SRV_PREFIX}{host} record: {host}:443"),
                    );
                    vec![(host.clone(), 443)]
                }
                SrvAnswer::NoFederation => {
                    return report.add(
                        "dns srv",
                        Verdict::Fail,
                        "SRV target \".\": the server offers no federation",
                    );
                }
            },
            Ok(Err(e)) => return report.add("dns srv", Verdict::Fail, e.to_string()),
            Err(e) => return report.add("dns srv", Verdict::Fail, e),
        },
    };
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for (target, port) in &targets {
        match timed(limit, discovery.addresses(target)).await {
            Ok(Ok(ips)) => addrs.extend(ips.iter().map(|ip| SocketAddr::new(*ip, *port))),
            Ok(Err(e)) => report.add("dns addresses", Verdict::Fail, format!("{target}: {e}")),
            Err(e) => report.add("dns addresses", Verdict::Fail, format!("{target}: {e}")),
        }
    }
    for (step, v6) in [("dns ipv4", false), ("dns ipv6", true)] {
        let family: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        if family.is_empty() {
            let verdict = if addrs.is_empty() {
                Verdict::Fail
            } else {
                Verdict::Warn
            };
            report.add(
                step,
                verdict,
                format!("{host} has no address of this family"),
            );
            continue;
        }
        let mut notes = Vec::new();
        let mut all_ok = true;
        for addr in family {
            match timed(limit, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_)) => notes.push(format!("{addr} connects")),
                Ok(Err(e)) => {
                    all_ok = false;
                    notes.push(format!("{addr} refuses: {e}"));
                }
                Err(e) => {
                    all_ok = false;
                    notes.push(format!("{addr}: {e}"));
                }
            }
        }
        let verdict = if all_ok { Verdict::Pass } else { Verdict::Fail };
        report.add(step, verdict, notes.join("; "));
    }
}

/// TLS, health, version and the clock; false when the server cannot be reached at all.
async fn health(report: &mut Report, client: &Client, name: &ServerName, limit: Duration) -> bool {
    let tls = client.base().starts_with("https://");
    let answer = match timed(limit, client.raw_get("/v1/healthz")).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            let step = if tls { "tls" } else { "health" };
            report.add(step, Verdict::Fail, e.to_string());
            return false;
        }
        Err(e) => {
            report.add("health", Verdict::Fail, e);
            return false;
        }
    };
    if tls {
        report.add(
            "tls",
            Verdict::Pass,
            format!(
                "certificate valid for {} (checked against the trusted roots)",
                name.host()
            ),
        );
    } else {
        report.add(
            "tls",
            Verdict::Skip,
            format!(
                "{} is plain HTTP (development); peers require HTTPS",
                client.base()
            ),
        );
    }
    let body = kez_spec::json::parse_strict(&answer.body).ok();
    let field = |k: &str| {
        body.as_ref()
            .and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match (answer.status, field("server"), field("version")) {
        (200, Some(server), Some(version)) if server == name.as_str() => {
            report.add("health", Verdict::Pass, format!("ok, {server}"));
            report.add("version", Verdict::Pass, version);
        }
        (200, Some(server), _) => report.add(
            "health",
            Verdict::Fail,
            format!(
                "the server calls itself {server:?}, not {:?}",
                name.as_str()
            ),
        ),
        (status, _, _) => report.add(
            "health",
            Verdict::Fail,
            format!("GET /v1/healthz answered {status} without a KEZ health body"),
        ),
    }
    match answer.date.as_deref().and_then(parse_http_date) {
        Some(server_secs) => {
            let now = now_ms() / 1000;
            let skew = i128::from(server_secs) - i128::from(now);
            let verdict = match skew.unsigned_abs() {
                0..=30 => Verdict::Pass,
                31..=60 => Verdict::Warn,
                _ => Verdict::Fail,
            };
            report.add(
                "clock",
                verdict,
                format!(
                    "server clock {skew:+} s from this computer's (credentials allow 60 s, \
                     envelopes 300 s)"
                ),
            );
        }
        None => report.add("clock", Verdict::Warn, "no usable Date header"),
    }
    true
}

/// The document fetched and verified by the federation client itself: exactly what a peer
/// server accepts or refuses (SPEC §9.2).
async fn peer_document(ctx: &Context, report: &mut Report, name: &ServerName, limit: Duration) {
    let discoverer = match Discoverer::new(&ctx.client_options, name) {
        Ok(d) => d,
        Err(e) => {
            let failure = CliError::Federation(e).to_string();
            return report.add("server document", Verdict::Fail, failure);
        }
    };
    match timed(limit, discoverer.client.server_document(name)).await {
        Ok(Ok(doc)) => {
            let now = now_ms();
            let keys: Vec<&str> = doc.verify_keys.keys().map(|k| k.as_str()).collect();
            report.add(
                "server document",
                Verdict::Pass,
                format!(
                    "verified as a peer does: protocol {}, {}, keys {keys:?}, valid {} more min",
                    doc.protocol,
                    doc.version,
                    doc.valid_until_ms.saturating_sub(now) / 60_000
                ),
            );
        }
        Ok(Err(e)) => report.add("server document", Verdict::Fail, e.to_string()),
        Err(e) => report.add("server document", Verdict::Fail, e),
    }
}

async fn document(report: &mut Report, client: &Client, name: &ServerName, limit: Duration) {
    let answer = match timed(limit, client.raw_get("/.well-known/kez")).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return report.add("server document", Verdict::Fail, e.to_string()),
        Err(e) => return report.add("server document", Verdict::Fail, e),
    };
    if answer.status != 200 {
        return report.add(
            "server document",
            Verdict::Fail,
            format!(
                "GET /.well-known/kez answered {} (peers cannot federate)",
                answer.status
            ),
        );
    }
    match check_document(&answer.body, name, now_ms()) {
        Ok(detail) => report.add("server document", Verdict::Pass, detail),
        Err(e) => report.add("server document", Verdict::Fail, e),
    }
}

/// SPEC §9.2's receiver checks, exactly as a peer runs them (the kez-federation crate's verifier),
/// summarised for the report.
pub fn check_document(body: &[u8], name: &ServerName, now: u64) -> Result<String, String> {
    let doc = kez_federation::ServerDocument::verify(body, name, now).map_err(|e| e.to_string())?;
    let ids: Vec<&str> = doc.verify_keys.keys().map(|k| k.as_str()).collect();
    Ok(format!(
        "protocol {}, keys {ids:?}, {}, valid {} more min",
        doc.protocol,
        registration(doc.registration.as_deref()),
        doc.valid_until_ms.saturating_sub(now) / 60_000
    ))
}

/// Who may register, as the document says (SPEC §4.1 check 10, §9.2).
fn registration(policy: Option<&str>) -> String {
    match policy {
        Some("open") => "registration open".to_owned(),
        Some("token") => "registration by invitation (kezctl register --token)".to_owned(),
        Some("closed") => "registration closed".to_owned(),
        Some(other) => format!("registration {other:?}"),
        None => "registration policy not published".to_owned(),
    }
}

async fn webfinger(
    ctx: &Context,
    report: &mut Report,
    client: &Client,
    name: &ServerName,
    limit: Duration,
) {
    let mine = ctx
        .key_file()
        .ok()
        .and_then(|f| f.home.map(|h| (h.address, f.primary)))
        .filter(|(address, _)| address.server() == name);
    let probe = match &mine {
        Some((address, _)) => address.to_string(),
        None => format!("kezctl-doctor-probe@{name}"),
    };
    let path = format!("/.well-known/webfinger?resource=acct:{probe}");
    let answer = match timed(limit, client.raw_get(&path)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => return report.add("webfinger", Verdict::Fail, e.to_string()),
        Err(e) => return report.add("webfinger", Verdict::Fail, e),
    };
    if answer.cors.as_deref() != Some("*") {
        return report.add(
            "webfinger",
            Verdict::Fail,
            "no Access-Control-Allow-Origin: * (SPEC §4.4)",
        );
    }
    let body = kez_spec::json::parse_strict(&answer.body).ok();
    match (&mine, answer.status) {
        (Some((address, primary)), 200) => {
            let got = body
                .as_ref()
                .and_then(|b| b.get("properties"))
                .and_then(|p| p.get("https://kez.lat/ns/primary"))
                .and_then(Value::as_str);
            if got == Some(primary.to_string().as_str()) {
                report.add(
                    "webfinger",
                    Verdict::Pass,
                    format!("acct:{address} → {primary}"),
                );
            } else {
                report.add(
                    "webfinger",
                    Verdict::Fail,
                    format!("acct:{address} does not name this identity's primary"),
                );
            }
        }
        (None, 404)
            if body
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(Value::as_str)
                == Some("unknown_handle") =>
        {
            report.add(
                "webfinger",
                Verdict::Pass,
                "answers (probed with an unknown handle: 404 unknown_handle)",
            );
        }
        (_, status) => report.add(
            "webfinger",
            Verdict::Fail,
            format!("acct:{probe} answered {status}"),
        ),
    }
}

async fn round_trip(
    ctx: &Context,
    report: &mut Report,
    client: &Client,
    name: &ServerName,
    limit: Duration,
) {
    const STEP: &str = "round trip";
    let file = match ctx.key_file() {
        Ok(file)
            if file
                .home
                .as_ref()
                .is_some_and(|h| h.address.server() == name) =>
        {
            file
        }
        _ => {
            return report.add(
                STEP,
                Verdict::Skip,
                format!("no identity registered on {name} (use --identity)"),
            );
        }
    };
    let unlocked = match ctx.unlock(file) {
        Ok(u) => u,
        Err(e) => return report.add(STEP, Verdict::Skip, format!("identity locked: {e}")),
    };
    let Some(home) = unlocked.file.home.clone() else {
        return;
    };
    let result = timed(limit * 3, async {
        let me = &home.address;
        let text = format!("kezctl doctor round trip {}", now_ms());
        let composed = message::compose(
            &unlocked.key,
            me,
            me,
            &unlocked.file.primary,
            &text,
            now_ms(),
        )
        .map_err(|e| e.to_string())?;
        let sent = client
            .send(me, &composed.envelope)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let seq = sent.seq.ok_or("send: no seq for a local recipient")?;
        let id = composed.id;
        let credential = AuthRequest::Status { id: &id }.sign(&unlocked.key, now_ms() / 1000);
        let status = match client.status(&id, &credential).await {
            Ok(s) => s
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned(),
            Err(ClientError::Api { code, .. }) => format!("unavailable ({code})"),
            Err(e) => return Err(format!("status: {e}")),
        };
        let since = seq - 1;
        let credential = AuthRequest::Poll {
            handle: me.handle(),
            since,
        }
        .sign(&unlocked.key, now_ms() / 1000);
        let (items, _) = client
            .inbox(me.handle(), since, 1, &credential)
            .await
            .map_err(|e| format!("inbox: {e}"))?;
        let item = items.first().ok_or("the message is not in the inbox")?;
        let opened = message::open_item(item, &unlocked.key, me);
        match (opened.text, opened.failure) {
            (Some(t), None) if t == text => Ok(format!(
                "sent, stored as seq {seq} (status {status}), read back verified and decrypted"
            )),
            (_, Some(f)) => Err(format!("read back, but {f}")),
            _ => Err("read back a different text".into()),
        }
    })
    .await;
    match result {
        Ok(Ok(detail)) => report.add(STEP, Verdict::Pass, detail),
        Ok(Err(e)) | Err(e) => report.add(STEP, Verdict::Fail, e),
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7) to Unix seconds.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // days_from_civil (Howard Hinnant).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Thu, 01 Jan 2026 00:00:00 GMT"),
            Some(1_767_225_600)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    /// SPEC §9.2: doctor reports a document as a peer judges it: the right server passes with
    /// its keys listed; another name or a tampered document fails.
    #[test]
    fn server_documents() {
        use kez_spec::server_document::Published;
        let keys = kez_federation::ServerKeys::generate();
        let name = ServerName::parse("b.example").expect("valid");
        let now = 1_764_100_000_000;
        let doc = keys
            .sign_document(
                &name,
                &Published::new("kezd/test", &json!({})).registration("token"),
                now,
            )
            .expect("signs")
            .to_string();
        let summary = check_document(doc.as_bytes(), &name, now).expect("valid");
        assert!(summary.contains(keys.key_id().as_str()), "{summary}");
        assert!(summary.contains("registration by invitation"), "{summary}");
        let other = ServerName::parse("c.example").expect("valid");
        assert!(check_document(doc.as_bytes(), &other, now).is_err());
        let tampered = doc.replace("kezd/test", "kezd/evil");
        assert!(check_document(tampered.as_bytes(), &name, now).is_err());
    }
}
