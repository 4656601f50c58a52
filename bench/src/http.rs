//! The load generator's HTTP: one plain HTTP/1.1 connection per sender task, built directly on
//! hyper. The generator shares two cores with the server it measures, so the hot path avoids
//! a pooled client's bookkeeping: a task owns its connection and sends pre-serialized bodies
//! one after another, as a client with one request in flight would.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpSocket, TcpStream};

/// A body as a stream of chunks: what the SSE reader consumes, for plain and TLS streams.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// One HTTP/1.1 connection to a kezd.
pub struct Conn<B> {
    sender: SendRequest<B>,
    host: String,
}

/// Opens a connection (TCP_NODELAY, as any latency-sensitive client would), from `local`
/// when given: a loopback address other than 127.0.0.1 makes kezd see another client.
async fn connect<B>(addr: SocketAddr, host: &str, local: Option<IpAddr>) -> Result<Conn<B>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = match local {
        None => TcpStream::connect(addr).await,
        Some(local) => {
            let socket = match local {
                IpAddr::V4(_) => TcpSocket::new_v4()?,
                IpAddr::V6(_) => TcpSocket::new_v6()?,
            };
            socket.bind(SocketAddr::new(local, 0))?;
            socket.connect(addr).await
        }
    }
    .with_context(|| format!("connecting to {addr}"))?;
    tcp.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        // The connection ends when the sender is dropped or the server closes it; either is
        // reported by the next request, so the error here adds nothing.
        let _ = connection.await;
    });
    Ok(Conn {
        sender,
        host: host.to_owned(),
    })
}

impl Conn<Full<Bytes>> {
    /// A connection for POSTs.
    pub async fn open(addr: SocketAddr, host: &str) -> Result<Self> {
        connect(addr, host, None).await
    }

    /// A connection for POSTs from the client address `local`.
    pub async fn open_from(addr: SocketAddr, host: &str, local: IpAddr) -> Result<Self> {
        connect(addr, host, Some(local)).await
    }

    /// `POST path` with a JSON body; the status and the whole answer.
    pub async fn post(&mut self, path: &str, body: Bytes) -> Result<(u16, Bytes)> {
        self.sender.ready().await?;
        let request = http::Request::post(path)
            .header(http::header::HOST, &self.host)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

/// One GET on a fresh connection: the status and body (health checks, start-up timing).
pub async fn get_once(addr: SocketAddr, host: &str, path: &str) -> Result<(u16, Bytes)> {
    let mut conn: Conn<Empty<Bytes>> = connect(addr, host, None).await?;
    let request = http::Request::get(path)
        .header(http::header::HOST, &conn.host)
        .body(Empty::new())?;
    let response = conn.sender.send_request(request).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

/// Opens an event stream on its own connection (a stream holds its connection for its whole
/// life); the body as a chunk stream after checking the 200.
pub async fn open_stream(addr: SocketAddr, host: &str, path_and_query: &str) -> Result<ByteStream> {
    let mut conn: Conn<Empty<Bytes>> = connect(addr, host, None).await?;
    let request = http::Request::get(path_and_query)
        .header(http::header::HOST, &conn.host)
        .header(http::header::ACCEPT, "text/event-stream")
        .body(Empty::new())?;
    let response = conn.sender.send_request(request).await?;
    let body = event_stream(response).await?;
    // The connection task lives as long as the body is read; keep the sender with it so the
    // connection is not torn down early.
    let sender = conn.sender;
    Ok(Box::pin(body.map(move |chunk| {
        let _keep = &sender;
        chunk
    })))
}

/// An event stream's response, over either HTTP version: its body as chunks once the status
/// is checked to be 200.
pub async fn event_stream(
    response: http::Response<hyper::body::Incoming>,
) -> Result<impl Stream<Item = Result<Bytes>> + Send> {
    let status = response.status();
    if status != 200 {
        let body = response.into_body().collect().await?.to_bytes();
        bail!(
            "stream answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(response
        .into_body()
        .into_data_stream()
        .map(|chunk| chunk.map_err(anyhow::Error::from)))
}

/// Opens an event stream through a reqwest client (the testnet's HTTPS client).
pub async fn open_stream_reqwest(client: &reqwest::Client, url: &str) -> Result<ByteStream> {
    let response = client
        .get(url)
        .header("accept", "text/event-stream")
        .send()
        .await?;
    let status = response.status();
    if status != 200 {
        bail!("stream answered {status}: {}", response.text().await?);
    }
    Ok(Box::pin(
        response
            .bytes_stream()
            .map(|chunk| chunk.map_err(anyhow::Error::from)),
    ))
}
