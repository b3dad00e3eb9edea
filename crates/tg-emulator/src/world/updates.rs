//! Per-bot update queues with Telegram's semantics: increasing `update_id`s, sticky
//! `allowed_updates`, confirmation by offset, and webhook settings.

use std::collections::VecDeque;
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
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where updates are POSTed.
    pub url: String,
    /// Sent as `X-Telegram-Bot-Api-Secret-Token`.
    pub secret_token: Option<String>,
    /// As given (default 40).
    pub max_connections: i64,
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
