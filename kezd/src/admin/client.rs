//! The client side of the admin socket (server.rs): one request line out, one reply line in.
//! Whether a daemon runs is decided by connecting: a socket that is missing or that nothing
//! answers on (a crashed kezd's) means none does, and `kezd admin` works on the store
//! directly (direct.rs).

use std::io;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::request::{Failure, FailureKind, Outcome, Reply, Request};

/// Connects to the daemon's admin socket; `None` when no daemon answers there.
pub async fn connect(path: &Path) -> io::Result<Option<UnixStream>> {
    match UnixStream::connect(path).await {
        Ok(stream) => Ok(Some(stream)),
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Sends `request` on `stream` and reads the answer.
pub async fn ask(stream: UnixStream, request: &Request) -> Result<Outcome, Failure> {
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        Failure::new(
            FailureKind::Failed,
            format!("{what} the admin socket: {error}"),
        )
    };
    let mut line = serde_json::to_string(request).map_err(|e| failed("encoding for", &e))?;
    line.push('\n');
    let (read, mut write) = stream.into_split();
    write
        .write_all(line.as_bytes())
        .await
        .map_err(|e| failed("writing to", &e))?;
    let mut answer = String::new();
    BufReader::new(read)
        .read_line(&mut answer)
        .await
        .map_err(|e| failed("reading from", &e))?;
    if answer.is_empty() {
        return Err(failed(
            "reading from",
            &"the daemon closed it without an answer",
        ));
    }
    let reply: Reply =
        serde_json::from_str(&answer).map_err(|e| failed("understanding the answer on", &e))?;
    reply.into()
}
