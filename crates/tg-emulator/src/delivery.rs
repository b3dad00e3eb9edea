//! Update delivery: getUpdates long polling (with Telegram's 409s) and webhook pushes
//! (in order, with the secret token header, retried, reported in getWebhookInfo, and
//! executing a method given in the webhook's reply).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::server::{dispatch, webhook_headers, Answer};
use crate::world::now;
use crate::{methods, spec, Shared};

/// getUpdates: answers at once when updates are waiting, else waits up to `timeout`
/// seconds for one. A newer getUpdates or a setWebhook terminates it with 409.
pub async fn get_updates(shared: &Arc<Shared>, bot: i64, p: &Params) -> ApiResult<Value> {
    let (generation, notify, deadline, limit) = {
        let mut world = shared.world();
        let (updates, timeout) = methods::get_updates_now(&mut world, bot, p)?;
        let q = world.queues.get_mut(&bot).expect("bot queue");
        q.poll_generation += 1;
        q.terminated_by = Some("terminated by other getUpdates request; make sure that only one bot instance is running");
        q.notify.notify_waiters();
        if !updates.as_array().is_some_and(|a| a.is_empty()) || timeout == 0 {
            return Ok(updates);
        }
        let limit = p.i64("limit")?.unwrap_or(100).clamp(1, 100) as usize;
        q.waiting += 1;
        (
            q.poll_generation,
            q.notify.clone(),
            tokio::time::Instant::now() + Duration::from_secs(timeout),
            limit,
        )
    };
    let _waiting = Waiting { shared, bot };
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let world = shared.world();
            let q = &world.queues[&bot];
            if q.poll_generation != generation {
                return Err(ApiError::conflict(
                    q.terminated_by
                        .unwrap_or("terminated by other getUpdates request"),
                ));
            }
            if q.webhook.is_some() {
                return Err(ApiError::conflict("terminated by setWebhook request"));
            }
            if !q.pending.is_empty() {
                return Ok(Value::Array(q.take(limit)));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(json!([]));
        }
    }
}

/// Counts a waiting long poll while it lives (see [`crate::Control::is_polling`]).
struct Waiting<'a> {
    shared: &'a Shared,
    bot: i64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(q) = self.shared.world().queues.get_mut(&self.bot) {
            q.waiting = q.waiting.saturating_sub(1);
        }
    }
}

/// Starts the push task of a bot's webhook unless one is running.
pub fn ensure_webhook_task(shared: &Arc<Shared>, bot: i64) {
    {
        let mut world = shared.world();
        let q = world.queues.get_mut(&bot).expect("bot queue");
        if q.pushing {
            return;
        }
        q.pushing = true;
    }
    let shared = shared.clone();
    tokio::spawn(async move { push_loop(shared, bot).await });
}

async fn push_loop(shared: Arc<Shared>, bot: i64) {
    let mut delay = shared.config.lock().unwrap().webhook_retry;
    loop {
        let notify;
        let next = {
            let mut world = shared.world();
            let q = world.queues.get_mut(&bot).expect("bot queue");
            let Some(hook) = q.webhook.clone() else {
                q.pushing = false;
                return;
            };
            notify = q.notify.clone();
            q.pending.front().cloned().map(|u| (hook, u))
        };
        let Some((hook, update)) = next else {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let empty = shared.world().queues[&bot].pending.is_empty();
            if empty {
                notified.await;
            }
            continue;
        };
        if shared.config.lock().unwrap().check_conformance {
            for v in spec::check_value("Update", &update) {
                shared.world().violation(format!("webhook update: {v}"));
            }
        }
        let sent = shared
            .http
            .post(&hook.url)
            .headers(webhook_headers(hook.secret_token.as_deref()))
            .body(update.to_string())
            .send()
            .await;
        let error = match sent {
            Ok(resp) if resp.status().is_success() => {
                let body = resp.bytes().await.unwrap_or_default();
                let id = update["update_id"].as_i64();
                {
                    let mut world = shared.world();
                    let q = world.queues.get_mut(&bot).expect("bot queue");
                    if q.pending.front().and_then(|u| u["update_id"].as_i64()) == id {
                        q.pending.pop_front();
                    }
                }
                run_webhook_reply(&shared, bot, &body).await;
                delay = shared.config.lock().unwrap().webhook_retry;
                continue;
            }
            Ok(resp) => {
                let s = resp.status();
                format!(
                    "Wrong response from the webhook: {} {}",
                    s.as_u16(),
                    s.canonical_reason().unwrap_or("")
                )
            }
            Err(e) if e.is_timeout() => "Timeout expired".to_string(),
            Err(e) if e.is_connect() => "Connection refused".to_string(),
            Err(_) => "Failed to read response".to_string(),
        };
        {
            let mut world = shared.world();
            let q = world.queues.get_mut(&bot).expect("bot queue");
            q.last_error = Some((now(), error));
        }
        let notified = notify.notified();
        let _ = tokio::time::timeout(delay, notified).await;
        let max = shared.config.lock().unwrap().webhook_retry_max;
        delay = (delay * 2).min(max);
    }
}

/// Methods Telegram refuses to run from a webhook reply.
const NOT_IN_REPLY: &[&str] = &["setWebhook", "deleteWebhook", "close", "logOut"];

async fn run_webhook_reply(shared: &Arc<Shared>, bot: i64, body: &[u8]) {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(name) = map.get("method").and_then(Value::as_str) else {
        return;
    };
    let Some(method) = methods::canonical(name) else {
        return;
    };
    if NOT_IN_REPLY.contains(&method) || method.starts_with("get") {
        return;
    }
    let params = Params::from_json(Value::Object(map));
    if let Answer::Json(Err(e)) = dispatch(shared, bot, method, params).await {
        tracing::debug!(%e, method, "webhook reply failed");
    }
}
