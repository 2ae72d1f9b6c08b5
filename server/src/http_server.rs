//! The HTTP server loop: accepts TCP connections and serves the poem endpoint over hyper's HTTP/1.1
//! with the limits poem's own `Server` does not offer:
//! - a request-header read timeout (`server.header_read_timeout`), which also closes idle
//!   keep-alive connections, so half-open clients cannot hold sockets forever;
//! - a cap on open connections (`server.max_connections`, lowered to fit the open-file limit);
//!   when it is reached, the connection that has waited longest without a request in progress is
//!   closed for the new one (never a WebSocket), else the new one is turned away;
//! - a pause instead of a busy loop when `accept` fails for lack of file descriptors.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aniworld_core::config::ServerConfig;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use poem::endpoint::BoxEndpoint;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// File descriptors kept free for the database, downloads, plugins and logs.
const MIN_FD_RESERVE: u64 = 64;
/// Pause after `accept` failed because the process or system ran out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Pause after closing an idle connection to free a descriptor for `accept`.
const EVICTION_PAUSE: Duration = Duration::from_millis(5);

/// Connection limits, from `server.*`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The configured limits, the cap lowered to what the open-file limit allows.
    pub fn from_config(server: &ServerConfig) -> Self {
        let configured = usize::try_from(server.max_connections).unwrap_or(usize::MAX);
        let max_connections = match fd_budget() {
            Some(budget) if budget < configured => {
                tracing::info!(
                    configured,
                    allowed = budget,
                    "server.max_connections lowered to fit the open-file limit"
                );
                budget
            }
            _ => configured,
        };
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(server.header_read_timeout.max(1)),
            max_connections: max_connections.max(1),
        }
    }
}

/// Connections the open-file limit leaves room for, after a reserve for everything else.
fn fd_budget() -> Option<usize> {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current?;
        let reserve = MIN_FD_RESERVE.max(limit / 4);
        Some(usize::try_from(limit.saturating_sub(reserve).max(16)).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Whether `accept` failed because descriptors or buffers ran out (retrying at once would spin).
fn is_resource_exhaustion(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        let code = e.raw_os_error();
        [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
            .iter()
            .any(|errno| code == Some(errno.raw_os_error()))
    }
    #[cfg(not(unix))]
    {
        e.kind() == io::ErrorKind::OutOfMemory
    }
}

/// One open connection as the cap sees it.
struct Connection {
    /// Requests whose response is still being produced or sent.
    in_flight: AtomicUsize,
    /// Whether a request has ever started on it.
    requested: AtomicBool,
    /// Upgraded to a WebSocket: never closed for a newcomer.
    upgraded: AtomicBool,
    /// When it last became idle (opened, or its last response finished).
    idle_since: Mutex<Instant>,
    /// Cancelled to close it for a newcomer.
    evict: CancellationToken,
}

impl Connection {
    fn idle_since(&self) -> Instant {
        *self.idle_since.lock().expect("connection lock")
    }
}

/// Every open connection (WebSockets included, until their socket closes).
#[derive(Default)]
struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Registry {
    fn len(&self) -> usize {
        self.open.lock().expect("registry lock").len()
    }

    fn register(self: &Arc<Self>) -> (Arc<Connection>, Registration) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Connection {
            in_flight: AtomicUsize::new(0),
            requested: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
            evict: CancellationToken::new(),
        });
        self.open
            .lock()
            .expect("registry lock")
            .insert(id, conn.clone());
        (
            conn,
            Registration {
                registry: self.clone(),
                id,
            },
        )
    }

    /// Closes the connection a newcomer may replace: the longest-waiting one that never sent a
    /// request, else the longest-idle keep-alive one. `false` when every connection is busy.
    fn evict_one(&self) -> bool {
        let open = self.open.lock().expect("registry lock");
        let idle = open.values().filter(|c| {
            !c.evict.is_cancelled()
                && !c.upgraded.load(Ordering::Acquire)
                && c.in_flight.load(Ordering::Acquire) == 0
        });
        let victim = idle.min_by_key(|c| (c.requested.load(Ordering::Acquire), c.idle_since()));
        match victim {
            Some(c) => {
                c.evict.cancel();
                true
            }
            None => false,
        }
    }
}

/// Removes its connection from the registry when the socket is dropped.
struct Registration {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry
            .open
            .lock()
            .expect("registry lock")
            .remove(&self.id);
    }
}

/// The TCP stream with its registration: it stays registered for as long as the socket lives,
/// also after an upgrade hands it to a WebSocket.
struct TrackedStream {
    inner: TcpStream,
    _registration: Registration,
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Marks a request in flight until its response body is dropped (sent or abandoned).
struct InFlight(Arc<Connection>);

impl InFlight {
    fn enter(conn: Arc<Connection>) -> Self {
        conn.requested.store(true, Ordering::Release);
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.idle_since.lock().expect("connection lock") = Instant::now();
        }
    }
}

/// Counts running connection tasks so shutdown can wait for them.
#[derive(Default)]
struct Tasks {
    running: AtomicUsize,
    idle: Notify,
}

struct TaskGuard(Arc<Tasks>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

type SharedEndpoint = Arc<BoxEndpoint<'static, Response>>;

/// Serves `endpoint` on `listener` until `signal` completes; then stops accepting, lets running
/// requests finish for up to `grace`, and closes what is left.
pub async fn serve(
    listener: TcpListener,
    endpoint: SharedEndpoint,
    limits: ConnectionLimits,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    let registry = Arc::new(Registry::default());
    let tasks = Arc::new(Tasks::default());
    let draining = CancellationToken::new();
    let hard_stop = CancellationToken::new();
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(signal);
    loop {
        let accepted = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_resource_exhaustion(&e) => {
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, open = registry.len(), "cannot accept connections: out of file descriptors; pausing");
                    last_warning = Some(Instant::now());
                }
                // Closing an idle connection frees a descriptor within moments; with nothing to
                // close, wait longer for one to end by itself.
                let pause = if registry.evict_one() {
                    EVICTION_PAUSE
                } else {
                    ACCEPT_BACKOFF
                };
                tokio::time::sleep(pause).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        if registry.len() >= limits.max_connections && !registry.evict_one() {
            if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(
                    max = limits.max_connections,
                    "connection limit reached and every connection is busy; turning a client away"
                );
                last_warning = Some(Instant::now());
            }
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (conn, registration) = registry.register();
        let io = TrackedStream {
            inner: stream,
            _registration: registration,
        };
        tasks.running.fetch_add(1, Ordering::AcqRel);
        let guard = TaskGuard(tasks.clone());
        tokio::spawn(serve_connection(
            io,
            local,
            remote,
            conn,
            endpoint.clone(),
            limits,
            draining.clone(),
            hard_stop.clone(),
            guard,
        ));
    }
    drop(listener);
    draining.cancel();
    let wait = async {
        loop {
            let idle = tasks.idle.notified();
            if tasks.running.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    };
    if tokio::time::timeout(grace, wait).await.is_err() {
        tracing::info!(
            connections = tasks.running.load(Ordering::Acquire),
            "closing connections still open after the shutdown grace period"
        );
        hard_stop.cancel();
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    io: TrackedStream,
    local: SocketAddr,
    remote: SocketAddr,
    conn: Arc<Connection>,
    endpoint: SharedEndpoint,
    limits: ConnectionLimits,
    draining: CancellationToken,
    hard_stop: CancellationToken,
    _guard: TaskGuard,
) {
    let evict = conn.evict.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let endpoint = endpoint.clone();
        let in_flight = InFlight::enter(conn.clone());
        async move {
            let request: poem::Request = (
                req,
                LocalAddr(Addr::SocketAddr(local)),
                RemoteAddr(Addr::SocketAddr(remote)),
                poem::http::uri::Scheme::HTTP,
            )
                .into();
            let response: hyper::Response<BoxBody<Bytes, io::Error>> =
                endpoint.get_response(request).await.into();
            if response.status() == hyper::StatusCode::SWITCHING_PROTOCOLS {
                in_flight.0.upgraded.store(true, Ordering::Release);
            }
            // The request stays in flight until its body has been sent (or dropped).
            let response = response.map(|body| {
                body.map_frame(move |frame| {
                    let _ = &in_flight;
                    frame
                })
                .boxed()
            });
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        _ = &mut connection => return,
        () = evict.cancelled() => {
            tracing::debug!(%remote, "closing an idle connection for a new one");
            return;
        }
        () = draining.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = &mut connection => {}
        () = hard_stop.cancelled() => {}
    }
}
