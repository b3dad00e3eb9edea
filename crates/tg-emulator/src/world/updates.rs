//! Per-bot update queues with Telegram's semantics: increasing `update_id`s, sticky
//! `allowed_updates`, confirmation by offset, and webhook settings.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::Notify;

/// Update types delivered when `allowed_updates` was never set (or set to `[]`).
pub const DEFAULT_UPDATES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// A bot's webhook as set by `setWebhook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Where updates are POSTed (as given; see [`WebhookRules::routes`]).
    pub url: String,
    /// Sent as `X-Telegram-Bot-Api-Secret-Token`.
    pub secret_token: Option<String>,
    /// Pushes in flight at once, 1..=100 (default 40).
    pub max_connections: i64,
}

/// The emulator's webhook switches. Telegram accepts only HTTPS URLs on ports 80, 88, 443
/// or 8443, while tests listen on plain HTTP at ephemeral ports: either turn on
/// `allow_local_http`, or keep Telegram's rule and route an HTTPS host to a local address.
#[derive(Debug, Clone, Default)]
pub struct WebhookRules {
    /// Accept plain `http://` URLs on loopback hosts, on any port (off by default).
    pub allow_local_http: bool,
    /// A TLS-terminating proxy: pushes to an `https://` URL whose `host:port` (port 443
    /// when absent) is listed here go over plain HTTP to the mapped local address, with
    /// the same path and query.
    pub routes: HashMap<String, SocketAddr>,
}

impl WebhookRules {
    /// Where a push to `url` really goes: the routed plain-HTTP URL, or `url` itself.
    pub fn target(&self, url: &str) -> String {
        let Ok(u) = reqwest::Url::parse(url) else {
            return url.to_string();
        };
        let key = format!(
            "{}:{}",
            u.host_str().unwrap_or("").to_ascii_lowercase(),
            u.port_or_known_default().unwrap_or(443)
        );
        match self.routes.get(&key) {
            Some(addr) if u.scheme() == "https" => {
                let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
                format!("http://{addr}{}{query}", u.path())
            }
            _ => url.to_string(),
        }
    }
}

/// The updates waiting for one bot.
#[derive(Debug)]
pub struct UpdateQueue {
    /// The id the next update gets.
    pub next_id: i64,
    /// Unconfirmed updates, oldest first.
    pub pending: VecDeque<Value>,
    /// Sticky filter from the last getUpdates/setWebhook that gave one.
    pub allowed: Option<Vec<String>>,
    /// The webhook, when set (getUpdates then answers 409).
    pub webhook: Option<Webhook>,
    /// Incremented by each getUpdates and setWebhook so an older long poll knows it lost.
    pub poll_generation: u64,
    /// Why the current long poll was terminated (the 409 text).
    pub terminated_by: Option<&'static str>,
    /// A webhook push task is running.
    pub pushing: bool,
    /// Updates being pushed right now: update id → ordering key (the chat).
    pub in_flight: HashMap<i64, i64>,
    /// getUpdates calls currently waiting (long polling).
    pub waiting: usize,
    /// Last webhook delivery error (unix time, message).
    pub last_error: Option<(i64, String)>,
    /// Woken on a new update or a poll/webhook change.
    pub notify: Arc<Notify>,
}

impl Default for UpdateQueue {
    fn default() -> Self {
        Self {
            next_id: 100_000_000 + rand::random::<u16>() as i64,
            pending: VecDeque::new(),
            allowed: None,
            webhook: None,
            poll_generation: 0,
            terminated_by: None,
            pushing: false,
            in_flight: HashMap::new(),
            waiting: 0,
            last_error: None,
            notify: Arc::new(Notify::new()),
        }
    }
}

impl UpdateQueue {
    /// Whether updates of `kind` are delivered under the current filter.
    pub fn allows(&self, kind: &str) -> bool {
        match &self.allowed {
            Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
            _ => DEFAULT_UPDATES.contains(&kind),
        }
    }

    /// Queues an update if the filter lets it through.
    pub fn push(&mut self, kind: &str, payload: Value) {
        if !self.allows(kind) {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.pending
            .push_back(json!({"update_id": id, kind: payload}));
        self.notify.notify_waiters();
    }

    /// Confirms updates below `offset`; a negative offset keeps only the last |offset|.
    pub fn confirm(&mut self, offset: i64) {
        if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            while self.pending.len() > keep {
                self.pending.pop_front();
            }
        } else {
            while self
                .pending
                .front()
                .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset)
            {
                self.pending.pop_front();
            }
        }
    }

    /// Removes a delivered update wherever it is in the queue.
    pub fn remove(&mut self, update_id: i64) {
        if let Some(i) = self
            .pending
            .iter()
            .position(|u| u["update_id"].as_i64() == Some(update_id))
        {
            self.pending.remove(i);
        }
    }

    /// The updates a webhook may push now, with their ordering keys: oldest first, at
    /// most `max` in flight, never two of one chat at once nor one overtaking an older
    /// update of its chat (Telegram keeps the order per chat, not across chats).
    pub fn next_pushes(&self, max: usize) -> Vec<(Value, i64)> {
        let mut busy: HashSet<i64> = self.in_flight.values().copied().collect();
        let mut room = max.saturating_sub(self.in_flight.len());
        let mut out = Vec::new();
        for u in &self.pending {
            if room == 0 {
                break;
            }
            let id = u["update_id"].as_i64().unwrap_or(0);
            if self.in_flight.contains_key(&id) {
                continue;
            }
            let key = order_key(u);
            if busy.insert(key) {
                out.push((u.clone(), key));
                room -= 1;
            }
        }
        out
    }

    /// Up to `limit` updates from the front.
    pub fn take(&self, limit: usize) -> Vec<Value> {
        self.pending.iter().take(limit).cloned().collect()
    }

    /// Sets the sticky filter from an `allowed_updates` parameter.
    pub fn set_allowed(&mut self, allowed: Option<Value>) {
        if let Some(Value::Array(list)) = allowed {
            self.allowed = Some(
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            );
        }
    }
}

/// The chat an update belongs to, for ordering pushes (the sender when there is no chat).
fn order_key(update: &Value) -> i64 {
    let Some(payload) = update
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| *k != "update_id"))
        .map(|(_, v)| v)
    else {
        return 0;
    };
    [
        &payload["chat"]["id"],
        &payload["message"]["chat"]["id"],
        &payload["from"]["id"],
        &payload["user"]["id"],
    ]
    .into_iter()
    .find_map(Value::as_i64)
    .unwrap_or(0)
}
