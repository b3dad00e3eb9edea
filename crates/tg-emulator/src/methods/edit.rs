//! editMessage* and deleteMessage(s), with Telegram's refusals.

use serde_json::{json, Value};

use super::send::{caption_into, markup, media_body, rich_text, TextKind};
use crate::error::{ApiError, ApiResult};
use crate::params::{empty, Params};
use crate::world::{now, ChatKey, Sender, World};

/// Which edit method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// editMessageText.
    Text,
    /// editMessageCaption.
    Caption,
    /// editMessageMedia.
    Media,
    /// editMessageReplyMarkup.
    Markup,
}

const MEDIA: &[&str] = &["photo", "video", "animation", "audio", "document", "voice"];

fn not_modified() -> ApiError {
    ApiError::bad_request(
        "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
    )
}

/// Locates the message an edit or delete method designates.
fn locate(world: &World, bot: i64, p: &Params, not_found: &str) -> ApiResult<(ChatKey, i64)> {
    if p.has("inline_message_id") {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = p.req_str("chat_id")?;
    let key = world.resolve_chat(bot, &chat_id)?;
    let id = p.req_i64("message_id")?;
    if world.chat(key).message(id).is_none() {
        return Err(ApiError::bad_request(not_found));
    }
    Ok((key, id))
}

/// The four edit methods.
pub fn edit(world: &mut World, bot: i64, p: &Params, what: What) -> ApiResult<Value> {
    let (key, id) = locate(world, bot, p, "message to edit not found")?;
    let msg = world.chat(key).message(id).cloned().expect("located");
    if msg.sender != Sender::Bot(bot) || msg.service {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    let mut json = msg.json.clone();
    let old = json.clone();
    match what {
        What::Text => {
            if json.get("text").is_none() {
                return Err(ApiError::bad_request(
                    "there is no text in the message to edit",
                ));
            }
            let (text, entities) = rich_text(
                p.str("text"),
                p.str("parse_mode"),
                p.json("entities", "entities")?,
                TextKind::Edit,
            )?;
            json["text"] = json!(text);
            set_or_remove(&mut json, "entities", entities);
        }
        What::Caption => {
            if !MEDIA.iter().any(|m| json.get(*m).is_some()) {
                return Err(ApiError::bad_request(
                    "there is no caption in the message to edit",
                ));
            }
            let obj = json.as_object_mut().unwrap();
            obj.remove("caption");
            obj.remove("caption_entities");
            caption_into(
                &mut json,
                p.str("caption"),
                p.str("parse_mode"),
                p.json("caption_entities", "caption entities")?,
            )?;
        }
        What::Media => {
            if !MEDIA.iter().any(|m| json.get(*m).is_some()) {
                return Err(ApiError::bad_request(
                    "there is no media in the message to edit",
                ));
            }
            let item = p
                .json("media", "InputMedia")?
                .ok_or_else(|| empty("media"))?;
            let body = media_body(world, p, &item)?;
            let obj = json.as_object_mut().unwrap();
            for f in MEDIA
                .iter()
                .chain(["caption", "caption_entities", "has_media_spoiler"].iter())
            {
                obj.remove(*f);
            }
            for (k, v) in body.as_object().unwrap() {
                json[k] = v.clone();
            }
        }
        What::Markup => {}
    }
    match markup(p)? {
        Some(kb) => json["reply_markup"] = kb,
        None => {
            json.as_object_mut().unwrap().remove("reply_markup");
        }
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("edit_date");
        v
    };
    if strip(&json) == strip(&old) {
        return Err(not_modified());
    }
    json["edit_date"] = json!(now().max(old["date"].as_i64().unwrap_or(0)));
    let chat = world.chat_mut(key);
    let stored = chat.messages.get_mut(&id).unwrap();
    stored.json = json;
    let stored = stored.clone();
    Ok(chat.render(&stored))
}

fn set_or_remove(json: &mut Value, field: &str, list: Vec<Value>) {
    if list.is_empty() {
        json.as_object_mut().unwrap().remove(field);
    } else {
        json[field] = json!(list);
    }
}

/// Whether the bot may delete this message (own messages; incoming in private chats;
/// any non-service message in a group where it can delete messages).
fn may_delete(world: &World, bot: i64, key: ChatKey, id: i64) -> bool {
    let chat = world.chat(key);
    let Some(msg) = chat.message(id) else {
        return false;
    };
    if msg.service && msg.thread == Some(id) {
        return false;
    }
    match key {
        ChatKey::Private { .. } => true,
        ChatKey::Group(_) => {
            msg.sender == Sender::Bot(bot)
                || chat
                    .members
                    .get(&bot)
                    .is_some_and(|m| m.can("can_delete_messages"))
        }
    }
}

/// deleteMessage.
pub fn delete_message(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let (key, id) = locate(world, bot, p, "message to delete not found")?;
    if !may_delete(world, bot, key, id) {
        return Err(ApiError::bad_request("message can't be deleted"));
    }
    world.chat_mut(key).messages.get_mut(&id).unwrap().deleted = true;
    Ok(json!(true))
}

/// deleteMessages: 1–100 ids; ones that can't be found or deleted are skipped.
pub fn delete_messages(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let chat_id = p.req_str("chat_id")?;
    let key = world.resolve_chat(bot, &chat_id)?;
    let ids = p
        .json("message_ids", "message identifiers")?
        .ok_or_else(|| empty("message_ids"))?;
    let ids: Vec<i64> = ids
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::bad_request("too many messages to delete"));
    }
    let mut any = false;
    for id in ids {
        if may_delete(world, bot, key, id) {
            world.chat_mut(key).messages.get_mut(&id).unwrap().deleted = true;
            any = true;
        }
    }
    if !any {
        return Err(ApiError::bad_request("message to delete not found"));
    }
    Ok(json!(true))
}
