//! The bot itself: getMe, updates and webhooks, command menus, files.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::params::{empty, Params};
use crate::world::{Webhook, World};

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

fn valid_secret(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// setWebhook.
pub fn set_webhook(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let url = p.str("url").unwrap_or_default();
    let secret = p.str("secret_token").filter(|s| !s.is_empty());
    if let Some(s) = &secret {
        if !valid_secret(s) {
            return Err(ApiError::bad_request(
                "secret token contains unallowed characters",
            ));
        }
    }
    if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ApiError::bad_request(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    let max_connections = p.i64("max_connections")?.unwrap_or(40);
    if !(1..=100).contains(&max_connections) {
        return Err(ApiError::bad_request(
            "bad webhook: max_connections must be between 1 and 100",
        ));
    }
    let allowed = p.json("allowed_updates", "allowed updates")?;
    let q = world.queues.get_mut(&bot).expect("bot queue");
    if p.bool("drop_pending_updates") {
        q.pending.clear();
    }
    q.set_allowed(allowed);
    if url.is_empty() {
        q.webhook = None;
    } else {
        q.webhook = Some(Webhook {
            url,
            secret_token: secret,
            max_connections,
        });
        q.last_error = None;
        q.poll_generation += 1;
        q.terminated_by = Some("terminated by setWebhook request");
    }
    q.notify.notify_waiters();
    Ok(json!(true))
}

/// deleteWebhook.
pub fn delete_webhook(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let q = world.queues.get_mut(&bot).expect("bot queue");
    q.webhook = None;
    if p.bool("drop_pending_updates") {
        q.pending.clear();
    }
    q.notify.notify_waiters();
    Ok(json!(true))
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
