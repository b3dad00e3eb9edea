//! Several instances on one database: a parallel bot's calls (`/bot<token>/…`) are served
//! by the connection's owner only, so Telegram's one-poller rule for getUpdates, the
//! webhook settings and the order of mirrored sends hold across instances. An instance
//! that receives a call for a connection it does not own passes it to the owner (at the
//! address in the connection's lease, `http.advertise`) and streams the answer back
//! unchanged: status, headers, body — a long poll included, since the hop waits as long as
//! the owner does.
//!
//! - **One hop.** A passed call carries [`HEADER`]; an instance that receives one and does
//!   not own the connection (any more) answers `421 Misdirected Request` with the same
//!   header and does nothing else, and the sender finds the owner again. No call is passed
//!   twice, so no loop, whatever the addresses say.
//! - **No inter-instance secret.** The header grants nothing: it only stops a further hop.
//!   What authorises a call is the bot token it carries, the same on either side of the
//!   hop (so the hop must run where that token may travel: a private network, or
//!   `https://` in `http.advertise`). The token is in the URI, which is never logged.
//! - **Failover.** While there is no live owner (its lease lapsed or was released, it does
//!   not answer, or it is starting) the call waits up to [`OWNER_WAIT`] for one — this
//!   instance may become it, and then serves the call itself. After that it gets
//!   Telegram's `429 Too Many Requests` with `retry_after` [`RETRY_AFTER`]: the call was
//!   not executed, and every Bot API framework's polling loop waits out a 429 by its
//!   `retry_after` (aiogram, python-telegram-bot, telegraf, grammY) while the auto-retry
//!   helpers (grammY's auto-retry, aiogram's and PTB's rate limiters) repeat exactly 429s;
//!   a 5xx would say "maybe executed", which a careful bot does not repeat. A call that
//!   reached the owner and got no answer (the owner died meanwhile) gets `502 Bad Gateway`,
//!   as when Telegram is unreachable: it may have been executed.
//! - **Cheap when owned.** The owner check is one atomic load (`Bot::here`); the owner's
//!   address is read from the lease at most once per lease expiry (cached until then, or
//!   until the owner refuses).
//!
//! File downloads (`/file/bot<token>/…`) are not passed on: they touch no connection state
//! and no limit, so any instance streams them from Telegram itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Body as _;
use serde_json::json;

use super::{Bot, Gateway, SMALL_BODY};
use crate::store::now_ms;

/// Marks a call passed on by another instance (its value: the sender's instance id).
pub const HEADER: &str = "x-hotline-forwarded";
/// Longest a call waits for a live owner before it is answered with a 429.
pub const OWNER_WAIT: Duration = Duration::from_secs(5);
/// The `retry_after` of that 429, seconds: about when a new owner should be there (a dead
/// owner is replaced within the lease's lapse plus a retry, `lease::LAPSE`).
pub const RETRY_AFTER: u64 = 2;
/// How often a waiting call looks for the owner again.
const LOOK_EVERY: Duration = Duration::from_millis(100);
/// At most one warning about unreachable owners per connection this often (a failover
/// meets every call of a busy bot).
const WARN_EVERY_MS: i64 = 10_000;

/// Where the owner of a connection was found (cached on the bot, see `Bot::peer`).
#[derive(Clone, Debug)]
pub struct Peer {
    /// The owner's base URL (`http://10.0.0.5:8080`).
    base: Arc<str>,
    /// The lease's expiry when read: the owner holds it at least until then (unless it
    /// lets go, which it tells by refusing calls).
    until: i64,
}

/// What to do with a call for a connection this instance does not own.
pub enum Hop {
    /// Answered (by the owner, or a 429/502 here).
    Answered(Response),
    /// Serve it here after all: this instance became the owner while the call waited, or
    /// the owner advertises no address (an instance listening on `0.0.0.0` without
    /// `http.advertise`: the calls are served where they land, as before forwarding).
    Local(Request),
}

/// The owner as looked up for one attempt.
enum Owner {
    /// Another instance, reachable at this base URL.
    At(Arc<str>),
    /// None live right now (lapsed, released, or this instance holds the lease and is
    /// starting its owner tasks): wait.
    Wait,
    /// An owner that cannot be forwarded to (no advertised address, or this instance's
    /// own address): serve here.
    Unreachable,
}

/// The body of a call to pass: read whole (small: can be sent again if the first owner
/// tried refuses) or streamed (once).
enum Payload {
    Bytes(Bytes),
    Stream(Option<Body>),
}

impl Payload {
    fn for_attempt(&mut self) -> Option<Body> {
        match self {
            Payload::Bytes(b) => Some(Body::from(b.clone())),
            Payload::Stream(s) => s.take(),
        }
    }

    fn into_body(self) -> Body {
        match self {
            Payload::Bytes(b) => Body::from(b),
            Payload::Stream(s) => s.unwrap_or_else(Body::empty),
        }
    }
}

/// Headers that belong to one connection, never passed across a hop (RFC 9110 7.6.1),
/// and `host` (the owner's, set by the client).
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

/// Telegram's 429 for a call that found no owner in time (nothing was executed).
fn busy() -> Response {
    let body = json!({
        "ok": false,
        "error_code": 429,
        "description": format!("Too Many Requests: retry after {RETRY_AFTER}"),
        "parameters": {"retry_after": RETRY_AFTER},
    });
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER)),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The answer of an instance that received a passed call for a connection it does not
/// own: the sender looks for the owner again (never seen by the bot).
pub fn misdirected() -> Response {
    let body = json!({
        "ok": false,
        "error_code": 421,
        "description": "Misdirected Request: this instance does not own the connection",
    });
    (
        StatusCode::MISDIRECTED_REQUEST,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                HeaderName::from_static(HEADER),
                HeaderValue::from_static("1"),
            ),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Whether a call was passed on by another instance.
pub fn was_forwarded(req: &Request) -> bool {
    req.headers().contains_key(HEADER)
}

impl Bot {
    /// Whether this instance owns the connection now (its owner tasks run here): the
    /// gateway serves the bot's calls itself. One atomic load: every call asks.
    pub fn here(&self) -> bool {
        self.here.load(Ordering::Acquire)
    }

    fn cached_peer(&self) -> Option<Peer> {
        self.peer.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn forget_peer(&self) {
        *self.peer.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Warns about the hop at most every [`WARN_EVERY_MS`].
    fn warn_hop(&self, what: &str, detail: &str) {
        let now = now_ms();
        let last = self.hop_warned.load(Ordering::Relaxed);
        if now - last >= WARN_EVERY_MS
            && self
                .hop_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(connection = %self.ctx.name, detail, "gateway: {what}");
        }
    }
}

/// The owner of `bot`'s connection, from the cache or the lease.
async fn owner(gw: &Gateway, bot: &Bot) -> Owner {
    let now = now_ms();
    if let Some(p) = bot.cached_peer().filter(|p| p.until > now) {
        return Owner::At(p.base);
    }
    let lease = match gw.store.lease_owner(bot.ctx.connection).await {
        Ok(l) => l,
        Err(e) => {
            bot.warn_hop("the connection's lease is not readable", &e.to_string());
            return Owner::Wait;
        }
    };
    let Some(lease) = lease.filter(|l| l.expires_at > now) else {
        return Owner::Wait;
    };
    if lease.owner == gw.store.instance_id() {
        return Owner::Wait;
    }
    let address = lease.address.trim();
    if address.is_empty() {
        bot.warn_hop(
            "the owner instance advertises no address (set http.advertise): serving the \
             parallel bot's calls here, Telegram's one-poller rule holds per instance only",
            &lease.owner,
        );
        return Owner::Unreachable;
    }
    // Leases of older versions hold the bound address without a scheme.
    let base: Arc<str> = if address.contains("://") {
        Arc::from(address.trim_end_matches('/'))
    } else {
        Arc::from(format!("http://{address}"))
    };
    if &*base == gw.advertised() {
        bot.warn_hop(
            "the owner instance advertises this instance's own address (give each instance \
             its own http.advertise): serving the parallel bot's calls here",
            &base,
        );
        return Owner::Unreachable;
    }
    *bot.peer.lock().unwrap_or_else(|e| e.into_inner()) = Some(Peer {
        base: base.clone(),
        until: lease.expires_at,
    });
    Owner::At(base)
}

/// Passes a call for a connection this instance does not own to its owner (see the
/// module doc). The bot's body is read whole when small, so the call can go to another
/// owner if the first refuses; a large upload streams through once.
pub async fn to_owner(gw: &Gateway, bot: &Arc<Bot>, req: Request) -> Hop {
    let (parts, body) = req.into_parts();
    let len: Option<usize> = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    let small = match len {
        Some(l) => l <= SMALL_BODY,
        None => !chunked && parts.version < axum::http::Version::HTTP_2,
    };
    let mut payload = if small {
        match axum::body::to_bytes(body, SMALL_BODY).await {
            Ok(b) => Payload::Bytes(b),
            Err(_) => return Hop::Answered(super::too_large()),
        }
    } else {
        Payload::Stream(Some(body))
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let deadline = tokio::time::Instant::now() + OWNER_WAIT;
    loop {
        if bot.here() {
            return Hop::Local(Request::from_parts(parts, payload.into_body()));
        }
        match owner(gw, bot).await {
            Owner::Unreachable => {
                crate::metrics::gateway_forwarded(&bot.ctx.name, "served_here");
                return Hop::Local(Request::from_parts(parts, payload.into_body()));
            }
            Owner::Wait => {}
            Owner::At(base) => {
                let Some(body) = payload.for_attempt() else {
                    break;
                };
                let Ok(uri) = Uri::try_from(format!("{base}{path}")) else {
                    bot.warn_hop("the owner's address is not a URL", &base);
                    bot.forget_peer();
                    return Hop::Answered(super::tg_error(502, "Bad Gateway"));
                };
                let mut up = axum::http::Request::new(body);
                *up.method_mut() = parts.method.clone();
                *up.uri_mut() = uri;
                let headers = up.headers_mut();
                for (name, value) in parts.headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
                    headers.append(name, value.clone());
                }
                if let Ok(me) = HeaderValue::from_str(gw.store.instance_id()) {
                    headers.insert(HeaderName::from_static(HEADER), me);
                }
                match gw.upstream.request(up).await {
                    Ok(resp)
                        if resp.status() == StatusCode::MISDIRECTED_REQUEST
                            && resp.headers().contains_key(HEADER) =>
                    {
                        // It let go of the connection meanwhile: look again.
                        bot.forget_peer();
                    }
                    Ok(resp) => {
                        crate::metrics::gateway_forwarded(&bot.ctx.name, "forwarded");
                        return Hop::Answered(answer(bot, resp).await);
                    }
                    Err(e) if e.is_connect() => {
                        // Nothing was sent: the owner is gone or not listening yet.
                        bot.forget_peer();
                        bot.warn_hop("the owner instance is not reachable", &base);
                    }
                    Err(e) => {
                        bot.forget_peer();
                        bot.warn_hop(
                            "the owner instance did not answer a call passed to it",
                            &format!("{base}: {e}"),
                        );
                        crate::metrics::gateway_forwarded(&bot.ctx.name, "failed");
                        return Hop::Answered(super::tg_error(502, "Bad Gateway"));
                    }
                }
            }
        }
        if tokio::time::Instant::now() + LOOK_EVERY > deadline {
            break;
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
    crate::metrics::gateway_forwarded(&bot.ctx.name, "no_owner");
    Hop::Answered(busy())
}

/// The owner's answer, unchanged but for the headers of the hop: whole when small, else
/// streamed (a file, a long poll's answer arrives whole anyway).
async fn answer(bot: &Bot, resp: axum::http::Response<hyper::body::Incoming>) -> Response {
    let (parts, body) = resp.into_parts();
    let mut b = Response::builder().status(parts.status);
    for (name, value) in parts.headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
        b = b.header(name, value);
    }
    let small = body
        .size_hint()
        .exact()
        .is_some_and(|l| l <= super::forward::INLINE_MAX as u64);
    let body = if small {
        match axum::body::to_bytes(Body::new(body), super::forward::INLINE_MAX).await {
            Ok(bytes) => Body::from(bytes),
            Err(e) => {
                bot.warn_hop("the owner's answer broke off", &e.to_string());
                return super::tg_error(502, "Bad Gateway");
            }
        }
    } else {
        Body::new(body)
    };
    b.body(body)
        .unwrap_or_else(|_| super::tg_error(502, "Bad Gateway"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_headers_stay_behind() {
        for h in ["connection", "transfer-encoding", "host", "upgrade"] {
            assert!(hop_by_hop(&HeaderName::from_static(h)), "{h}");
        }
        for h in ["content-type", "content-length", "range", HEADER] {
            assert!(!hop_by_hop(&HeaderName::from_static(h)), "{h}");
        }
    }

    #[tokio::test]
    async fn the_429_is_telegrams() {
        let r = busy();
        assert_eq!(r.status(), 429);
        let body = axum::body::to_bytes(r.into_body(), 1024).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["parameters"]["retry_after"], RETRY_AFTER);
        assert_eq!(
            v["description"],
            format!("Too Many Requests: retry after {RETRY_AFTER}")
        );
    }
}
