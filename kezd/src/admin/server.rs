//! The admin socket of a running kezd: `<data_dir>/admin.sock`, a Unix socket only kezd's own
//! user (and root) may open (mode 0600), taking one JSON request per line and answering each
//! with one JSON line (request.rs). Admin commands go through the daemon while it runs because
//! it caches what they change; the socket, unlike an HTTP endpoint, needs no credential of its
//! own: the file mode is the access control, and the kernel names the caller (`SO_PEERCRED`)
//! for the audit log.
//!
//! The socket appears with its final mode at once: it is bound inside a fresh directory that
//! only kezd's user can enter, narrowed to 0600 there, and renamed into place, which also
//! replaces a socket left by a kezd that crashed (one that nothing answers on). A socket that
//! a live kezd answers on is left alone: that kezd serves the commands. The file is removed
//! when the daemon stops, if it is still this daemon's.

use std::fs::{DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::federate::policy::Lists;
use crate::state::AppState;

use super::audit;
use super::context::{Context, Effects};
use super::executor;
use super::request::{Failure, FailureKind, Reply, Request};

/// The socket's file name in the data directory.
pub const SOCKET_NAME: &str = "admin.sock";

/// The longest request line read; admin requests are a few hundred bytes.
const MAX_LINE: u64 = 64 * 1024;

/// The socket file this daemon bound, removed when it stops.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    /// Its inode: a later kezd's socket at the same path is not removed.
    inode: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if std::fs::metadata(&self.path).is_ok_and(|meta| meta.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Why the admin socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A live kezd already answers on this data directory's socket.
    #[error("another kezd answers on {0}; admin commands go to it")]
    InUse(PathBuf),
    /// Creating, binding or moving the socket failed.
    #[error("cannot create the admin socket {path}")]
    Io {
        /// The socket's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Binds `<data_dir>/admin.sock` and answers admin requests on it until the daemon stops;
/// `config_file` is named when the configuration decides something. Returns once the socket
/// is in place (or could not be), with the task that serves it.
pub async fn start(
    state: AppState,
    config_file: Option<PathBuf>,
) -> Result<tokio::task::JoinHandle<()>, BindError> {
    let path = state.config().data_dir.join(SOCKET_NAME);
    let (listener, file) = bind(&path).await?;
    tracing::info!(path = %path.display(), "admin socket ready");
    let daemon = Arc::new(Daemon { state, config_file });
    Ok(tokio::spawn(serve(listener, file, daemon)))
}

/// What every connection needs.
struct Daemon {
    state: AppState,
    config_file: Option<PathBuf>,
}

impl Daemon {
    /// The context of one request, with the federation lists in force now (a reload may
    /// have changed them).
    fn context(&self) -> Context {
        let configured = self.state.federate().map_or_else(
            || Arc::new(Lists::configured(&self.state.config().federation)),
            |federate| federate.policy.configured(),
        );
        Context {
            store: Arc::clone(self.state.store()),
            effects: Effects::Daemon(self.state.clone()),
            configured,
            config_file: self.config_file.clone(),
            server_name: self.state.config().server_name.clone(),
        }
    }
}

async fn bind(path: &Path) -> Result<(UnixListener, SocketFile), BindError> {
    let io = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    match UnixStream::connect(path).await {
        Ok(_) => return Err(BindError::InUse(path.to_path_buf())),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        // Nothing answers: a crashed kezd's socket, replaced below.
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "replacing a stale admin socket");
        }
        Err(error) => return Err(io(error)),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let private = dir.join(format!(".admin-{}", std::process::id()));
    // Left by an earlier process with this pid (a container restarts with the same one).
    let _ = std::fs::remove_dir_all(&private);
    DirBuilder::new().mode(0o700).create(&private).map_err(io)?;
    let bound = (|| {
        let temporary = private.join(SOCKET_NAME);
        let listener = UnixListener::bind(&temporary)?;
        std::fs::set_permissions(&temporary, Permissions::from_mode(0o600))?;
        std::fs::rename(&temporary, path)?;
        let inode = std::fs::metadata(path)?.ino();
        Ok((listener, inode))
    })();
    let _ = std::fs::remove_dir(&private);
    let (listener, inode) = bound.map_err(io)?;
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
            inode,
        },
    ))
}

async fn serve(listener: UnixListener, file: SocketFile, daemon: Arc<Daemon>) {
    let stop = daemon.state.shutdown().signalled();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, Arc::clone(&daemon)));
                }
                Err(error) => tracing::warn!(%error, "accepting on the admin socket failed"),
            },
        }
    }
    drop(listener);
    drop(file);
    tracing::debug!("admin socket closed");
}

/// Answers the requests of one connection, one line each, until it closes or the daemon
/// stops (a request in progress is finished and answered first).
async fn connection(stream: UnixStream, daemon: Arc<Daemon>) {
    let actor = audit::actor(stream.peer_cred().ok().map(|cred| cred.uid()));
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let stop = daemon.state.shutdown().signalled();
    tokio::pin!(stop);
    loop {
        let mut line = String::new();
        let mut limited = (&mut reader).take(MAX_LINE);
        let read = tokio::select! {
            () = &mut stop => return,
            read = limited.read_line(&mut line) => read,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let too_long = !line.ends_with('\n');
        let reply: Reply = if too_long {
            Err(Failure::new(
                FailureKind::Invalid,
                format!("a request is one line of at most {MAX_LINE} bytes"),
            ))
            .into()
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(request) => executor::execute(&daemon.context(), request, &actor)
                    .await
                    .into(),
                Err(error) => Err(Failure::new(
                    FailureKind::Invalid,
                    format!("not an admin request: {error}"),
                ))
                .into(),
            }
        };
        let mut text = serde_json::to_string(&reply).unwrap_or_default();
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() || too_long {
            return;
        }
    }
}
