//! Webhook pushes as Telegram makes them: up to `max_connections` at once, but never two
//! updates of one chat at once nor out of order; with the secret token header; retried
//! with backoff and reported in getWebhookInfo; a method call in the answer (JSON,
//! urlencoded or multipart) is executed, and why one could not be is logged.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::server::{dispatch, read_params, Answer};
use crate::world::{now, Webhook};
use crate::{methods, spec, Shared};

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
    tokio::spawn(async move { dispatcher(shared, bot).await });
}

/// Starts a delivery for every update that may go now; ends when the webhook is removed.
async fn dispatcher(shared: Arc<Shared>, bot: i64) {
    let notify = shared.world().queues[&bot].notify.clone();
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let starts = {
            let mut world = shared.world();
            let q = world.queues.get_mut(&bot).expect("bot queue");
            let Some(hook) = &q.webhook else {
                q.pushing = false;
                return;
            };
            let starts = q.next_pushes(hook.max_connections.max(1) as usize);
            for (update, key) in &starts {
                q.in_flight.insert(update_id(update), *key);
            }
            starts
        };
        if starts.is_empty() {
            notified.await;
            continue;
        }
        for (update, _) in starts {
            tokio::spawn(deliver(shared.clone(), bot, update));
        }
    }
}

fn update_id(update: &Value) -> i64 {
    update["update_id"].as_i64().unwrap_or(0)
}

/// Pushes one update until it is accepted or the webhook goes away, then frees its chat.
async fn deliver(shared: Arc<Shared>, bot: i64, update: Value) {
    let id = update_id(&update);
    if shared.config.lock().unwrap().check_conformance {
        for v in spec::check_value("Update", &update) {
            shared.world().violation(format!("webhook update: {v}"));
        }
    }
    let body = update.to_string();
    let mut delay = shared.config.lock().unwrap().webhook_retry;
    loop {
        let (hook, target) = {
            let world = shared.world();
            match &world.queues[&bot].webhook {
                Some(h) => (h.clone(), world.webhook_rules.target(&h.url)),
                None => break,
            }
        };
        let sent = shared
            .http
            .post(&target)
            .headers(headers(hook.secret_token.as_deref()))
            .body(body.clone())
            .send()
            .await;
        let error = match sent {
            Ok(resp) if resp.status().is_success() => {
                let content_type = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let reply = resp.bytes().await.unwrap_or_default();
                shared
                    .world()
                    .queues
                    .get_mut(&bot)
                    .expect("bot queue")
                    .remove(id);
                // The chat stays busy until the reply ran: its effects keep the order too.
                run_reply(&shared, bot, &content_type, reply).await;
                break;
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
        shared
            .world()
            .queues
            .get_mut(&bot)
            .expect("bot queue")
            .last_error = Some((now(), error));
        backoff(&shared, bot, &hook, delay).await;
        let max = shared.config.lock().unwrap().webhook_retry_max;
        delay = (delay * 2).min(max);
    }
    let mut world = shared.world();
    let q = world.queues.get_mut(&bot).expect("bot queue");
    q.in_flight.remove(&id);
    q.notify.notify_waiters();
}

/// Waits `delay`, or less when the webhook is changed or removed meanwhile.
async fn backoff(shared: &Shared, bot: i64, hook: &Webhook, delay: Duration) {
    let notify = shared.world().queues[&bot].notify.clone();
    let deadline = tokio::time::Instant::now() + delay;
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if shared.world().queues[&bot].webhook.as_ref() != Some(hook) {
            return;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return;
        }
    }
}

/// Headers of a push.
fn headers(secret: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    if let Some(s) = secret {
        if let Ok(v) = s.parse() {
            h.insert("X-Telegram-Bot-Api-Secret-Token", v);
        }
    }
    h
}

/// Methods Telegram refuses to run from a webhook reply.
const NOT_IN_REPLY: &[&str] = &["setWebhook", "deleteWebhook", "close", "logOut"];

/// Executes the method call a webhook answered with, if any.
async fn run_reply(shared: &Arc<Shared>, bot: i64, content_type: &str, body: Bytes) {
    if body.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let req = Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("a request from valid parts");
    let params = match read_params(req).await {
        Ok(p) => p,
        Err(e) => return refused(shared, bot, None, format!("unreadable reply: {e}")),
    };
    let Some(name) = params.str("method").filter(|m| !m.is_empty()) else {
        tracing::debug!(bot, "webhook reply without a method");
        return;
    };
    let Some(method) = methods::canonical(&name) else {
        return refused(shared, bot, Some(&name), "unknown method".into());
    };
    if NOT_IN_REPLY.contains(&method) || method.starts_with("get") {
        return refused(
            shared,
            bot,
            Some(method),
            "not allowed in a webhook reply".into(),
        );
    }
    match dispatch(shared, bot, method, params).await {
        Answer::Json(Ok(_), _) => {}
        Answer::Json(Err(e), _) => refused(shared, bot, Some(method), e.to_string()),
        Answer::Dropped => refused(shared, bot, Some(method), "connection dropped".into()),
    }
}

/// Logs why a webhook reply was not executed, and tells event watchers.
fn refused(shared: &Shared, bot: i64, method: Option<&str>, reason: String) {
    tracing::warn!(bot, method, %reason, "webhook reply not executed");
    let _ = shared.events.send(json!({
        "type": "webhook_reply_failed", "bot": bot, "method": method, "reason": reason,
    }));
}
