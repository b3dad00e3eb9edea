//! The gateway's client to Telegram for the pass-through: hyper's pooled HTTP/1.1 client
//! (keep-alive, `TCP_NODELAY`, rustls with the Mozilla roots for `https://`).
//!
//! Why not reqwest (which Hotline uses elsewhere): every call through it parses the URL,
//! wraps the request in redirect and decoding layers and boxes its futures — more CPU per
//! call than the rest of the pass-through together (bench/README.md). Here a call is a
//! `hyper::Request` built from a prefix prepared once per bot, and Telegram's answer
//! comes back as hyper gives it.
//!
//! Calls whose request is already in memory (nearly all: see `forward`) go through
//! [`Inline`] instead, which drives the connection from the calling task.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Legacy;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The pooled client (cheap to clone; one pool for every bot).
pub type Client = Legacy<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

/// An upstream call's failure.
pub type Error = hyper_util::client::legacy::Error;

/// A connection to Telegram is given up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle pooled connection is closed after this long.
pub const POOL_IDLE: Duration = Duration::from_secs(90);

/// The client the gateway forwards with.
pub fn client() -> Client {
    client_with(CONNECT_TIMEOUT)
}

/// Like [`client`], giving up a connection after `connect_timeout` (the hop to another
/// instance, on the same network, gives up sooner than a call to Telegram).
pub fn client_with(connect_timeout: Duration) -> Client {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Legacy::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

/// Rested connections an [`Inline`] pool keeps at most (as many as the benchmark's nginx
/// keeps to its upstream: bench/README.md).
pub const MAX_IDLE: usize = 256;

/// The connector of [`client`], for [`Inline`].
fn connector() -> hyper_rustls::HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

type Stream = hyper_rustls::MaybeHttpsStream<hyper_util::rt::TokioIo<tokio::net::TcpStream>>;
type Conn = hyper::client::conn::http1::Connection<Stream, Body>;
type Sender = hyper::client::conn::http1::SendRequest<Body>;

/// One kept-alive connection to Telegram, resting in an [`Inline`] pool.
struct Idle {
    send: Sender,
    conn: Pin<Box<Conn>>,
    since: std::time::Instant,
}

/// Why an inline call failed (never holds the URI: it holds the token).
#[derive(Debug, thiserror::Error)]
pub enum InlineError {
    /// No connection could be made.
    #[error("cannot connect: {0}")]
    Connect(Box<dyn std::error::Error + Send + Sync>),
    /// The exchange on the connection failed.
    #[error(transparent)]
    Http(#[from] hyper::Error),
    /// A new connection closed before it took the request.
    #[error("the connection closed at once")]
    Closed,
    /// Telegram's answer was larger than asked for.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

/// Telegram's answer to an inline call.
pub enum Answer {
    /// Read whole (its `Content-Length` was at most the limit asked for).
    Whole(axum::http::response::Parts, bytes::Bytes),
    /// Too large (or of unknown length) to read here: streamed, its connection driven by
    /// a task of its own and not reused.
    Streamed(axum::http::Response<hyper::body::Incoming>),
}

/// Kept-alive HTTP/1.1 connections to one bot's Bot API server, driven by the task of the
/// call that uses them rather than by a task per connection.
///
/// Why not the pooled [`Client`] for small calls: its connection task puts two hand-offs
/// between tasks into every call (the request to the connection's task, the answer back),
/// each a wake-up that may land on the other worker, and its pool hashes the
/// `(scheme, authority)` key byte by byte with SipHash three times per call
/// (bench/README.md). Here the request's task writes the request and reads the answer
/// itself, and a call takes the most recently rested connection off a plain stack.
/// Used for calls whose request body is already in memory; a streamed upload or a
/// download goes through [`Client`].
pub struct Inline {
    connector: hyper_rustls::HttpsConnector<HttpConnector>,
    idle: std::sync::Mutex<Vec<Idle>>,
}

impl Default for Inline {
    fn default() -> Self {
        Self::new()
    }
}

impl Inline {
    /// An empty pool.
    pub fn new() -> Self {
        Self {
            connector: connector(),
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A rested connection still open, or none.
    fn take(&self) -> Option<Idle> {
        let mut idle = self.lock();
        while let Some(c) = idle.pop() {
            if c.since.elapsed() < POOL_IDLE && !c.send.is_closed() {
                return Some(c);
            }
        }
        None
    }

    fn rest(&self, send: Sender, conn: Pin<Box<Conn>>) {
        let now = std::time::Instant::now();
        let mut idle = self.lock();
        // The stack's bottom rested longest: connections unused for [`POOL_IDLE`] (after a
        // burst, fewer calls at once) are closed rather than kept open for good.
        let stale = idle
            .iter()
            .take_while(|c| now.duration_since(c.since) >= POOL_IDLE)
            .count();
        idle.drain(..stale);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                send,
                conn,
                since: now,
            });
        }
    }

    async fn connect(&self, uri: &axum::http::Uri) -> Result<Idle, InlineError> {
        use tower::Service as _;
        let io = self
            .connector
            .clone()
            .call(uri.clone())
            .await
            .map_err(InlineError::Connect)?;
        let (send, conn) = hyper::client::conn::http1::handshake(io).await?;
        Ok(Idle {
            send,
            conn: Box::pin(conn),
            since: std::time::Instant::now(),
        })
    }

    /// Makes the call, reading the answer whole when its length is at most `max`.
    ///
    /// A rested connection that turns out closed before the request was written is
    /// replaced by a new one (the request was not sent, so it is not sent twice).
    pub async fn call(
        &self,
        mut req: axum::http::Request<Body>,
        max: usize,
    ) -> Result<Answer, InlineError> {
        loop {
            let (c, rested) = match self.take() {
                Some(c) => (c, true),
                None => (self.connect(req.uri()).await?, false),
            };
            let Idle {
                mut send, mut conn, ..
            } = c;
            // Ready: the connection takes a request (a rested one may have been closed).
            let ready = std::future::poll_fn(|cx| {
                if let Poll::Ready(r) = conn.as_mut().poll(cx) {
                    return Poll::Ready(Err(r.err()));
                }
                send.poll_ready(cx).map_err(Some)
            })
            .await;
            match ready {
                Ok(()) => {}
                Err(_) if rested => continue,
                Err(Some(e)) => return Err(e.into()),
                Err(None) => return Err(InlineError::Closed),
            }
            let mut answer = std::pin::pin!(send.try_send_request(req));
            let mut conn_done = false;
            let sent = std::future::poll_fn(|cx| {
                if !conn_done {
                    if let Poll::Ready(r) = conn.as_mut().poll(cx) {
                        conn_done = true;
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "gateway: connection to Telegram failed");
                        }
                    }
                }
                // The connection ending fails the answer's future (hyper answers every
                // request it took), so this never waits for nothing.
                answer.as_mut().poll(cx)
            })
            .await;
            let resp = match sent {
                Ok(resp) => resp,
                Err(mut e) => match e.take_message() {
                    Some(back) if rested => {
                        req = back;
                        continue;
                    }
                    _ => return Err(e.into_error().into()),
                },
            };
            let whole = http_body::Body::size_hint(resp.body())
                .exact()
                .is_some_and(|l| l <= max as u64);
            if !whole {
                if !conn_done {
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "gateway: connection to Telegram failed");
                        }
                    });
                }
                return Ok(Answer::Streamed(resp));
            }
            let (parts, body) = resp.into_parts();
            let mut read = std::pin::pin!(axum::body::to_bytes(Body::new(body), max));
            let bytes = std::future::poll_fn(|cx| {
                if !conn_done {
                    if let Poll::Ready(r) = conn.as_mut().poll(cx) {
                        conn_done = true;
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "gateway: connection to Telegram failed");
                        }
                    }
                }
                read.as_mut().poll(cx)
            })
            .await
            .map_err(|e| match e.into_inner().downcast::<hyper::Error>() {
                Ok(e) => InlineError::Http(*e),
                Err(_) => InlineError::TooLarge(max),
            })?;
            if !conn_done && !send.is_closed() {
                self.rest(send, conn);
            }
            return Ok(Answer::Whole(parts, bytes));
        }
    }
}
