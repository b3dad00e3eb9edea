//! The bot itself: getMe, updates and webhooks, command menus, files.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::params::{empty, Params};
use crate::world::{Webhook, WebhookRules, World};

/// getMe.
pub fn get_me(world: &mut World, bot: i64) -> ApiResult<Value> {
    let b = &world.bots[&bot];
    Ok(json!({
        "id": b.id, "is_bot": true, "first_name": b.first_name, "username": b.username,
        "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
        "can_connect_to_business": false, "has_main_web_app": false,
    }))
}

/// The immediate part of getUpdates: 409 checks, confirmation, filter, and what is
/// available now. Returns the updates and the long-poll timeout asked for.
pub fn get_updates_now(world: &mut World, bot: i64, p: &Params) -> ApiResult<(Value, u64)> {
    let offset = p.i64("offset")?;
    let limit = p.i64("limit")?.unwrap_or(100).clamp(1, 100) as usize;
    let timeout = p.i64("timeout")?.unwrap_or(0).clamp(0, 50) as u64;
    let allowed = p.json("allowed_updates", "allowed updates")?;
    let q = world.queues.get_mut(&bot).expect("bot queue");
    if q.webhook.is_some() {
        return Err(ApiError::conflict(
            "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        ));
    }
    if let Some(o) = offset.filter(|o| *o != 0) {
        q.confirm(o);
    }
    q.set_allowed(allowed);
    Ok((Value::Array(q.take(limit)), timeout))
}

/// Telegram's checks of a webhook's `secret_token`: 1–256 of `A-Z a-z 0-9 _ -`.
fn check_secret(s: &str) -> ApiResult<()> {
    if s.len() > 256 {
        return Err(ApiError::bad_request("secret token is too long"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::bad_request(
            "secret token contains unallowed characters",
        ));
    }
    Ok(())
}

/// Telegram's rules for a webhook URL: HTTPS on port 80, 88, 443 or 8443. The emulator's
/// switch ([`WebhookRules::allow_local_http`]) also lets plain `http://` URLs on loopback
/// hosts through, on any port. Hosts are not resolved.
fn check_webhook_url(url: &str, rules: &WebhookRules) -> ApiResult<()> {
    let bad = |text: &str| ApiError::bad_request(format!("bad webhook: {text}"));
    let https_required = || bad("An HTTPS URL must be provided for webhook");
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()));
    let Some(u) = parsed else {
        return Err(https_required());
    };
    if u.scheme() == "http" && rules.allow_local_http && is_loopback(&u) {
        return Ok(());
    }
    if u.scheme() != "https" {
        return Err(https_required());
    }
    if !matches!(u.port_or_known_default(), Some(80 | 88 | 443 | 8443)) {
        return Err(bad(
            "Webhook can be set up only on ports 80, 88, 443 or 8443",
        ));
    }
    Ok(())
}

fn is_loopback(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// setWebhook: answers its description ("Webhook was set", ...) along with `true`.
/// `max_connections` is clamped to 1..=100 (default 40), as Telegram does.
pub fn set_webhook(world: &mut World, bot: i64, p: &Params) -> ApiResult<&'static str> {
    let url = p.str("url").unwrap_or_default();
    let secret = p.str("secret_token").filter(|s| !s.is_empty());
    if let Some(s) = &secret {
        check_secret(s)?;
    }
    if !url.is_empty() {
        check_webhook_url(&url, &world.webhook_rules)?;
    }
    let max_connections = p.i64("max_connections")?.unwrap_or(40).clamp(1, 100);
    let allowed = p.json("allowed_updates", "allowed updates")?;
    let drop_pending = p.bool("drop_pending_updates");
    if url.is_empty() {
        return delete_webhook(world, bot, p);
    }
    let q = world.queues.get_mut(&bot).expect("bot queue");
    let hook = Webhook {
        url,
        secret_token: secret,
        max_connections,
    };
    let unchanged = q.webhook.as_ref() == Some(&hook) && !drop_pending;
    if drop_pending {
        q.pending.clear();
    }
    q.set_allowed(allowed);
    if unchanged {
        return Ok("Webhook is already set");
    }
    q.webhook = Some(hook);
    q.last_error = None;
    q.poll_generation += 1;
    q.terminated_by = Some("terminated by setWebhook request");
    q.notify.notify_waiters();
    Ok("Webhook was set")
}

/// deleteWebhook (and setWebhook with an empty URL): answers its description.
pub fn delete_webhook(world: &mut World, bot: i64, p: &Params) -> ApiResult<&'static str> {
    let q = world.queues.get_mut(&bot).expect("bot queue");
    if p.bool("drop_pending_updates") {
        q.pending.clear();
    }
    let had = q.webhook.take().is_some();
    q.notify.notify_waiters();
    Ok(if had {
        "Webhook was deleted"
    } else {
        "Webhook is already deleted"
    })
}

/// getWebhookInfo.
pub fn get_webhook_info(world: &mut World, bot: i64) -> ApiResult<Value> {
    let q = &world.queues[&bot];
    let mut info = json!({
        "url": q.webhook.as_ref().map(|w| w.url.clone()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": q.pending.len(),
    });
    if let Some(w) = &q.webhook {
        info["max_connections"] = json!(w.max_connections);
    }
    if let Some((date, msg)) = &q.last_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(msg);
    }
    if let Some(a) = &q.allowed {
        info["allowed_updates"] = json!(a);
    }
    Ok(info)
}

fn scope_key(p: &Params) -> ApiResult<String> {
    let scope = p
        .json("scope", "bot command scope")?
        .unwrap_or(json!({"type": "default"}));
    let ty = scope["type"].as_str().unwrap_or("");
    let needs_chat = matches!(ty, "chat" | "chat_administrators" | "chat_member");
    match ty {
        "default" | "all_private_chats" | "all_group_chats" | "all_chat_administrators" => {}
        "chat" | "chat_administrators" | "chat_member" => {}
        _ => {
            return Err(ApiError::bad_request(
                "can't parse BotCommandScope JSON object",
            ))
        }
    }
    if needs_chat && scope.get("chat_id").is_none() {
        return Err(ApiError::bad_request(
            "can't parse BotCommandScope JSON object",
        ));
    }
    if ty == "chat_member" && scope.get("user_id").is_none() {
        return Err(ApiError::bad_request(
            "can't parse BotCommandScope JSON object",
        ));
    }
    Ok(format!("{ty}:{}:{}", scope["chat_id"], scope["user_id"]))
}

/// setMyCommands.
pub fn set_my_commands(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let commands = p
        .json("commands", "bot commands")?
        .ok_or_else(|| empty("commands"))?;
    let list = commands
        .as_array()
        .ok_or_else(|| ApiError::bad_request("can't parse bot commands JSON object"))?;
    if list.len() > 100 {
        return Err(ApiError::bad_request("too many commands specified"));
    }
    for c in list {
        let cmd = c["command"].as_str().unwrap_or("");
        let ok = (1..=32).contains(&cmd.len())
            && cmd
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !ok {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        let desc = c["description"].as_str().unwrap_or("");
        if !(1..=256).contains(&desc.chars().count()) {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
    }
    let key = (scope_key(p)?, p.str("language_code").unwrap_or_default());
    let list = Value::Array(
        list.iter()
            .map(|c| json!({"command": c["command"], "description": c["description"]}))
            .collect(),
    );
    world.bots.get_mut(&bot).unwrap().commands.insert(key, list);
    Ok(json!(true))
}

/// getMyCommands.
pub fn get_my_commands(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = (scope_key(p)?, p.str("language_code").unwrap_or_default());
    Ok(world.bots[&bot]
        .commands
        .get(&key)
        .cloned()
        .unwrap_or(json!([])))
}

/// deleteMyCommands.
pub fn delete_my_commands(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = (scope_key(p)?, p.str("language_code").unwrap_or_default());
    world.bots.get_mut(&bot).unwrap().commands.remove(&key);
    Ok(json!(true))
}

/// getFile.
pub fn get_file(world: &mut World, p: &Params) -> ApiResult<Value> {
    let id = p.req_str("file_id")?;
    let rec = world
        .files
        .get(&id)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    if rec.data.len() > 20 * 1024 * 1024 {
        return Err(ApiError::bad_request("file is too big"));
    }
    Ok(
        json!({"file_id": id, "file_unique_id": rec.file_unique_id, "file_size": rec.data.len(), "file_path": rec.file_path}),
    )
}
