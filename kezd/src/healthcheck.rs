//! `kezd healthcheck`: one `GET /v1/healthz` to a running kezd, success only on 200, so the
//! container image's `HEALTHCHECK` and the compose file need no HTTP client or shell in the
//! image. It asks the address kezd is configured to listen on (its loopback when that is
//! every address) or a `--url`, over plain HTTP or, when `[tls]` is configured, over HTTPS
//! checked as a client would check it: valid for the server name and issued by a certificate
//! of the configured chain, so a daemon serving the wrong certificate is not healthy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use kezd::config::{Config, TlsFiles};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName as TlsName};

/// The path asked when a `--url` names none (SPEC §4.5).
pub const HEALTHZ_PATH: &str = "/v1/healthz";

/// Bound on connecting, and on each read and write: a daemon that takes longer is not healthy
/// (Docker's own timeout for the check is usually a few seconds).
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The most of the answer read while looking for its status line.
const STATUS_LINE_MAX: u64 = 1024;

/// What to ask: where to connect, the name for `Host` and TLS, and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// HTTPS rather than plain HTTP.
    pub https: bool,
    /// The host name (or address) for the `Host` header and the certificate check.
    pub host: String,
    /// `host:port` to connect to (resolved at connect time).
    pub connect: String,
    /// The request path.
    pub path: String,
}

impl Target {
    /// The configured listener: `bind`, with an unspecified address (`0.0.0.0`, `[::]`)
    /// replaced by the loopback address of its family, named by the server name's host.
    pub fn from_config(config: &Config) -> Target {
        let ip = match config.bind.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Target {
            https: config.tls.is_some(),
            host: config.server_name.host().to_owned(),
            connect: SocketAddr::new(ip, config.bind.port()).to_string(),
            path: HEALTHZ_PATH.to_owned(),
        }
    }

    /// `http://HOST[:PORT][/PATH]` or `https://…`; the path defaults to `/v1/healthz`.
    pub fn from_url(url: &str) -> Result<Target, String> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(format!("{url}: not an http:// or https:// URL"));
        };
        let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
        let path = if path.is_empty() || path == "/" {
            HEALTHZ_PATH
        } else {
            path
        };
        // `[v6]:port`, `host:port` or a host alone.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("{url}: port {port:?} is not a number"))?;
                (host, port)
            }
            _ => (authority, if https { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Target {
            https,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            connect: format!("{host}:{port}"),
            path: path.to_owned(),
        })
    }

    /// The URL asked, for messages.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.connect, self.path)
    }
}

/// Asks `target` once; `Err` is the one-line reason it is not healthy. Over HTTPS the served
/// certificate must chain to a certificate of `tls` (the configured `tls.cert` file).
pub fn check(target: &Target, tls: Option<&TlsFiles>) -> Result<(), String> {
    let stream = connect(&target.connect)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: kezd-healthcheck\r\nConnection: close\r\n\r\n",
        target.path, target.host
    );
    let status = if target.https {
        let files = tls.ok_or("HTTPS needs the configured certificate ([tls] cert) to verify")?;
        let connection = ClientConnection::new(client_config(files)?, tls_name(&target.host)?)
            .map_err(|e| format!("TLS: {e}"))?;
        exchange(StreamOwned::new(connection, stream), &request)?
    } else {
        exchange(stream, &request)?
    };
    if status == 200 {
        Ok(())
    } else {
        Err(format!("answered {status}, not 200"))
    }
}

/// A TCP connection to the first address of `connect` that accepts, within [`TIMEOUT`].
fn connect(connect: &str) -> Result<TcpStream, String> {
    let addrs = connect
        .to_socket_addrs()
        .map_err(|e| format!("resolving {connect}: {e}"))?;
    let mut last = format!("{connect} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => {
                stream
                    .set_read_timeout(Some(TIMEOUT))
                    .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
                    .map_err(|e| format!("{addr}: {e}"))?;
                return Ok(stream);
            }
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Sends the request and reads the status code of the answer's status line.
fn exchange(mut stream: impl Read + Write, request: &str) -> Result<u16, String> {
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut line = String::new();
    BufReader::new(stream.take(STATUS_LINE_MAX))
        .read_line(&mut line)
        .map_err(|e| format!("reading the answer: {e}"))?;
    status_code(&line).ok_or_else(|| format!("not an HTTP answer: {:?}", line.trim_end()))
}

/// The code of `HTTP/1.x NNN reason`.
fn status_code(line: &str) -> Option<u16> {
    let mut parts = line.split_ascii_whitespace();
    parts
        .next()
        .filter(|version| version.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

/// rustls trusting exactly the certificates of the configured chain: the issuer of a
/// publicly issued leaf is in its full chain, and a self-signed leaf is its own issuer.
fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
    let unreadable = |e: &dyn std::fmt::Display| format!("{}: {e}", files.cert.display());
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| unreadable(&e))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(unreadable(&"no usable certificate"));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tls_name(host: &str) -> Result<TlsName<'static>, String> {
    TlsName::try_from(host.to_owned()).map_err(|e| format!("{host}: not a TLS server name: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_host_port_and_path() {
        let plain = Target::from_url("http://127.0.0.1:6969").expect("valid");
        assert_eq!(plain.connect, "127.0.0.1:6969");
        assert_eq!(plain.path, HEALTHZ_PATH);
        assert!(!plain.https);
        let tls = Target::from_url("https://kez.example.org/").expect("valid");
        assert_eq!(tls.connect, "kez.example.org:443");
        assert_eq!(tls.host, "kez.example.org");
        let v6 = Target::from_url("http://[::1]:8080/other").expect("valid");
        assert_eq!(
            (v6.connect.as_str(), v6.host.as_str()),
            ("[::1]:8080", "::1")
        );
        assert_eq!(v6.path, "/other");
        for bad in ["ftp://x", "127.0.0.1:6969", "http://x:port", "http://:80"] {
            assert!(Target::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code("HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_code("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(status_code("SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(""), None);
    }
}
