//! HTTP/2 for the idle-stream scenario: many event streams on one connection (cleartext, with
//! prior knowledge, as kezd accepts), the way a browser or a proxy in front of kezd holds
//! them; what one such stream costs the server differs from a stream with a connection of its
//! own (crate::http).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::http::{ByteStream, event_stream};

/// One HTTP/2 connection to a kezd; clones share it.
#[derive(Clone)]
pub struct H2Conn {
    sender: SendRequest<Empty<Bytes>>,
    authority: String,
}

impl H2Conn {
    /// Connects and does the HTTP/2 handshake.
    pub async fn open(addr: SocketAddr, host: &str) -> Result<Self> {
        let tcp = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let (sender, connection) =
            http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            // Ends when every sender is dropped or kezd closes it; streams see either.
            let _ = connection.await;
        });
        Ok(H2Conn {
            sender,
            authority: host.to_owned(),
        })
    }

    /// Opens an event stream at `path_and_query` on this connection; the body as a chunk
    /// stream after checking the 200.
    pub async fn stream(&self, path_and_query: &str) -> Result<ByteStream> {
        let mut sender = self.sender.clone();
        sender.ready().await?;
        let uri = format!("http://{}{path_and_query}", self.authority);
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "text/event-stream")
            .body(Empty::new())?;
        let response = sender.send_request(request).await?;
        Ok(Box::pin(event_stream(response).await?))
    }
}
