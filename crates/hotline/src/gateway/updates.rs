//! Serving the parallel bot's updates from Hotline's update log with Telegram's
//! semantics: getUpdates (offset confirmation, negative offsets, limit, long polling
//! woken by the intake, sticky `allowed_updates`, 409 for the older of two pollers and
//! while a webhook is set), and the webhook settings (setWebhook validated like Telegram,
//! deleteWebhook, getWebhookInfo; the pushing itself is `push`). Updates about the backend
//! group are Hotline's own and never served.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{param_bool, param_i64, param_json, tg_error, tg_ok, Bot};
use crate::shutdown::Shutdown;
use crate::store::{now_ms, GatewayState, StoredUpdate, UnixMs};
use crate::telegram::ALL_UPDATES;

/// Telegram keeps undelivered updates this long.
pub const KEEP_MS: UnixMs = 24 * 3600 * 1000;
/// Confirmed updates stay in the log this long (for the relay's own replays).
pub const KEEP_CONFIRMED_MS: UnixMs = 3600 * 1000;
/// Longest long poll honoured.
pub const MAX_POLL_SECS: i64 = 600;

const OTHER_POLL: &str = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
const BY_SET_WEBHOOK: &str = "Conflict: terminated by setWebhook request";
const WEBHOOK_ACTIVE: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

/// Update types Telegram sends when `allowed_updates` is not given (or empty).
const NOT_BY_DEFAULT: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// In-memory delivery state of one bot (the durable part is [`GatewayState`]).
pub struct Live {
    pub(super) state: GatewayState,
    /// Bumped by every getUpdates and setWebhook: an older waiting poll sees the change.
    generation: u64,
    terminated_by: &'static str,
    /// The last failed webhook push (unix seconds, Telegram's wording), for getWebhookInfo.
    pub(super) last_error: Option<(i64, String)>,
    /// Updates after `state.confirmed` already pushed (out of order across chats): not
    /// pending any more, though the confirmed offset cannot pass them yet.
    pub(super) pushed_ahead: usize,
    /// Bumped by every setWebhook and deleteWebhook: the pusher starts over from
    /// `state.confirmed`.
    pub(super) webhook_epoch: u64,
}

impl Live {
    /// Live state from what was stored.
    pub fn from_state(state: GatewayState) -> Self {
        Self {
            state,
            generation: 0,
            terminated_by: OTHER_POLL,
            last_error: None,
            pushed_ahead: 0,
            webhook_epoch: 0,
        }
    }

    /// Bumped by every getUpdates and setWebhook (see `Gateway::take_over`).
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// See [`Live::generation`].
    pub(super) fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }
}

impl Bot {
    pub(super) fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn snapshot(&self) -> GatewayState {
        self.live().state.clone()
    }

    /// Writes the current state (serialised: a newer snapshot always lands last).
    pub(super) async fn persist(&self) -> Result<(), crate::store::StoreError> {
        let _guard = self.saving.lock().await;
        let state = self.snapshot();
        self.store
            .save_gateway_state(self.ctx.connection, &state, now_ms())
            .await
    }

    /// Whether an update goes to the parallel bot: its type is allowed, it is younger
    /// than 24 h, and it is not about the backend group (operators' messages, topic
    /// service messages, button presses there are Hotline's own).
    fn deliverable(&self, allowed: &Option<Vec<String>>, u: &StoredUpdate, now: UnixMs) -> bool {
        if u.received_at < now - KEEP_MS {
            return false;
        }
        let Some(obj) = u.payload.as_object() else {
            return false;
        };
        let Some((kind, body)) = obj.iter().find(|(k, _)| k.as_str() != "update_id") else {
            return false;
        };
        let allowed_kind = match allowed {
            Some(list) if !list.is_empty() => list.iter().any(|a| a == kind),
            _ => !NOT_BY_DEFAULT.contains(&kind.as_str()),
        };
        if !allowed_kind {
            return false;
        }
        // The handover: the team has this user (dropped, not released, on resume).
        if let Some(chat) = crate::domain::handover::update_chat(body) {
            if self.ctx.pauses.withheld(chat, u.received_at) {
                return false;
            }
        }
        let group = Some(self.ctx.group_id);
        allowed_kind
            && body["chat"]["id"].as_i64() != group
            && body["message"]["chat"]["id"].as_i64() != group
    }

    /// Up to `limit` deliverable updates after `after`, in order.
    pub(super) async fn pending(
        &self,
        after: i64,
        allowed: &Option<Vec<String>>,
        limit: usize,
    ) -> Result<Vec<StoredUpdate>, crate::store::StoreError> {
        Ok(self.scan(after, allowed, limit).await?.found)
    }

    /// Like [`Bot::pending`], also returning the last update id looked at (deliverable or
    /// not): the next scan starts there. `limit` reached = there may be more. The scan
    /// stops before an update that may pause the bot and is not settled yet (see
    /// `domain::handover`): what came after it may be withheld once it is processed.
    pub(super) async fn scan(
        &self,
        after: i64,
        allowed: &Option<Vec<String>>,
        limit: usize,
    ) -> Result<Scan, crate::store::StoreError> {
        let now = now_ms();
        let mut out = Scan {
            found: Vec::new(),
            read_to: after,
            blocked: false,
        };
        loop {
            let batch = self
                .store
                .updates_after(self.ctx.connection, out.read_to, 200)
                .await?;
            let full = batch.len() == 200;
            for u in batch {
                if !self.ctx.pauses.settled(u.update_id)
                    && crate::domain::handover::may_pause(&self.ctx, &u.payload)
                {
                    out.blocked = true;
                    return Ok(out);
                }
                out.read_to = u.update_id;
                if self.deliverable(allowed, &u, now) {
                    out.found.push(u);
                    if out.found.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }
}

/// What [`Bot::scan`] found.
pub(super) struct Scan {
    /// Deliverable updates, in order.
    pub found: Vec<StoredUpdate>,
    /// The last update id looked at: the next scan starts after it.
    pub read_to: i64,
    /// Stopped before an update that may pause the bot and is not processed yet: scan
    /// again when the processor settles the next update (`Pauses::settles`).
    pub blocked: bool,
}

fn store_failed(bot: &Bot, e: crate::store::StoreError) -> Response {
    tracing::error!(connection = %bot.ctx.name, error = %e, "gateway: the update log is not readable");
    tg_error(500, "Internal Server Error: update log unavailable")
}

/// Answers a method the gateway handles itself (`lower` is lower-case).
pub async fn local(bot: &Arc<Bot>, lower: &str, p: Map<String, Value>) -> Response {
    match lower {
        "getupdates" => get_updates(bot, &p).await,
        "setwebhook" => set_webhook(bot, &p).await,
        "deletewebhook" => delete_webhook(bot, param_bool(&p, "drop_pending_updates")).await,
        "getwebhookinfo" => webhook_info(bot).await,
        "hotlinehandover" => super::handover::method(bot, &p, true).await,
        "hotlineresume" => super::handover::method(bot, &p, false).await,
        // Forwarded, these would log Hotline itself out of Telegram.
        _ => tg_ok(json!(true), None),
    }
}

/// A sticky `allowed_updates` from a parameter; `Err` when malformed.
fn allowed_param(p: &Map<String, Value>) -> Result<Option<Option<Vec<String>>>, &'static str> {
    match param_json(p, "allowed_updates") {
        None => Ok(None),
        Some(Value::Array(items)) => {
            let list: Vec<String> = items
                .iter()
                .filter_map(Value::as_str)
                .filter(|k| ALL_UPDATES.contains(k))
                .map(str::to_string)
                .collect();
            Ok(Some(if list.is_empty() { None } else { Some(list) }))
        }
        Some(_) => Err("Bad Request: can't parse allowed updates"),
    }
}

async fn get_updates(bot: &Arc<Bot>, p: &Map<String, Value>) -> Response {
    let ints = (
        param_i64(p, "offset"),
        param_i64(p, "limit"),
        param_i64(p, "timeout"),
    );
    let (offset, limit, timeout) = match ints {
        (Ok(o), Ok(l), Ok(t)) => (
            o.unwrap_or(0),
            l.unwrap_or(100).clamp(1, 100) as usize,
            t.unwrap_or(0).clamp(0, MAX_POLL_SECS),
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return tg_error(400, &e),
    };
    let allowed = match allowed_param(p) {
        Ok(a) => a,
        Err(e) => return tg_error(400, e),
    };
    bot.ctx.mark_gateway_in_use();
    // Subscribe before reading the log so an update stored meanwhile still wakes us.
    let mut stored = bot.signal.subscribe();
    let mut settles = bot.ctx.pauses.settles();
    let mut changed = bot.changed.subscribe();
    let (generation, mut state) = {
        let mut live = bot.live();
        if live.state.webhook_url.is_some() {
            return tg_error(409, WEBHOOK_ACTIVE);
        }
        if let Some(a) = allowed {
            live.state.allowed_updates = a;
        }
        live.generation += 1;
        live.terminated_by = OTHER_POLL;
        (live.generation, live.state.clone())
    };
    bot.touch();
    changed.borrow_and_update();
    let before = state.confirmed;
    if offset > 0 {
        state.confirmed = state.confirmed.max(offset - 1);
    } else if offset < 0 {
        let keep = offset.unsigned_abs() as usize;
        match bot
            .pending(state.confirmed, &state.allowed_updates, 100_000)
            .await
        {
            Ok(all) if all.len() > keep => state.confirmed = all[all.len() - keep - 1].update_id,
            Ok(_) => {}
            Err(e) => return store_failed(bot, e),
        }
    }
    {
        let mut live = bot.live();
        live.state.confirmed = live.state.confirmed.max(state.confirmed);
        state.confirmed = live.state.confirmed;
    }
    if state.confirmed != before || p.contains_key("allowed_updates") {
        if let Err(e) = bot.persist().await {
            return store_failed(bot, e);
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout as u64);
    let mut stop = bot.shutdown();
    loop {
        stored.borrow_and_update();
        let (found, blocked) = match bot
            .scan(state.confirmed, &state.allowed_updates, limit)
            .await
        {
            Ok(s) => (s.found, s.blocked),
            Err(e) => return store_failed(bot, e),
        };
        if !found.is_empty() && bot.lapsed() {
            // Frozen past the lapse and resumed: the successor serves these updates.
            return tg_ok(json!([]), None);
        }
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            if let Some(last) = found.last() {
                bot.served(last.update_id);
            }
            return tg_ok(
                Value::Array(found.into_iter().map(|u| u.payload).collect()),
                None,
            );
        }
        tokio::select! {
            _ = stop.recv() => return tg_ok(json!([]), None),
            _ = stored.changed() => {}
            _ = changed.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            Ok(()) = settles.changed(), if blocked => {}
        }
        let live = bot.live();
        if live.generation != generation {
            return tg_error(409, live.terminated_by);
        }
        if live.state.webhook_url.is_some() {
            return tg_error(409, BY_SET_WEBHOOK);
        }
    }
}

/// Telegram's default and bounds for `max_connections` (out-of-range values are clamped).
pub const MAX_CONNECTIONS: (i64, i64, i64) = (40, 1, 100);

/// Telegram's rule for `secret_token`: 1–256 of `A-Z a-z 0-9 _ -`; the error text if not.
fn check_secret(s: &str) -> Result<(), &'static str> {
    if s.len() > 256 {
        return Err("Bad Request: secret token is too long");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("Bad Request: secret token contains unallowed characters");
    }
    Ok(())
}

/// Telegram's rule for a webhook URL: HTTPS on port 80, 88, 443 or 8443. With
/// `plain_http` (the connection's `gateway_plain_http_webhooks`, like the Bot API server's
/// own `--local` mode) any http(s) URL with a host is taken: the bot's backend often sits
/// next to Hotline on an internal network without a certificate.
fn check_webhook_url(url: &str, plain_http: bool) -> Result<(), &'static str> {
    const NOT_HTTPS: &str = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook";
    const BAD_PORT: &str =
        "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443";
    let Some(u) = reqwest::Url::parse(url).ok().filter(|u| u.host().is_some()) else {
        return Err(NOT_HTTPS);
    };
    match (u.scheme(), plain_http) {
        ("http", true) | ("https", true) => Ok(()),
        ("https", false) if matches!(u.port_or_known_default(), Some(80 | 88 | 443 | 8443)) => {
            Ok(())
        }
        ("https", false) => Err(BAD_PORT),
        _ => Err(NOT_HTTPS),
    }
}

/// `max_connections` as Telegram reads it: absent or empty = 40, anything else clamped
/// to 1..100 (an unparsable value counts as 0, like the Bot API server's `to_integer`).
fn max_connections(p: &Map<String, Value>) -> i64 {
    let (default, min, max) = MAX_CONNECTIONS;
    let n = match p.get("max_connections") {
        None | Some(Value::Null) => default,
        Some(Value::String(s)) if s.trim().is_empty() => default,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse::<i64>().unwrap_or(0),
        Some(_) => 0,
    };
    n.clamp(min, max)
}

async fn set_webhook(bot: &Arc<Bot>, p: &Map<String, Value>) -> Response {
    let url = p
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if url.is_empty() {
        return delete_webhook(bot, param_bool(p, "drop_pending_updates")).await;
    }
    if let Err(e) = check_webhook_url(&url, bot.plain_http_webhooks) {
        return tg_error(400, e);
    }
    let secret = p
        .get("secret_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(Err(e)) = secret.as_deref().map(check_secret) {
        return tg_error(400, e);
    }
    let max_connections = max_connections(p);
    let allowed = match allowed_param(p) {
        Ok(a) => a,
        Err(e) => return tg_error(400, e),
    };
    let last = if param_bool(p, "drop_pending_updates") {
        match bot.store.last_update_id(bot.ctx.connection).await {
            Ok(l) => l,
            Err(e) => return store_failed(bot, e),
        }
    } else {
        None
    };
    bot.ctx.mark_gateway_in_use();
    let same = {
        let mut live = bot.live();
        let same = live.state.webhook_url.as_deref() == Some(url.as_str())
            && live.state.webhook_secret == secret;
        live.state.webhook_url = Some(url);
        live.state.webhook_secret = secret;
        live.state.max_connections = max_connections;
        if let Some(a) = allowed {
            live.state.allowed_updates = a;
        }
        if let Some(l) = last {
            live.state.confirmed = live.state.confirmed.max(l);
        }
        live.last_error = None;
        live.pushed_ahead = 0;
        live.webhook_epoch += 1;
        live.generation += 1;
        live.terminated_by = BY_SET_WEBHOOK;
        same
    };
    if let Err(e) = bot.persist().await {
        return store_failed(bot, e);
    }
    bot.touch();
    tracing::info!(connection = %bot.ctx.name, "gateway: the parallel bot set its webhook");
    tg_ok(
        json!(true),
        Some(if same {
            "Webhook is already set"
        } else {
            "Webhook was set"
        }),
    )
}

async fn delete_webhook(bot: &Arc<Bot>, drop_pending: bool) -> Response {
    let last = if drop_pending {
        match bot.store.last_update_id(bot.ctx.connection).await {
            Ok(l) => l,
            Err(e) => return store_failed(bot, e),
        }
    } else {
        None
    };
    let had = {
        let mut live = bot.live();
        let had = live.state.webhook_url.take().is_some();
        live.state.webhook_secret = None;
        if let Some(l) = last {
            live.state.confirmed = live.state.confirmed.max(l);
        }
        live.last_error = None;
        live.pushed_ahead = 0;
        live.webhook_epoch += 1;
        had
    };
    if let Err(e) = bot.persist().await {
        return store_failed(bot, e);
    }
    bot.touch();
    tg_ok(
        json!(true),
        Some(if had {
            "Webhook was deleted"
        } else {
            "Webhook is already deleted"
        }),
    )
}

async fn webhook_info(bot: &Arc<Bot>) -> Response {
    let (state, last_error, ahead) = {
        let live = bot.live();
        (
            live.state.clone(),
            live.last_error.clone(),
            live.pushed_ahead,
        )
    };
    let pending = match bot
        .pending(state.confirmed, &state.allowed_updates, 100_000)
        .await
    {
        Ok(p) => p.len().saturating_sub(ahead),
        Err(e) => return store_failed(bot, e),
    };
    let mut info = json!({
        "url": state.webhook_url.clone().unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": pending,
    });
    if state.webhook_url.is_some() {
        info["max_connections"] = json!(state.max_connections);
    }
    if let Some(a) = &state.allowed_updates {
        info["allowed_updates"] = json!(a);
    }
    if let Some((date, message)) = last_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(message);
    }
    tg_ok(info, None)
}

/// Trims the update log: confirmed updates after an hour, everything after 24 h.
pub async fn purge_loop(gateway: super::Gateway, mut shutdown: Shutdown) {
    let store = gateway.store.clone();
    while !shutdown.is_shutdown() {
        let now = now_ms();
        for b in gateway.bots().iter() {
            b.ctx.pauses.prune(now - KEEP_MS);
            match store
                .purge_updates_for_gateway(b.ctx.connection, now - KEEP_CONFIRMED_MS, now - KEEP_MS)
                .await
            {
                Ok(n) if n > 0 => {
                    tracing::debug!(connection = %b.ctx.name, purged = n, "update log trimmed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "update log trimming failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = shutdown.recv() => {}
        }
    }
}
