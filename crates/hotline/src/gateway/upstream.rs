//! The gateway's client to Telegram for the pass-through: hyper's pooled HTTP/1.1 client
//! (keep-alive, `TCP_NODELAY`, rustls with the Mozilla roots for `https://`).
//!
//! Why not reqwest (which Hotline uses elsewhere): every call through it parses the URL,
//! wraps the request in redirect and decoding layers and boxes its futures — more CPU per
//! call than the rest of the pass-through together (bench/README.md). Here a call is a
//! `hyper::Request` built from a prefix prepared once per bot, and Telegram's answer
//! comes back as hyper gives it.

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
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
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
