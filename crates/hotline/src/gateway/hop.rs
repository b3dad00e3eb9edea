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
//!   a 5xx would say "maybe executed", which a careful bot does not repeat. An instance
//!   that is stopping answers that 429 at once (it will not become the owner, and the
//!   wait would hold its stop up). A call that reached the owner and got no answer (the
//!   owner died meanwhile) gets `502 Bad Gateway`, as when Telegram is unreachable: it
//!   may have been executed.
//! - **A frozen owner.** An owner that stopped running without dying (SIGSTOP, a stalled
//!   VM) still accepts connections in its kernel but answers nothing. Connecting is given
//!   [`CONNECT_TIMEOUT`] (a connection that is not made sent nothing: the call waits for an
//!   owner as when refused), and the answer has a deadline: a getUpdates its own `timeout`
//!   plus [`POLL_MARGIN`]; any other call [`ANSWER_WITHIN`] after its last byte went out,
//!   and an upload that stalls that long is given up too (so a 50 MB upload is bounded by
//!   its progress, not by a total). Past it the bot gets the 502 (the call may run when the
//!   owner resumes). Meanwhile the call watches the lease: when another instance takes it
//!   over (the frozen owner's lease lapsed), a waiting getUpdates answers at once with no
//!   updates, as a poll at an owner that hands its connection back does, and its bot
//!   polls again at the new owner; any other call gets the 502 then. Either way the next
//!   call looks the owner up again.
//! - **Cheap when owned.** The owner check is one atomic load (`Bot::here`); the owner's
//!   address is read from the lease at most once per lease expiry (cached until then, or
//!   until the owner refuses).
//!
//! File downloads (`/file/bot<token>/…`) are not passed on: they touch no connection state
//! and no limit, so any instance streams them from Telegram itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
/// Connecting to the owner is given up after this long. The instances share a network,
/// where a connection is made in milliseconds; one not made sent nothing, so the call
/// waits for an owner as when refused (then 429).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A getUpdates passed on is answered within its own `timeout` plus this, or given up
/// (the owner answers an expired poll at once; the margin covers a loaded machine).
pub const POLL_MARGIN: Duration = Duration::from_secs(10);
/// Any other call passed on is given up when the owner has not answered this long after
/// the call's last byte went out, or when its upload made no progress for this long.
/// Telegram answers a call in about a second (a large upload once it has all of it), so
/// 30 s means the owner does not run; bounding progress rather than the total leaves a
/// 50 MB upload on a slow line all the time it needs.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// How often a call waiting for the owner's answer checks the deadline and the lease.
const WATCH_EVERY: Duration = Duration::from_millis(500);
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
    /// The lease's holder and epoch when read: a call waiting for this owner's answer
    /// gives up when the lease names another (see [`moved`]).
    owner: Arc<str>,
    epoch: i64,
}

impl Peer {
    fn same_lease(&self, other: &Peer) -> bool {
        self.epoch == other.epoch && self.owner == other.owner
    }
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
    At(Peer),
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
    /// Whether this instance owns the connection now (its owner tasks run here, and its
    /// lease surely holds: see `lease::Clock`): the gateway serves the bot's calls itself.
    /// Two atomic loads and the clock: every call asks. An owner frozen past the lapse
    /// and resumed passes the calls on at once (to its successor), not only after its next
    /// renewal; one whose renewal is merely late has its calls wait for it (`to_owner`).
    pub fn here(&self) -> bool {
        self.here.load(Ordering::Acquire) && self.lease.holds(now_ms())
    }

    /// Whether this instance serves the bot as its owner but its lease may have lapsed
    /// (frozen, then resumed): what it would serve now, its successor may serve too.
    pub fn lapsed(&self) -> bool {
        self.here.load(Ordering::Acquire) && !self.lease.holds(now_ms())
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
        return Owner::At(p);
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
    let peer = Peer {
        base,
        until: lease.expires_at,
        owner: Arc::from(lease.owner),
        epoch: lease.epoch,
    };
    *bot.peer.lock().unwrap_or_else(|e| e.into_inner()) = Some(peer.clone());
    Owner::At(peer)
}

/// Whether the lease no longer names `peer` (another instance took it over, or this one):
/// the cached owner answers without a read while its lease holds, else the lease is read.
/// A lease that lapsed but was not taken still names `peer`, which may yet answer.
async fn moved(gw: &Gateway, bot: &Bot, peer: &Peer) -> bool {
    let now = now_ms();
    if bot
        .cached_peer()
        .is_some_and(|p| p.until > now && p.same_lease(peer))
    {
        return false;
    }
    match gw.store.lease_owner(bot.ctx.connection).await {
        Ok(Some(l)) => l.epoch != peer.epoch || *l.owner != *peer.owner,
        Ok(None) => true,
        // Unknown: the deadline decides.
        Err(_) => false,
    }
}

/// How long the owner has to answer a passed call (see [`ANSWER_WITHIN`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    /// A getUpdates: answered within this from the moment it is sent.
    Poll(Duration),
    /// Any other call: [`ANSWER_WITHIN`] after its last byte, or of a stalled upload.
    Call,
}

/// The bound of a call: a getUpdates (named by the path, or by a `method` parameter)
/// waits as long as its `timeout` asks (as the owner clamps it) plus [`POLL_MARGIN`].
/// Only a small body is read for its parameters; a streamed one is never a getUpdates.
async fn bound(method: &str, parts: &axum::http::request::Parts, body: Option<&Bytes>) -> Bound {
    let named = method.eq_ignore_ascii_case("getupdates");
    if !named && !method.is_empty() {
        return Bound::Call;
    }
    let Some(bytes) = body else {
        return Bound::Call;
    };
    let ctype = super::content_type(&parts.headers);
    let Some(p) = super::parse_params(&ctype, parts.uri.query(), bytes).await else {
        return Bound::Call;
    };
    let poll = named
        || p.get("method")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|m| m.eq_ignore_ascii_case("getupdates"));
    if !poll {
        return Bound::Call;
    }
    let timeout = super::param_i64(&p, "timeout")
        .ok()
        .flatten()
        .unwrap_or(0)
        .clamp(0, super::updates::MAX_POLL_SECS) as u64;
    Bound::Poll(Duration::from_secs(timeout) + POLL_MARGIN)
}

/// How a call's body went out to the owner: when it last moved and whether it ended.
struct Progress {
    start: std::time::Instant,
    /// Milliseconds after `start` of the last frame sent.
    last: AtomicU64,
    done: AtomicBool,
}

impl Progress {
    fn new(done: bool) -> Arc<Self> {
        Arc::new(Self {
            start: std::time::Instant::now(),
            last: AtomicU64::new(0),
            done: AtomicBool::new(done),
        })
    }

    fn moved(&self, done: bool) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
        if done {
            self.done.store(true, Ordering::Release);
        }
    }

    /// How long nothing happened: since the last byte went out, or the upload's last step.
    fn quiet(&self) -> Duration {
        self.start
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)))
    }
}

/// A call's body on its way to the owner, noting its [`Progress`].
struct Watched {
    inner: Body,
    progress: Arc<Progress>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(_))) => {
                let done = self.inner.is_end_stream();
                self.progress.moved(done);
            }
            std::task::Poll::Ready(_) => self.progress.moved(true),
            std::task::Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Why a passed call got no answer.
enum NoAnswer {
    /// Not in time (see [`Bound`]).
    Late,
    /// Another instance took the lease over meanwhile.
    Moved,
    /// The hop failed (see `upstream::Error`).
    Failed(super::upstream::Error),
}

/// Sends `up` to `peer` and waits for the head of its answer within `bound`, watching the
/// lease meanwhile.
async fn send(
    gw: &Gateway,
    bot: &Bot,
    peer: &Peer,
    up: axum::http::Request<Body>,
    bound: Bound,
) -> Result<axum::http::Response<hyper::body::Incoming>, NoAnswer> {
    let (parts, body) = up.into_parts();
    let progress = Progress::new(body.is_end_stream());
    let body = Body::new(Watched {
        inner: body,
        progress: progress.clone(),
    });
    let call = gw
        .hop_client
        .request(axum::http::Request::from_parts(parts, body));
    tokio::pin!(call);
    let started = tokio::time::Instant::now();
    let mut watch = tokio::time::interval_at(started + WATCH_EVERY, WATCH_EVERY);
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            answered = &mut call => return answered.map_err(NoAnswer::Failed),
            _ = watch.tick() => {
                let late = match bound {
                    Bound::Poll(within) => started.elapsed() >= within,
                    Bound::Call => progress.quiet() >= ANSWER_WITHIN,
                };
                if late {
                    return Err(NoAnswer::Late);
                }
                if moved(gw, bot, peer).await {
                    return Err(NoAnswer::Moved);
                }
            }
        }
    }
}

/// Passes a call (of `method`, as named by the path) for a connection this instance does
/// not own to its owner (see the module doc). The bot's body is read whole when small, so
/// the call can go to another owner if the first refuses; a large upload streams through
/// once.
pub async fn to_owner(gw: &Gateway, bot: &Arc<Bot>, method: &str, req: Request) -> Hop {
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
    let small_body = match &payload {
        Payload::Bytes(b) => Some(b.clone()),
        Payload::Stream(_) => None,
    };
    let bound = bound(method, &parts, small_body.as_ref()).await;
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
            Owner::At(peer) => {
                let base = peer.base.clone();
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
                match send(gw, bot, &peer, up, bound).await {
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
                    Err(NoAnswer::Moved) if matches!(bound, Bound::Poll(_)) => {
                        // The owner is replaced and holds no poll any more (if it runs,
                        // it ended this one): "no updates", and the bot polls again.
                        bot.forget_peer();
                        crate::metrics::gateway_forwarded(&bot.ctx.name, "owner_changed");
                        return Hop::Answered(super::tg_ok(serde_json::json!([]), None));
                    }
                    Err(NoAnswer::Late | NoAnswer::Moved) => {
                        bot.forget_peer();
                        bot.warn_hop(
                            "the owner instance took a call passed to it and did not answer \
                             in time (frozen or replaced); answered 502",
                            &base,
                        );
                        crate::metrics::gateway_forwarded(&bot.ctx.name, "failed");
                        return Hop::Answered(super::tg_error(502, "Bad Gateway"));
                    }
                    Err(NoAnswer::Failed(e)) if e.is_connect() => {
                        // Nothing was sent: the owner is gone or not listening yet.
                        bot.forget_peer();
                        bot.warn_hop("the owner instance is not reachable", &base);
                    }
                    Err(NoAnswer::Failed(e)) => {
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
        // A stopping instance will not become the owner: the bot retries elsewhere.
        if gw.is_stopping() || tokio::time::Instant::now() + LOOK_EVERY > deadline {
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
        let read = axum::body::to_bytes(Body::new(body), super::forward::INLINE_MAX);
        match tokio::time::timeout(ANSWER_WITHIN, read).await {
            Ok(Ok(bytes)) => Body::from(bytes),
            Ok(Err(e)) => {
                bot.warn_hop("the owner's answer broke off", &e.to_string());
                return super::tg_error(502, "Bad Gateway");
            }
            Err(_) => {
                bot.forget_peer();
                bot.warn_hop("the owner's answer stalled", "");
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
