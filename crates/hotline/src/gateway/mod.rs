//! The Bot API gateway for the parallel connection: a company's existing bot points its
//! Bot API server address at Hotline and keeps working unchanged.
//!
//! - [`intercept`] (an HTTP middleware) takes `/bot<token>/<method>` and
//!   `/file/bot<token>/<path>`; only tokens of connected bots pass, anything else gets
//!   Telegram's own 401. Request URIs of these paths are never logged (they hold the token).
//! - `updates`: Hotline stays the only consumer of the bot's updates upstream; the bot is
//!   served from Hotline's update log with Telegram's semantics (getUpdates offsets, long
//!   polling, sticky `allowed_updates`, 409s, or a webhook that `push` pushes to,
//!   concurrently across chats and in order within each). Its state is durable
//!   (`gateway_state`).
//! - `forward`: every other method is passed to Telegram and the answer back unchanged
//!   (status and body bytes), through the gateway's own hyper client (`upstream`).
//! - `hop`: with several instances on one database, only the connection's owner serves
//!   its bot; another instance passes the bot's calls to the owner and streams the answer
//!   back (one hop; a 429 with `retry_after` while no owner is there).
//! - `journal` and `mirror`: what the bot puts into a user's chat is mirrored into the
//!   user's topic as intercepted: the call is journaled before the bot gets its answer and
//!   decided by the update processor in order with the users' messages, then sent through
//!   the outbox. A mirrored call is tracked until journaled and a stop waits for it
//!   ([`Gateway::drain`]); when the bot hangs up mid-call the rest of the call goes on in
//!   a task of its own: a bot that hangs up, or a stop, never loses the mirror of a call
//!   Telegram executed.

pub mod forward;
pub mod handover;
pub mod hop;
pub mod journal;
pub mod mirror;
pub mod order;
pub mod push;
pub mod updates;
pub mod upstream;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::constant_time_eq;
use crate::config::Secret;
use crate::domain::Context;
use crate::shutdown::{Shutdown, ShutdownTrigger};
use crate::store::{ConnectionId, Store, StoreError};

/// Largest body read into memory for a method Hotline answers itself or must parse.
pub const SMALL_BODY: usize = 1024 * 1024;

/// Tells the gateway that the intake stored new updates (wakes long polls and webhook
/// pushes at once) and which is the newest stored update id (what a mirrored call came
/// after), and carries the connection's [`order::Order`] (shared by the gateway, the
/// intake and the update processor). Cheap to clone; one per connection.
#[derive(Clone, Debug)]
pub struct UpdateSignal {
    last: Arc<watch::Sender<i64>>,
    order: order::Order,
}

impl Default for UpdateSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl UpdateSignal {
    /// A fresh signal.
    pub fn new() -> Self {
        Self {
            last: Arc::new(watch::channel(0).0),
            order: order::Order::default(),
        }
    }

    /// The ordering state between the user's messages and the bot's sends.
    pub fn order(&self) -> &order::Order {
        &self.order
    }

    /// Call after updates up to `last_update_id` were committed to the log.
    pub fn notify(&self, last_update_id: i64) {
        self.last.send_modify(|n| *n = (*n).max(last_update_id));
    }

    /// The newest stored update id known (no I/O: read while answering the bot).
    pub fn last(&self) -> i64 {
        *self.last.borrow()
    }

    /// A receiver that sees every later [`UpdateSignal::notify`].
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.last.subscribe()
    }
}

/// What the gateway needs to know about one connected bot.
pub struct BotSpec {
    /// The bot token (the key the existing bot presents).
    pub token: Secret,
    /// Upstream Bot API base URL.
    pub api_url: String,
    /// Plain `http://` webhooks on any port allowed (see `updates::set_webhook`).
    pub plain_http_webhooks: bool,
    /// The connection's decision context (ids, group, live parameters).
    pub ctx: Context,
    /// Notified by the intake after updates are stored.
    pub updates: UpdateSignal,
    /// Wakes the connection's update processor (which decides journaled calls).
    pub wake: Arc<Notify>,
    /// Where the bot's sends are counted for the outbox's rate windows.
    pub external: crate::outbox::ExternalSends,
    /// Until when this instance's lease surely holds: the bot is served as by the owner
    /// only until then (see [`Bot::here`]).
    pub lease: crate::lease::Clock,
}

/// One connected bot as the gateway serves it.
pub struct Bot {
    token: Secret,
    api_url: String,
    plain_http_webhooks: bool,
    /// The connection's decision context.
    pub ctx: Context,
    store: Store,
    /// Webhook pushes to the bot's own server.
    http: reqwest::Client,
    /// The pass-through's client to Telegram (streamed calls).
    upstream: upstream::Client,
    /// The pass-through's connections to Telegram for calls whose body is in memory.
    inline: upstream::Inline,
    /// `{api_url}/bot{token}/`: the prefix of every forwarded method's URI (holds the
    /// token: never log it).
    method_base: String,
    signal: UpdateSignal,
    /// The newest update served to the bot (getUpdates or a push): the bot may answer it
    /// before the intake's signal says it was stored.
    served: AtomicI64,
    /// Where mirrorable calls are recorded before the bot gets its answer.
    journal: journal::Journal,
    live: Mutex<updates::Live>,
    /// Bumped whenever the bot's delivery settings change (webhook set/deleted, a newer
    /// poll): wakes waiting polls and the push task.
    changed: watch::Sender<u64>,
    /// Serialises state saves so an older snapshot never overwrites a newer one.
    saving: tokio::sync::Mutex<()>,
    /// Ends waiting long polls when the connection stops (else a graceful stop waits for
    /// their timeout); set while the connection's owner tasks run.
    shutdown: Mutex<Option<Shutdown>>,
    /// The connection's request counters and latencies.
    metrics: crate::metrics::GatewayMetrics,
    /// Mirrored calls in flight (see `forward::detached`), shared by the gateway's bots.
    in_flight: TaskTracker,
    /// The bot's sends and their 429s, counted by the connection's outbox (`forward`).
    external: crate::outbox::ExternalSends,
    /// Whether this instance owns the connection: set while its owner tasks run
    /// ([`Gateway::take_over`]); otherwise the bot's calls go to the owner (`hop`).
    here: std::sync::atomic::AtomicBool,
    /// Until when the lease surely holds (see [`Bot::here`]).
    lease: crate::lease::Clock,
    /// Where the owner was last found (`hop`).
    peer: Mutex<Option<hop::Peer>>,
    /// When `hop` last warned about this connection (Unix ms).
    hop_warned: AtomicI64,
}

impl Bot {
    /// `{api_url}/bot{token}/`, what a method's name is appended to (never log it).
    fn method_base(&self) -> &str {
        &self.method_base
    }

    fn touch(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The newest update the bot could have seen: what a call it makes now came after.
    pub fn seen_update(&self) -> i64 {
        self.signal.last().max(self.served.load(Ordering::Acquire))
    }

    /// What ends a waiting long poll: the connection's stop, or nothing while no owner
    /// tasks run.
    fn shutdown(&self) -> Shutdown {
        self.shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(Shutdown::never)
    }

    /// Records that updates up to `update_id` were handed to the bot.
    fn served(&self, update_id: i64) {
        self.served.fetch_max(update_id, Ordering::AcqRel);
    }
}

/// The gateway: the connected bots and their update delivery. Bots come and go with
/// their connections ([`Gateway::add`], [`Gateway::remove`]); a removed bot's token is
/// unknown again (Telegram's 401).
#[derive(Clone)]
pub struct Gateway {
    bots: Arc<std::sync::RwLock<Vec<Arc<Bot>>>>,
    store: Store,
    /// Webhook pushes to the bots' own servers.
    http: reqwest::Client,
    /// The pass-through's client to Telegram.
    upstream: upstream::Client,
    /// The client that passes calls to the owner instance (`hop`): its own connect
    /// timeout ([`hop::CONNECT_TIMEOUT`]).
    hop_client: upstream::Client,
    /// Mirrored calls in flight: a stop waits for them ([`Gateway::drain`]).
    in_flight: TaskTracker,
    /// The base URL other instances reach this one at (`http.advertise`; empty when
    /// none): a lease naming it while held by another instance is a misconfiguration.
    advertised: Arc<str>,
    /// Set when this instance begins to stop ([`Gateway::begin_stop`]).
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl Gateway {
    /// A gateway serving no bot yet.
    pub fn new(store: &Store) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            bots: Default::default(),
            store: store.clone(),
            http,
            upstream: upstream::client(),
            hop_client: upstream::client_with(hop::CONNECT_TIMEOUT),
            in_flight: TaskTracker::new(),
            advertised: Arc::from(""),
            stopping: Default::default(),
        }
    }

    /// This instance begins to stop: a call for a connection it no longer serves is
    /// answered at once (see `hop`) instead of waiting for an owner and holding the stop up.
    pub fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Whether [`Gateway::begin_stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Sets where other instances reach this one (see [`Gateway::advertised`]).
    pub fn with_advertised(mut self, base_url: &str) -> Self {
        self.advertised = Arc::from(base_url);
        self
    }

    /// The base URL other instances reach this one at (empty: not known).
    pub fn advertised(&self) -> &str {
        &self.advertised
    }

    /// Waits (at most `limit`) for the mirrored calls in flight to be answered and
    /// journaled: call at a stop, after the HTTP port stopped taking requests.
    pub async fn drain(&self, limit: std::time::Duration) {
        self.in_flight.close();
        if tokio::time::timeout(limit, self.in_flight.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.in_flight.len(),
                "gateway: calls to Telegram still in flight at stop may not be mirrored"
            );
        }
    }

    /// Serves a connection's bot from now on (replacing one of the same connection): loads
    /// its durable gateway state.
    pub async fn add(&self, s: BotSpec) -> Result<(), StoreError> {
        let store = &self.store;
        let state = store.gateway_state(s.ctx.connection).await?;
        if state.is_some() {
            s.ctx.mark_gateway_in_use();
        }
        let state = state.unwrap_or_default();
        let last = store.last_update_id(s.ctx.connection).await?.unwrap_or(0);
        s.updates.notify(last);
        // Pauses made by processed updates were loaded with the context; the first
        // unprocessed update and those after it settle as the processor gets to them.
        let first_unprocessed = store
            .unprocessed_updates(s.ctx.connection, 1)
            .await?
            .first()
            .map(|u| u.update_id);
        s.ctx
            .pauses
            .settle(first_unprocessed.map_or(last, |id| id - 1));
        let journal = journal::Journal::start(store.clone(), s.ctx.connection, s.wake);
        let api_url = s.api_url.trim_end_matches('/').to_string();
        let metrics = crate::metrics::GatewayMetrics::new(&s.ctx.name);
        let bot = Arc::new(Bot {
            method_base: format!("{api_url}/bot{}/", s.token.expose()),
            token: s.token,
            api_url,
            plain_http_webhooks: s.plain_http_webhooks,
            ctx: s.ctx,
            store: store.clone(),
            http: self.http.clone(),
            upstream: self.upstream.clone(),
            inline: upstream::Inline::new(),
            signal: s.updates,
            served: AtomicI64::new(0),
            journal,
            live: Mutex::new(updates::Live::from_state(state)),
            changed: watch::channel(0).0,
            saving: tokio::sync::Mutex::new(()),
            shutdown: Mutex::new(None),
            metrics,
            in_flight: self.in_flight.clone(),
            external: s.external,
            here: Default::default(),
            lease: s.lease,
            peer: Mutex::new(None),
            hop_warned: AtomicI64::new(0),
        });
        let mut bots = self.write();
        bots.retain(|b| b.ctx.connection != bot.ctx.connection);
        bots.push(bot);
        Ok(())
    }

    /// Stops serving a connection's bot: its token is unknown from now on.
    pub fn remove(&self, connection: ConnectionId) {
        self.write().retain(|b| b.ctx.connection != connection);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Bot>>> {
        self.bots.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The bots served now.
    fn bots(&self) -> Vec<Arc<Bot>> {
        self.bots.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes this instance serve a connection's bot, as its new owner, until
    /// [`Gateway::hand_back`]: reloads what the previous owner left in the store (the
    /// delivery state, the newest update, the handover's pauses), then returns the
    /// webhook push task, ending with `shutdown` (which also ends its waiting long polls):
    /// one of the connection's owner tasks. `None` when the gateway does not serve the
    /// connection.
    pub async fn take_over(
        &self,
        connection: ConnectionId,
        shutdown: Shutdown,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let bot = self
            .bots()
            .into_iter()
            .find(|b| b.ctx.connection == connection)?;
        if let Err(e) = reload(&bot).await {
            tracing::warn!(connection = %bot.ctx.name, error = %e, "gateway: the previous owner's state could not be reloaded; serving what this instance last knew");
        }
        *bot.shutdown.lock().unwrap_or_else(|e| e.into_inner()) = Some(shutdown.clone());
        bot.here.store(true, Ordering::Release);
        bot.touch();
        Some(push::push_loop(bot, shutdown))
    }

    /// This instance stops serving a connection's bot (it lost the lease, or stops): its
    /// calls go to the next owner from now on. Call before the owner tasks' stop fires.
    pub fn hand_back(&self, connection: ConnectionId) {
        if let Some(bot) = self
            .bots()
            .into_iter()
            .find(|b| b.ctx.connection == connection)
        {
            bot.here.store(false, Ordering::Release);
            // Polls waiting now hold their own copy of the stop; a later one served here
            // (see `hop::Hop::Local`) must not find it fired.
            *bot.shutdown.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Starts the update-log retention task (over the bots served at each round).
    pub fn spawn(&self, tasks: &mut JoinSet<()>, trigger: &ShutdownTrigger) {
        tasks.spawn(updates::purge_loop(self.clone(), trigger.subscribe()));
    }

    /// The bot whose token this is (compared without an early exit).
    fn bot(&self, token: &str) -> Option<Arc<Bot>> {
        let mut found = None;
        for b in self.bots.read().unwrap_or_else(|e| e.into_inner()).iter() {
            if constant_time_eq(token.as_bytes(), b.token.expose().as_bytes()) {
                found = Some(b.clone());
            }
        }
        found
    }
}

/// Reloads what a previous owner of the bot's connection stored (on another instance,
/// or this one before it lost the lease): the delivery state (offset, webhook, allowed
/// updates), the newest stored update and the handover's pauses.
async fn reload(bot: &Bot) -> Result<(), StoreError> {
    let store = &bot.store;
    let connection = bot.ctx.connection;
    let state = store.gateway_state(connection).await?;
    if state.is_some() {
        bot.ctx.mark_gateway_in_use();
    }
    let last = store.last_update_id(connection).await?.unwrap_or(0);
    let pauses = store
        .recent_pauses(connection, crate::store::now_ms() - updates::KEEP_MS)
        .await?;
    let first_unprocessed = store
        .unprocessed_updates(connection, 1)
        .await?
        .first()
        .map(|u| u.update_id);
    {
        let mut live = bot.live();
        let generation = live.generation();
        *live = updates::Live::from_state(state.unwrap_or_default());
        // A poll still waiting from before ends (it cannot be, but a lower generation
        // would make it look current).
        live.set_generation(generation + 1);
    }
    bot.signal.notify(last);
    bot.ctx.pauses.merge(&pauses);
    bot.ctx
        .pauses
        .settle(first_unprocessed.map_or(last, |id| id - 1));
    Ok(())
}

/// The request path as Telegram reads it: percent-decoded (python-telegram-bot sends
/// `/file/bot123%3Aabc/…`). Borrowed when there is nothing to decode; a path that does not
/// decode to UTF-8 is kept as it came (it then matches no token).
pub fn decoded_path(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('%') {
        return std::borrow::Cow::Borrowed(raw);
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .unwrap_or(std::borrow::Cow::Borrowed(raw))
}

/// Middleware in front of every route: serves `/bot…` and `/file/bot…`, passes the rest.
pub async fn intercept(State(gw): State<Gateway>, req: Request, next: Next) -> Response {
    if is_gateway_path(req.uri().path()) {
        return serve(&gw, req).await;
    }
    next.run(req).await
}

/// Whether a request path is the gateway's (`/bot…`, `/file/bot…`, percent-encoded or
/// not): the HTTP port hands these to [`serve`] before any router sees them.
pub fn is_gateway_path(raw: &str) -> bool {
    raw.starts_with("/bot") || raw.starts_with("/file/bot") || {
        let path = decoded_path(raw);
        path.starts_with("/bot") || path.starts_with("/file/bot")
    }
}

/// Serves a request whose path is the gateway's (see [`is_gateway_path`]).
pub async fn serve(gw: &Gateway, req: Request) -> Response {
    let path = decoded_path(req.uri().path());
    if let Some(rest) = path.strip_prefix("/file/bot") {
        let Some((token, file_path)) = rest.split_once('/') else {
            return not_found();
        };
        let Some(bot) = gw.bot(token) else {
            return unauthorized();
        };
        let file_path = file_path.to_string();
        // The span names the connection, never the path: the path holds the token. Debug
        // level, so a call costs no span where the log is at info (warnings name the
        // connection themselves).
        let span = tracing::debug_span!("gateway", connection = %bot.ctx.name, method = "file");
        return forward::file(&bot, &file_path, req).instrument(span).await;
    }
    if let Some(rest) = path.strip_prefix("/bot") {
        let (token, method) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(bot) = gw.bot(token) else {
            return unauthorized();
        };
        let method = method.to_string();
        // Another instance owns the connection: the call is its (see `hop`).
        let req = if bot.here() {
            req
        } else if hop::was_forwarded(&req) {
            return hop::misdirected();
        } else {
            // Boxed: the hop's future is large and every owned call would carry it.
            match Box::pin(hop::to_owner(gw, &bot, &method, req)).await {
                hop::Hop::Answered(r) => return r,
                hop::Hop::Local(req) => req,
            }
        };
        let span =
            tracing::debug_span!("gateway", connection = %bot.ctx.name, method = loggable(&method));
        let started = std::time::Instant::now();
        let response = api(bot.clone(), method.clone(), req)
            .instrument(span.clone())
            .await;
        bot.metrics
            .request(&method, response.status().as_u16(), started.elapsed());
        span.in_scope(|| {
            tracing::debug!(
                status = response.status().as_u16(),
                ms = started.elapsed().as_millis() as u64,
                "gateway call"
            )
        });
        return response;
    }
    not_found()
}

/// A method name as it may appear in a log: Bot API names are letters only (a token, with
/// its `:`, never passes), anything else shows as `?`.
fn loggable(method: &str) -> &str {
    if !method.is_empty() && method.len() <= 64 && method.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        method
    } else {
        "?"
    }
}

/// Methods the gateway answers itself instead of forwarding.
const LOCAL: &[&str] = &[
    "getupdates",
    "setwebhook",
    "deletewebhook",
    "getwebhookinfo",
    "logout",
    "close",
    // The handover's custom methods (see `handover`).
    "hotlinehandover",
    "hotlineresume",
];

async fn api(bot: Arc<Bot>, method: String, req: Request) -> Response {
    if method.contains('/') {
        return not_found();
    }
    let lower = method.to_ascii_lowercase();
    if !method.is_empty() && !LOCAL.contains(&lower.as_str()) {
        // Boxed: the pass-through's future holds its upstream connection's I/O state
        // (`upstream::Inline`); inline it made every enclosing future that large, and
        // the wrappers above move it whole (callgrind: +13.5k memcpy instructions a call).
        return Box::pin(forward::call(&bot, &method, req)).await;
    }
    // Boxed: this branch's future (a long poll, the handover) is the largest of the
    // gateway's, and inline it would make every forwarded call's future as large.
    Box::pin(local(bot, method, req)).await
}

/// A local method, or the method named by a `method` parameter.
async fn local(bot: Arc<Bot>, method: String, req: Request) -> Response {
    // The body is small.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, SMALL_BODY).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let ctype = content_type(&parts.headers);
    let Some(params) = parse_params(&ctype, parts.uri.query(), &bytes).await else {
        return tg_error(400, "Bad Request: can't parse request parameters");
    };
    let method = if method.is_empty() {
        match params.get("method").and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None => return not_found(),
        }
    } else {
        method
    };
    let lower = method.to_ascii_lowercase();
    if LOCAL.contains(&lower.as_str()) {
        return updates::local(&bot, &lower, params).await;
    }
    forward::call_buffered(
        &bot,
        &method,
        &parts.method,
        &ctype,
        parts.uri.query(),
        bytes,
    )
    .await
}

/// The request's content type (empty when absent).
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Reads Bot API parameters from the query string and a buffered body (JSON,
/// urlencoded or multipart; file parts are skipped). `None` when the body is malformed.
pub async fn parse_params(
    content_type: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    if let Some(q) = query {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).ok()?;
        out.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    let ct = content_type.to_ascii_lowercase();
    if body.is_empty() {
        return Some(out);
    }
    if ct.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body).ok()? {
            Value::Object(m) => out.extend(m),
            _ => return None,
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
        out.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    } else if ct.starts_with("multipart/form-data") {
        let req = Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.clone()))
            .ok()?;
        let mut mp = axum::extract::Multipart::from_request(req, &())
            .await
            .ok()?;
        while let Some(field) = mp.next_field().await.ok()? {
            let Some(name) = field.name().map(str::to_string) else {
                continue;
            };
            if field.file_name().is_some() {
                continue;
            }
            let text = field.text().await.ok()?;
            out.insert(name, Value::String(text));
        }
    }
    Some(out)
}

/// An integer parameter given as a number or a string.
pub fn param_i64(p: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("Bad Request: invalid {key}")),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("Bad Request: invalid {key}")),
        Some(_) => Err(format!("Bad Request: invalid {key}")),
    }
}

/// A boolean parameter (`true`, `"true"`, `"1"`).
pub fn param_bool(p: &Map<String, Value>, key: &str) -> bool {
    match p.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// A JSON parameter that form encodings carry as a string (`allowed_updates`, ...).
pub fn param_json(p: &Map<String, Value>, key: &str) -> Option<Value> {
    match p.get(key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => serde_json::from_str(s)
            .ok()
            .or_else(|| Some(Value::String(s.clone()))),
        Value::Null => None,
        v => Some(v.clone()),
    }
}

/// Telegram's error answer.
pub fn tg_error(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"ok": false, "error_code": code, "description": description});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A 413 that also closes the connection: the rest of the body was not read, so the
/// connection cannot carry another request.
pub fn too_large() -> Response {
    let mut r = tg_error(413, "Request Entity Too Large");
    r.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    r
}

/// Telegram's success answer (with `description` where Telegram gives one).
pub fn tg_ok(result: Value, description: Option<&str>) -> Response {
    let mut body = json!({"ok": true, "result": result});
    if let Some(d) = description {
        body["description"] = json!(d);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Telegram's answer to an unknown or revoked token.
pub fn unauthorized() -> Response {
    tg_error(401, "Unauthorized")
}

/// Telegram's answer to an unknown path or method.
pub fn not_found() -> Response {
    tg_error(404, "Not Found")
}
