//! copyMessage(s) and forwardMessage(s): content kept (same file ids), albums kept
//! together, what cannot be copied refused or skipped as Telegram does.

use serde_json::{json, Value};

use super::send::{caption_into, markup, resolve_target, target, Target};
use crate::error::{ApiError, ApiResult};
use crate::params::{empty, Params};
use crate::world::{ChatKey, Msg, Sender, World};

/// Fields that make up a message's content (everything else is envelope).
const CONTENT: &[&str] = &[
    "text",
    "entities",
    "link_preview_options",
    "animation",
    "audio",
    "document",
    "photo",
    "sticker",
    "video",
    "video_note",
    "voice",
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
    "contact",
    "dice",
    "poll",
    "venue",
    "location",
];

/// The content of a message, or None when Telegram refuses to copy it.
fn content(msg: &Msg) -> Option<Value> {
    if msg.service {
        return None;
    }
    let mut body = json!({});
    for f in CONTENT {
        if let Some(v) = msg.json.get(*f) {
            body[*f] = v.clone();
        }
    }
    if body.as_object().is_some_and(|o| o.is_empty()) {
        return None;
    }
    if let Some(poll) = body.get_mut("poll") {
        poll["id"] = json!(format!("{}", rand::random::<u64>() >> 1));
        poll["total_voter_count"] = json!(0);
    }
    Some(body)
}

fn source(world: &World, bot: i64, p: &Params) -> ApiResult<ChatKey> {
    let from = p.req_str("from_chat_id")?;
    world.resolve_chat(bot, &from)
}

fn origin(world: &World, msg: &Msg) -> Value {
    if let Some(o) = msg.json.get("forward_origin") {
        return o.clone();
    }
    let date = msg.json["date"].clone();
    json!({"type": "user", "sender_user": world.user_json(msg.sender.id()), "date": date})
}

/// The body of a copy (or forward) of `msg`.
fn copy_body(world: &World, msg: &Msg, forward: bool) -> ApiResult<Value> {
    let cant = if forward {
        "message can't be forwarded"
    } else {
        "message can't be copied"
    };
    let mut body = content(msg).ok_or_else(|| ApiError::bad_request(cant))?;
    if msg.json["has_protected_content"].as_bool() == Some(true) {
        return Err(ApiError::bad_request(cant));
    }
    if forward {
        body["forward_origin"] = origin(world, msg);
        if let Some(kb) = msg.json.get("reply_markup") {
            // Forwards keep URL buttons only; keep it simple and faithful enough: drop callbacks.
            let kept: Vec<Value> = kb["inline_keyboard"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|row| {
                    Value::Array(
                        row.as_array()
                            .into_iter()
                            .flatten()
                            .filter(|b| b.get("url").is_some())
                            .cloned()
                            .collect(),
                    )
                })
                .filter(|row: &Value| row.as_array().is_some_and(|r| !r.is_empty()))
                .collect();
            if !kept.is_empty() {
                body["reply_markup"] = json!({"inline_keyboard": kept});
            }
        }
    }
    Ok(body)
}

/// copyMessage (`forward` = false) and forwardMessage (`forward` = true).
pub fn copy_message(world: &mut World, bot: i64, p: &Params, forward: bool) -> ApiResult<Value> {
    let from = source(world, bot, p)?;
    let t = target(world, bot, p)?;
    let id = p.req_i64("message_id")?;
    let not_found = if forward {
        "message to forward not found"
    } else {
        "message to copy not found"
    };
    let msg = world
        .chat(from)
        .message(id)
        .cloned()
        .ok_or_else(|| ApiError::bad_request(not_found))?;
    let mut body = copy_body(world, &msg, forward)?;
    if !forward {
        let captionable = [
            "caption",
            "photo",
            "video",
            "document",
            "audio",
            "animation",
            "voice",
        ]
        .iter()
        .any(|f| body.get(*f).is_some());
        if captionable && p.has("caption") {
            body.as_object_mut().unwrap().remove("caption_entities");
            body.as_object_mut().unwrap().remove("caption");
            caption_into(
                &mut body,
                p.str("caption"),
                p.str("parse_mode"),
                p.json("caption_entities", "caption entities")?,
            )?;
        }
        if let Some(kb) = markup(p)? {
            body["reply_markup"] = kb;
        }
    }
    if p.bool("protect_content") {
        body["has_protected_content"] = json!(true);
    }
    let sent = world.post(t.key, Sender::Bot(bot), t.thread, t.reply_to, body, false);
    Ok(if forward {
        sent
    } else {
        json!({"message_id": sent["message_id"]})
    })
}

/// copyMessages and forwardMessages: 1–100 ids in increasing order; skips what can't go.
pub fn copy_messages(world: &mut World, bot: i64, p: &Params, forward: bool) -> ApiResult<Value> {
    let from = source(world, bot, p)?;
    let t = target(world, bot, p)?;
    let ids: Vec<i64> = p
        .json("message_ids", "message identifiers")?
        .ok_or_else(|| empty("message_ids"))?
        .as_array()
        .ok_or_else(|| ApiError::bad_request("can't parse message identifiers JSON object"))?
        .iter()
        .map(|v| {
            v.as_i64()
                .ok_or_else(|| ApiError::bad_request("can't parse message identifiers JSON object"))
        })
        .collect::<ApiResult<_>>()?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request("too many messages to copy"));
    }
    if ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ApiError::bad_request(
            "message identifiers must be in strictly increasing order",
        ));
    }
    let mut album_map: Vec<(String, String)> = Vec::new();
    let mut bodies = Vec::new();
    for id in ids {
        let Some(msg) = world.chat(from).message(id).cloned() else {
            continue;
        };
        let Ok(mut body) = copy_body(world, &msg, forward) else {
            continue;
        };
        if forward {
            body.as_object_mut().unwrap().remove("reply_markup");
        }
        if p.bool("remove_caption") && !forward {
            body.as_object_mut().unwrap().remove("caption");
            body.as_object_mut().unwrap().remove("caption_entities");
        }
        if let Some(src_album) = msg.json["media_group_id"].as_str() {
            let new = match album_map.iter().find(|(s, _)| s == src_album) {
                Some((_, n)) => n.clone(),
                None => {
                    let n = world.new_album_id();
                    album_map.push((src_album.to_string(), n.clone()));
                    n
                }
            };
            body["media_group_id"] = json!(new);
        }
        if p.bool("protect_content") {
            body["has_protected_content"] = json!(true);
        }
        bodies.push(body);
    }
    if bodies.is_empty() {
        let what = if forward { "forward" } else { "copy" };
        return Err(ApiError::bad_request(format!(
            "there are no messages to {what}"
        )));
    }
    let Target {
        key,
        thread,
        reply_to,
    } = resolve_target(world, t.key, t.thread, None, bot)?;
    let ids: Vec<Value> = bodies
        .into_iter()
        .map(|b| json!({"message_id": world.post(key, Sender::Bot(bot), thread, reply_to, b, false)["message_id"]}))
        .collect();
    Ok(Value::Array(ids))
}
