//! The serve loop of the HTTP port, in place of `axum::serve` (which has no timeouts and no
//! connection limit): a connection flood must not take down Telegram's webhook intake, the
//! gateway, the API or `/health`.
//!
//! - **Header timeout**: hyper closes a connection whose request line and headers do not
//!   arrive within `header_timeout` (a kept-alive connection waiting for its next request
//!   included); headers are capped at [`MAX_HEADER_BYTES`].
//! - **Body rate**: every request body is read through [`MinRate`](super::body::MinRate).
//! - **Idle**: a connection on which no byte moves either way while no request is being
//!   handled (a client that stops reading its answer) is closed after `idle_timeout`.
//!   A long poll in progress is a request being handled, so it never counts as idle.
//! - **Cap**: at most `max_connections` at once. A new connection beyond it takes the place
//!   of the one that has waited longest without a request in progress (slow or idle
//!   connections go first, work in progress never); when every connection is working, the
//!   new one is closed at once (load shedding). The cap is kept below the descriptor limit,
//!   whose soft value is raised to the hard one at start ([`raise_fd_limit`]).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::Service;

use super::body::MinRate;
use crate::config::HttpConfig;
use crate::shutdown::Shutdown;

/// Largest request head (request line and headers) read.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Descriptors kept free of connections: the database, outgoing calls to Telegram and
/// webhook receivers, logs.
pub const FD_RESERVE: u64 = 256;
/// How long a stop waits for requests in progress before closing what is left.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Raises the soft limit of open descriptors to the hard limit; returns the soft limit in
/// force (None where the platform has no such limit).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "could not raise the open-files limit");
                rlimit::getrlimit(rlimit::Resource::NOFILE)
                    .ok()
                    .map(|(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    None
}

/// `max_connections` kept below the descriptor limit `fds` (with [`FD_RESERVE`] spare).
pub fn effective_cap(max_connections: usize, fds: Option<u64>) -> usize {
    match fds {
        Some(fds) => {
            let room = fds.saturating_sub(FD_RESERVE).max(16) as usize;
            if room < max_connections {
                tracing::warn!(
                    max_connections,
                    open_files_limit = fds,
                    using = room,
                    "http.max_connections is above what the open-files limit allows; raise \
                     the limit (LimitNOFILE= in systemd, ulimit -n) or lower max_connections"
                );
            }
            max_connections.min(room)
        }
        None => max_connections,
    }
}

/// One open connection as the cap sees it.
struct Conn {
    /// Requests being handled now.
    busy: AtomicUsize,
    /// Milliseconds (since the server started) of the last byte read or written.
    io_at: AtomicU64,
    /// Milliseconds of the accept or of the end of the last request.
    rested_since: AtomicU64,
    /// Told to close (evicted by the cap).
    evict: Notify,
}

/// The open connections.
struct Registry {
    epoch: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits connection `id` within `cap`, evicting the longest-resting connection when
    /// full; `None` when every connection is busy (the new one is shed).
    fn admit(&self, id: u64, cap: usize) -> Option<Arc<Conn>> {
        let mut conns = self.lock();
        if conns.len() >= cap {
            let victim = conns
                .iter()
                .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, c)| c.rested_since.load(Ordering::Relaxed))
                .map(|(id, _)| *id)?;
            if let Some(c) = conns.remove(&victim) {
                c.evict.notify_one();
            }
        }
        let now = self.now();
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            io_at: AtomicU64::new(now),
            rested_since: AtomicU64::new(now),
            evict: Notify::new(),
        });
        conns.insert(id, conn.clone());
        Some(conn)
    }

    fn leave(&self, id: u64) {
        self.lock().remove(&id);
    }
}

/// Serves `app` on `listener` with the limits of `cfg` until `shutdown`; then stops
/// accepting, lets requests in progress finish (at most [`DRAIN`]) and returns.
pub async fn serve(listener: TcpListener, app: Router, cfg: HttpConfig, mut shutdown: Shutdown) {
    let cap = effective_cap(cfg.max_connections, raise_fd_limit());
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        conns: Mutex::new(HashMap::new()),
    });
    let (stop, _) = tokio::sync::watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    let mut shed = 0u64;
    let mut last_report = Instant::now() - Duration::from_secs(60);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            _ = shutdown.recv() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors or memory: wait a little rather than spin.
                if last_report.elapsed() > Duration::from_secs(10) {
                    tracing::warn!(error = %e, "http: accepting a connection failed");
                    last_report = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        next_id += 1;
        let Some(conn) = registry.admit(next_id, cap) else {
            drop(stream);
            shed += 1;
            if last_report.elapsed() > Duration::from_secs(10) {
                tracing::warn!(
                    cap,
                    shed,
                    "http: every connection is busy; new connections are being closed"
                );
                last_report = Instant::now();
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        tasks.spawn(connection(
            next_id,
            stream,
            peer,
            conn,
            registry.clone(),
            app.clone(),
            cfg.clone(),
            stop.subscribe(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "http: requests still in progress at stop were cut"
        );
        tasks.shutdown().await;
    }
}

/// Serves one connection until it ends, is evicted, goes idle or the server stops.
#[allow(clippy::too_many_arguments)]
async fn connection(
    id: u64,
    stream: TcpStream,
    _peer: SocketAddr,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    app: Router,
    cfg: HttpConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let io = Tracked {
        inner: stream,
        conn: conn.clone(),
        registry: registry.clone(),
    };
    let (rate, window) = (cfg.body_min_rate, cfg.body_window);
    let svc_conn = conn.clone();
    let svc_registry = registry.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = Busy::start(svc_conn.clone(), svc_registry.clone());
        let req = req.map(|b| axum::body::Body::new(MinRate::new(b, rate, window)));
        let mut app = app.clone();
        async move {
            let response = app.call(req).await;
            drop(busy);
            response
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES.max(8192) * 2)
        .max_headers(100);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let served = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(served);
    let idle = idle_watch(&conn, &registry, cfg.idle_timeout);
    tokio::pin!(idle);
    tokio::select! {
        _ = served.as_mut() => {}
        _ = conn.evict.notified() => {}
        _ = &mut idle => {}
        _ = async { stop.wait_for(|s| *s).await.is_ok() } => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
    registry.leave(id);
}

/// Resolves when nothing moved on the connection for `idle` while no request was busy.
async fn idle_watch(conn: &Conn, registry: &Registry, idle: Duration) {
    let idle_ms = idle.as_millis() as u64;
    loop {
        let quiet = registry
            .now()
            .saturating_sub(conn.io_at.load(Ordering::Relaxed));
        if quiet >= idle_ms && conn.busy.load(Ordering::Acquire) == 0 {
            return;
        }
        let wait = idle_ms.saturating_sub(quiet).max(1_000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

/// Marks a request in progress on its connection until dropped.
struct Busy {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Busy {
    fn start(conn: Arc<Conn>, registry: Arc<Registry>) -> Self {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Self { conn, registry }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let now = self.registry.now();
        self.conn.rested_since.store(now, Ordering::Relaxed);
        self.conn.io_at.store(now, Ordering::Relaxed);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A TCP stream that records when bytes last moved.
struct Tracked {
    inner: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Tracked {
    fn moved(&self) {
        self.conn
            .io_at
            .store(self.registry.now(), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.moved();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
