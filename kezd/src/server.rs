//! The accept loop and each connection's life. Hostile peers are bounded here, before any
//! request exists: a semaphore caps open connections, and a count per client address caps
//! what one party may hold (IPv6 by `ipv6_prefix_len` network; over either cap, a new
//! connection is closed at once: a refusal must cost nothing, and an HTTP answer would cost a
//! TLS handshake and a request head read first). A trusted proxy's connections are not capped
//! by its own address, since it carries everyone; the clients behind it are bounded per
//! request by their forwarded address (rate limits, stream caps) and together by
//! `max_connections`. A deadline covers the TLS handshake and the first request head, after
//! which hyper's own header timeout covers each later head (so a slowloris client that sends a
//! few bytes at a time, or nothing at all, is dropped); HTTP/2 flow control and stream limits
//! bound what a peer can make a connection hold before its requests are read. A connection
//! with nothing in progress for the idle timeout is closed (crate::idle), and one whose client
//! stops reading is closed at the write deadline (crate::write_deadline). An HTTP/2 client
//! that answers pings but never opens a stream's flow-control window makes progress on the
//! socket and has no request in progress once its response is buffered: the idle GOAWAY
//! reaches it, and a connection still open the write timeout after that is dropped, with the
//! response bytes held for it. Shutdown stops
//! accepting, lets every connection finish its in-flight requests (HTTP/2 by GOAWAY, HTTP/1 by
//! closing when idle; a request body still arriving is answered at once, see
//! [`request_body`](crate::request_body)), tells streams through
//! [`Shutdown`](crate::shutdown::Shutdown), and bounds the wait.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Version;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::body::Holding;
use crate::client_addr;
use crate::config::HttpLimits;
use crate::detach::{Detached, Handoff};
use crate::federate::outbox::{self, Outbox};
use crate::idle::Activity;
use crate::logging;
use crate::maintenance;
use crate::router::Router;
use crate::service;
use crate::slots::{Slot, Slots};
use crate::state::AppState;
use crate::tls::{self, TlsError};
use crate::write_deadline::WriteDeadline;

/// Why the daemon could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configured certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// HTTP/2 pings an idle connection this often and drops it if unanswered, so dead peers do
/// not hold connection slots forever.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// HTTP/2 flow-control window, for the connection and for each stream: the most request body
/// bytes a peer can send before kezd reads them. The protocol's own initial window: kezd reads
/// a body as it arrives, so a 256 KiB message still flows at 64 KiB per round trip.
const H2_WINDOW: u32 = 64 * 1024;

/// HTTP/2 requests in flight at once on one connection: a browser tab needs a few (a stream
/// and some polls); a client with more opens another connection, which the caps see.
const H2_MAX_STREAMS: u32 = 32;

/// Largest HTTP/2 request head (decoded header list), the same 8 KiB as an HTTP/1 head.
const H2_MAX_HEAD: u32 = 8 * 1024;

/// Pause after a failed `accept` (typically: out of file descriptors), so the loop does not
/// spin while connections close and free some.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `listener` until `shutdown` completes, then drains (see the module doc).
///
/// TLS is on when the configuration names a certificate; the files are loaded here, so a bad
/// file fails before anything is accepted. Each connection takes the acceptor in force when it
/// is accepted ([`AppState::tls`]), which a reload may replace.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let router = Arc::new(router);
    let limits = state.config().http.clone();
    state
        .tls()
        .replace(state.config().tls.as_ref().map(tls::acceptor).transpose()?);
    let builder = Arc::new(connection_builder(&limits));
    let permits = Arc::new(Semaphore::new(limits.max_connections.get()));
    let per_address = Slots::new(limits.max_connections_per_address.get());
    let mut connections = JoinSet::new();
    let upkeep = maintenance::spawn(state.clone());
    let delivery = state.federate().map(|federate| {
        let outbox = Outbox {
            server_name: state.config().server_name.clone(),
            settings: state.config().federation.clone(),
            store: state.store().clone(),
            federate: federate.clone(),
            metrics: state.metrics().clone(),
        };
        outbox::spawn(outbox, state.shutdown().signalled())
    });
    tokio::pin!(shutdown);

    let address = listener
        .local_addr()
        .map_or_else(|_| "unknown".to_owned(), |a| a.to_string());
    tracing::info!(
        %address,
        tls = state.config().tls.is_some(),
        server_name = %state.config().server_name,
        "listening"
    );
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(address_slot) = address_slot(&per_address, &state, peer.ip()) else {
                        state.metrics().connection_refused_per_address();
                        tracing::debug!(peer = logging::client_address(&state.config().log, peer), "per-address connection cap reached; closing");
                        continue;
                    };
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                        state.metrics().connection_refused();
                        tracing::debug!(peer = logging::client_address(&state.config().log, peer), "connection limit reached; closing");
                        continue;
                    };
                    connections.spawn(connection(
                        stream,
                        peer,
                        state.tls().current(),
                        state.clone(),
                        Arc::clone(&router),
                        Arc::clone(&builder),
                        (permit, address_slot),
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }

    drop(listener);
    state.shutdown().trigger();
    tracing::info!(
        open = connections.len(),
        "shutting down: draining connections"
    );
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.drain_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = connections.len(),
            "drain timeout: closing the remaining connections"
        );
        connections.shutdown().await;
    }
    if let Err(error) = upkeep.await {
        tracing::error!(%error, "maintenance task failed");
    }
    // Deliveries in flight are abandoned, not awaited: their messages stay pending and are
    // sent again after a restart, deduplicated by message id at the destination.
    if let Some(Err(error)) = match delivery {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::error!(%error, "delivery task failed");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The connection's place under its client address's cap: `Ok(None)` for a trusted proxy
/// (not capped by its own address), `Err` when the address has its share open.
fn address_slot(
    per_address: &Slots<IpAddr>,
    state: &AppState,
    peer: IpAddr,
) -> Result<Option<Slot<IpAddr>>, ()> {
    let config = state.config();
    if config.trusted_proxies.contains(peer) {
        return Ok(None);
    }
    let group = client_addr::group(peer, config.http.ipv6_prefix_len);
    per_address.try_take(&group).map(Some).ok_or(())
}

fn connection_builder(limits: &HttpLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // hyper's smallest read buffer: request heads here are small and bodies stream through
        // it, and every idle live stream holds one, so it is most of a stream's memory.
        .max_buf_size(8192);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE)
        .keep_alive_timeout(H2_KEEP_ALIVE)
        // What a peer can make one connection hold before kezd reads it (deploy/README.md,
        // "Memory under hostile traffic"): hyper's defaults (1 MiB of window, 200 streams of
        // 16 KiB heads) would let an HTTP/2 connection cost up to 4 MiB outside the budget.
        .initial_connection_window_size(H2_WINDOW)
        .initial_stream_window_size(H2_WINDOW)
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(H2_MAX_HEAD);
    builder
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    state: AppState,
    router: Arc<Router>,
    builder: Arc<Builder<TokioExecutor>>,
    _places: (OwnedSemaphorePermit, Option<Slot<IpAddr>>),
) {
    let _open = state.metrics().connection();
    // Small responses and SSE events should leave at once, not wait for Nagle.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(peer = logging::client_address(&state.config().log, peer), %error, "cannot set TCP_NODELAY");
    }
    // Below TLS, so the deadline is on what the client actually reads, for hyper's responses
    // and detached streams alike.
    let stream = WriteDeadline::new(
        stream,
        state.config().http.write_timeout,
        Arc::clone(state.metrics()),
    );
    let deadline = Instant::now() + state.config().http.header_read_timeout;
    match tls {
        None => {
            serve_io(Box::pin(drive(
                stream, peer, state, router, &builder, deadline,
            )))
            .await
        }
        // In an allocation of its own: this task's future is as large as its largest branch,
        // and a TLS connection's (rustls's state, the handshake's result) would otherwise be
        // paid by every plain connection, idle live streams included (3.3 KiB each).
        Some(acceptor) => {
            Box::pin(tls_connection(
                acceptor, stream, peer, state, router, &builder, deadline,
            ))
            .await;
        }
    }
}

/// The TLS handshake (bounded by the first request's `deadline`), then HTTP on it.
async fn tls_connection(
    acceptor: TlsAcceptor,
    stream: WriteDeadline<TcpStream>,
    peer: SocketAddr,
    state: AppState,
    router: Arc<Router>,
    builder: &Builder<TokioExecutor>,
    deadline: Instant,
) {
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream));
    match handshake.await {
        Ok(Ok(stream)) => {
            serve_io(Box::pin(drive(
                stream, peer, state, router, builder, deadline,
            )))
            .await;
        }
        Ok(Err(error)) => {
            tracing::debug!(peer = logging::client_address(&state.config().log, peer), %error, "TLS handshake failed")
        }
        Err(_) => tracing::debug!(
            peer = logging::client_address(&state.config().log, peer),
            "TLS handshake timed out"
        ),
    }
}

/// HTTP on a connection (`drive`, boxed: hyper's connection runs in its own allocation, freed
/// when hyper lets go of the socket), then the response detached from hyper, if there is one:
/// a connection that goes on as a detached stream holds none of hyper's memory.
async fn serve_io<I>(drive: Pin<Box<impl Future<Output = Option<Detached<I>>>>>)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    if let Some(detached) = drive.await {
        detached.serve().await;
    }
}

/// Serves HTTP on one connection until it ends, the first request head misses `deadline`, or
/// shutdown (then gracefully). Returns the response to go on writing without hyper when an
/// HTTP/1.1 request was answered with a [`Detachable`](crate::detach::Detachable) one.
async fn drive<I>(
    io: I,
    peer: SocketAddr,
    state: AppState,
    router: Arc<Router>,
    builder: &Builder<TokioExecutor>,
    deadline: Instant,
) -> Option<Detached<I>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handoff = Handoff::new();
    let got_request = Arc::new(AtomicBool::new(false));
    let activity = Activity::new();
    let mut busy = activity.watch();
    let service = {
        let state = state.clone();
        let got_request = Arc::clone(&got_request);
        let handoff = Arc::clone(&handoff);
        service_fn(move |request| {
            got_request.store(true, Ordering::Relaxed);
            let state = state.clone();
            let router = Arc::clone(&router);
            let handoff = Arc::clone(&handoff);
            // In progress until the response body is dropped (or this future, if the client
            // gives up first).
            let in_progress = activity.begin();
            // Boxed, and so freed once answered: hyper runs each HTTP/2 request as a task
            // whose state has room for this future or the response body, whichever is
            // larger, for as long as the response lasts; a live stream would otherwise hold
            // the whole handler's size.
            Box::pin(async move {
                let http1_1 = request.version() == Version::HTTP_11;
                let mut response = service::handle(state, &router, peer, request).await;
                if http1_1 {
                    handoff.detach(&mut response);
                }
                Ok::<_, Infallible>(response.map(|body| Holding::new(body, in_progress)))
            })
        })
    };
    let connection = builder.serve_connection(TokioIo::new(handoff.wrap(io)), service);
    tokio::pin!(connection);
    let stop = state.shutdown().signalled();
    tokio::pin!(stop);
    let first_head = tokio::time::sleep_until(deadline);
    tokio::pin!(first_head);
    let idle_timeout = state.config().http.idle_timeout;
    let idle = tokio::time::sleep(idle_timeout);
    tokio::pin!(idle);
    // After an idle GOAWAY, the streams still open get the write timeout to finish. An HTTP/2
    // client that answers pings but never opens its flow-control window would otherwise hold
    // the connection, and the response bytes buffered for it, for good.
    let write_timeout = state.config().http.write_timeout;
    let closing = tokio::time::sleep(write_timeout);
    tokio::pin!(closing);
    let mut idle_closed = false;
    let mut watching = true;
    let mut draining = false;
    let mut awaiting_first = true;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result
                    && !handoff.requested()
                {
                    tracing::debug!(peer = logging::client_address(&state.config().log, peer), error = %error, "connection ended with an error");
                }
                break;
            }
            () = &mut stop, if !draining => {
                connection.as_mut().graceful_shutdown();
                draining = true;
            }
            changed = busy.changed(), if watching => match changed {
                // The last request in progress ended: the idle clock starts again.
                Ok(()) if *busy.borrow_and_update() == 0 => {
                    idle.as_mut().reset(Instant::now() + idle_timeout);
                }
                Ok(()) => {}
                Err(_) => watching = false,
            },
            () = &mut idle, if !draining && *busy.borrow() == 0 => {
                tracing::debug!(peer = logging::client_address(&state.config().log, peer), "idle for the idle timeout: closing");
                state.metrics().connection_idle_closed();
                connection.as_mut().graceful_shutdown();
                draining = true;
                idle_closed = true;
                closing.as_mut().reset(Instant::now() + write_timeout);
            }
            () = &mut closing, if idle_closed => {
                tracing::debug!(peer = logging::client_address(&state.config().log, peer), "streams still stalled after the idle GOAWAY: closing");
                break;
            }
            () = &mut first_head, if awaiting_first => {
                if !got_request.load(Ordering::Relaxed) {
                    tracing::debug!(peer = logging::client_address(&state.config().log, peer), "no request head before the header timeout: closing");
                    break;
                }
                awaiting_first = false;
            }
        }
    }
    handoff.detached()
}
