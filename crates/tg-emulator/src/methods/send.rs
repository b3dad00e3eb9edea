//! send* methods, sendMediaGroup and sendChatAction; also the content builder the
//! control API uses when a person sends something.

use rand::Rng;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::params::{empty, Params};
use crate::world::format::{self, utf16_len};
use crate::world::{ChatKey, FileKind, Sender, World};

/// Where a new message goes.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The chat.
    pub key: ChatKey,
    /// Forum topic, if any.
    pub thread: Option<i64>,
    /// Replied message, if any.
    pub reply_to: Option<i64>,
}

/// Checks that `thread` is a live topic of a forum the sender may write in.
pub fn check_thread(
    world: &World,
    key: ChatKey,
    thread: Option<i64>,
    sender: i64,
) -> ApiResult<Option<i64>> {
    let chat = world.chat(key);
    // 0 is "no thread", as in Telegram.
    let Some(t) = thread.filter(|t| *t != 0) else {
        return Ok(None);
    };
    // Ordinary private chats have no threads (bots' private topics are not modelled).
    if let ChatKey::Private { .. } = key {
        return Err(ApiError::thread_not_found());
    }
    // In a non-forum group the id names a reply thread: nothing to check.
    if !chat.is_forum {
        return Ok(None);
    }
    // General (id 1) is addressed by omitting the field; passing it is an error.
    if t == 1 {
        return Err(ApiError::thread_not_found());
    }
    let topic = chat.topic(t).ok_or_else(ApiError::thread_not_found)?;
    // The "broken topic" fault: people still use it, bots cannot reach it.
    if topic.broken && world.bots.contains_key(&sender) {
        return Err(ApiError::thread_not_found());
    }
    let manager = chat
        .members
        .get(&sender)
        .is_some_and(|m| m.can("can_manage_topics"));
    if topic.closed && !manager {
        return Err(ApiError::bad_request("TOPIC_CLOSED"));
    }
    Ok(Some(t))
}

/// Resolves chat, topic and reply of a sending method for a bot.
pub fn target(world: &World, bot: i64, p: &Params) -> ApiResult<Target> {
    let chat_id = p.req_str("chat_id")?;
    let key = world.resolve_chat(bot, &chat_id)?;
    if world.chat(key).blocked {
        return Err(ApiError::blocked());
    }
    let thread = p.i64("message_thread_id")?;
    let reply = match p.json("reply_parameters", "reply parameters")? {
        Some(r) => Some(r),
        // The parameters reply_parameters replaced in Bot API 7.0 still work.
        None => p.i64("reply_to_message_id")?.map(|id| {
            json!({"message_id": id, "allow_sending_without_reply": p.bool("allow_sending_without_reply")})
        }),
    };
    resolve_target(world, key, thread, reply.as_ref(), bot)
}

/// The shared part of [`target`], also used when people send through the control API.
pub fn resolve_target(
    world: &World,
    key: ChatKey,
    thread: Option<i64>,
    reply: Option<&Value>,
    sender: i64,
) -> ApiResult<Target> {
    let mut thread = check_thread(world, key, thread, sender)?;
    let mut reply_to = None;
    if let Some(r) = reply {
        let id = r["message_id"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("message to be replied not found"))?;
        match world.chat(key).message(id) {
            Some(m) => {
                if thread.is_none() && m.thread.is_some() {
                    thread = check_thread(world, key, m.thread, sender)?;
                }
                reply_to = Some(id);
            }
            None if r["allow_sending_without_reply"].as_bool() == Some(true) => {}
            None => return Err(ApiError::bad_request("message to be replied not found")),
        }
    }
    Ok(Target {
        key,
        thread,
        reply_to,
    })
}

/// Which text [`rich_text`] reads: the limits and error texts differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// A new message's text: 1–4096 characters ("message is too long").
    Message,
    /// A new text of an existing message: 1–4096 characters ("MESSAGE_TOO_LONG").
    Edit,
    /// A caption: 0–1024 characters.
    Caption,
}

/// Text plus entities from its three parameters, with Telegram's limits and texts.
pub fn rich_text(
    text: Option<String>,
    mode: Option<String>,
    entities: Option<Value>,
    kind: TextKind,
) -> ApiResult<(String, Vec<Value>)> {
    let text = text.unwrap_or_default();
    let (text, entities) = match mode.filter(|m| !m.is_empty()) {
        Some(mode) => {
            let parsed = format::parse(&text, &mode)?;
            (parsed.text, parsed.entities)
        }
        None => match entities {
            Some(Value::Array(list)) => {
                let len = utf16_len(&text) as u64;
                for e in &list {
                    let (off, l) = (e["offset"].as_u64(), e["length"].as_u64());
                    if e["type"].as_str().is_none() || off.is_none() || l.is_none() {
                        return Err(ApiError::bad_request("can't parse entities JSON object"));
                    }
                    if off.unwrap() + l.unwrap() > len {
                        return Err(ApiError::bad_request(
                            "entity beginning or end is out of text bounds",
                        ));
                    }
                }
                (text, list)
            }
            Some(_) => return Err(ApiError::bad_request("can't parse entities JSON object")),
            None => {
                let detected = format::detect(&text);
                (text, detected)
            }
        },
    };
    let chars = text.chars().count();
    match kind {
        TextKind::Caption if chars > 1024 => {
            Err(ApiError::bad_request("message caption is too long"))
        }
        TextKind::Caption => Ok((text, entities)),
        _ if text.trim().is_empty() => Err(ApiError::bad_request("message text is empty")),
        TextKind::Message if chars > 4096 => Err(ApiError::bad_request("message is too long")),
        TextKind::Edit if chars > 4096 => Err(ApiError::bad_request("MESSAGE_TOO_LONG")),
        _ => Ok((text, entities)),
    }
}

/// Validates `reply_markup`; returns the inline keyboard Telegram keeps on the message.
pub fn markup(p: &Params) -> ApiResult<Option<Value>> {
    let Some(m) = p.json("reply_markup", "reply keyboard markup")? else {
        return Ok(None);
    };
    inline_keyboard(&m)
}

/// Validates a markup object; only inline keyboards are kept on messages.
pub fn inline_keyboard(m: &Value) -> ApiResult<Option<Value>> {
    if let Some(rows) = m.get("inline_keyboard") {
        let rows = rows.as_array().ok_or_else(|| {
            ApiError::bad_request("can't parse inline keyboard markup JSON object")
        })?;
        for row in rows {
            let row = row.as_array().ok_or_else(|| {
                ApiError::bad_request("can't parse inline keyboard markup JSON object")
            })?;
            for b in row {
                if b["text"].as_str().is_none() {
                    return Err(ApiError::bad_request(
                        "can't parse inline keyboard button: Text is not specified",
                    ));
                }
                if let Some(data) = b.get("callback_data") {
                    let len = data.as_str().map(str::len).unwrap_or(0);
                    if !(1..=64).contains(&len) {
                        return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
                    }
                } else if [
                    "url",
                    "web_app",
                    "login_url",
                    "switch_inline_query",
                    "switch_inline_query_current_chat",
                    "switch_inline_query_chosen_chat",
                    "copy_text",
                    "callback_game",
                    "pay",
                ]
                .iter()
                .all(|k| b.get(*k).is_none())
                {
                    return Err(ApiError::bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                    ));
                }
            }
        }
        return Ok(Some(json!({"inline_keyboard": rows})));
    }
    if m.get("keyboard").is_some()
        || m.get("remove_keyboard").is_some()
        || m.get("force_reply").is_some()
    {
        return Ok(None);
    }
    Err(ApiError::bad_request(
        "can't parse reply keyboard markup JSON object",
    ))
}

fn f64_param(p: &Params, name: &str) -> ApiResult<f64> {
    let s = p.str(name).ok_or_else(|| empty(name))?;
    s.trim()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid {name} specified")))
}

/// Builds the content fields of a message of `kind` ("text", "photo", "location"...)
/// from parameters named as in the corresponding send method.
pub fn build_body(world: &mut World, kind: &str, p: &Params) -> ApiResult<Value> {
    let mut body = json!({});
    match kind {
        "text" => {
            let (text, entities) = rich_text(
                p.str("text"),
                p.str("parse_mode"),
                p.json("entities", "entities")?,
                TextKind::Message,
            )?;
            body["text"] = json!(text);
            if !entities.is_empty() {
                body["entities"] = json!(entities);
            }
            if let Some(lp) = p.json("link_preview_options", "link preview options")? {
                body["link_preview_options"] = lp;
            }
        }
        "location" | "venue" => {
            let (lat, lon) = (f64_param(p, "latitude")?, f64_param(p, "longitude")?);
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(ApiError::bad_request(
                    "wrong latitude or longitude specified",
                ));
            }
            let location = json!({"latitude": lat, "longitude": lon});
            if kind == "venue" {
                body["venue"] = json!({"location": location, "title": p.req_str("title")?, "address": p.req_str("address")?});
            }
            body["location"] = location;
        }
        "contact" => {
            let mut c = json!({"phone_number": p.req_str("phone_number")?, "first_name": p.req_str("first_name")?});
            if let Some(l) = p.str("last_name") {
                c["last_name"] = json!(l);
            }
            if let Some(v) = p.str("vcard") {
                c["vcard"] = json!(v);
            }
            body["contact"] = c;
        }
        "poll" => {
            let question = p.req_str("question")?;
            if question.chars().count() > 300 {
                return Err(ApiError::bad_request("POLL_QUESTION_INVALID"));
            }
            let options = p
                .json("options", "options")?
                .and_then(|o| o.as_array().cloned())
                .unwrap_or_default();
            if !(2..=12).contains(&options.len()) {
                return Err(ApiError::bad_request("POLL_ANSWERS_INVALID"));
            }
            let mut opts = Vec::new();
            for (i, o) in options.iter().enumerate() {
                let text = o
                    .as_str()
                    .or_else(|| o["text"].as_str())
                    .ok_or_else(|| ApiError::bad_request("POLL_ANSWERS_INVALID"))?;
                opts.push(json!({"persistent_id": format!("{i}"), "text": text, "voter_count": 0}));
            }
            let ty = p.str("type").unwrap_or_else(|| "regular".into());
            if ty != "regular" && ty != "quiz" {
                return Err(ApiError::bad_request("wrong poll type specified"));
            }
            body["poll"] = json!({
                "id": format!("{}", rand::thread_rng().gen_range(5_000_000_000_000_000_000u64..6_000_000_000_000_000_000)),
                "question": question, "options": opts, "total_voter_count": 0,
                "is_closed": p.bool("is_closed"),
                "is_anonymous": p.str("is_anonymous").map(|_| p.bool("is_anonymous")).unwrap_or(true),
                "type": ty, "allows_multiple_answers": p.bool("allows_multiple_answers"),
                "allows_revoting": p.bool("allows_revoting"), "members_only": p.bool("members_only"),
            });
        }
        "dice" => {
            let emoji = p.str("emoji").unwrap_or_else(|| "🎲".into());
            let max = match emoji.as_str() {
                "🎲" | "🎯" | "🎳" => 6,
                "🏀" | "⚽" => 5,
                "🎰" => 64,
                _ => return Err(ApiError::bad_request("wrong dice emoji specified")),
            };
            body["dice"] = json!({"emoji": emoji, "value": rand::thread_rng().gen_range(1..=max)});
        }
        field => {
            let file_kind = FileKind::from_field(field).ok_or_else(ApiError::not_found)?;
            let file = p.file(field)?.ok_or_else(|| {
                ApiError::bad_request(format!("there is no {field} in the request"))
            })?;
            let mut extra = json!({});
            for k in [
                "width",
                "height",
                "duration",
                "length",
                "performer",
                "title",
                "emoji",
            ] {
                if let Some(v) = p.str(k) {
                    extra[k] = v
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(v));
                }
            }
            body[field] = world.media_for(file_kind, file, &extra)?;
            if !matches!(file_kind, FileKind::Sticker | FileKind::VideoNote) {
                caption_into(
                    &mut body,
                    p.str("caption"),
                    p.str("parse_mode"),
                    p.json("caption_entities", "caption entities")?,
                )?;
                if p.bool("has_spoiler") {
                    body["has_media_spoiler"] = json!(true);
                }
                if p.bool("show_caption_above_media") {
                    body["show_caption_above_media"] = json!(true);
                }
            }
        }
    }
    Ok(body)
}

/// Sets `caption` and `caption_entities` on a body (nothing for an empty caption).
pub fn caption_into(
    body: &mut Value,
    caption: Option<String>,
    mode: Option<String>,
    entities: Option<Value>,
) -> ApiResult<()> {
    let (caption, entities) = rich_text(caption, mode, entities, TextKind::Caption)?;
    if !caption.is_empty() {
        body["caption"] = json!(caption);
        if !entities.is_empty() {
            body["caption_entities"] = json!(entities);
        }
    }
    Ok(())
}

/// Posts a message built by a bot, with its keyboard and protection flags.
pub fn post_from_bot(
    world: &mut World,
    bot: i64,
    t: Target,
    mut body: Value,
    p: &Params,
) -> ApiResult<Value> {
    if let Some(kb) = markup(p)? {
        body["reply_markup"] = kb;
    }
    if p.bool("protect_content") {
        body["has_protected_content"] = json!(true);
    }
    Ok(world.post(t.key, Sender::Bot(bot), t.thread, t.reply_to, body, false))
}

/// sendMessage.
pub fn send_message(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let t = target(world, bot, p)?;
    let body = build_body(world, "text", p)?;
    post_from_bot(world, bot, t, body, p)
}

/// sendPhoto, sendVideo, sendAnimation, sendAudio, sendVoice, sendVideoNote, sendDocument, sendSticker.
pub fn send_file(world: &mut World, bot: i64, p: &Params, field: &str) -> ApiResult<Value> {
    let t = target(world, bot, p)?;
    let body = build_body(world, field, p)?;
    post_from_bot(world, bot, t, body, p)
}

/// sendLocation, sendVenue, sendContact, sendPoll, sendDice.
pub fn send_other(world: &mut World, bot: i64, p: &Params, kind: &str) -> ApiResult<Value> {
    let t = target(world, bot, p)?;
    let body = build_body(world, kind, p)?;
    post_from_bot(world, bot, t, body, p)
}

/// Builds the bodies of an album from InputMedia items (2–10, compatible kinds).
pub fn album_bodies(world: &mut World, p: &Params, items: &[Value]) -> ApiResult<Vec<Value>> {
    if !(2..=10).contains(&items.len()) {
        return Err(ApiError::bad_request(if items.len() > 10 {
            "too many messages to send as an album"
        } else {
            "wrong number of media items specified"
        }));
    }
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| i["type"].as_str().unwrap_or(""))
        .collect();
    let visual = kinds.iter().all(|k| matches!(*k, "photo" | "video"));
    let same = kinds
        .iter()
        .all(|k| *k == kinds[0] && matches!(*k, "audio" | "document"));
    if !(visual || same) {
        return Err(ApiError::bad_request("wrong type of the media group item; audio and document items can't be mixed with other types"));
    }
    items
        .iter()
        .map(|item| media_body(world, p, item))
        .collect()
}

/// The content of one InputMedia item (album member or editMessageMedia's `media`).
pub fn media_body(world: &mut World, p: &Params, item: &Value) -> ApiResult<Value> {
    let kind = item["type"].as_str().unwrap_or("");
    let file_kind = FileKind::from_field(kind)
        .filter(|k| !matches!(k, FileKind::Sticker | FileKind::Voice | FileKind::VideoNote))
        .ok_or_else(|| ApiError::bad_request("can't parse InputMedia JSON object"))?;
    let media = item["media"]
        .as_str()
        .ok_or_else(|| ApiError::bad_request("can't parse InputMedia JSON object"))?;
    let file = p.file_from_str(media)?;
    let mut body = json!({ kind: world.media_for(file_kind, file, item)? });
    caption_into(
        &mut body,
        item["caption"].as_str().map(str::to_string),
        item["parse_mode"].as_str().map(str::to_string),
        item.get("caption_entities").cloned(),
    )?;
    if item["has_spoiler"].as_bool() == Some(true) {
        body["has_media_spoiler"] = json!(true);
    }
    Ok(body)
}

/// Posts album bodies as messages sharing a fresh `media_group_id`.
pub fn post_album(
    world: &mut World,
    sender: Sender,
    t: Target,
    bodies: Vec<Value>,
    protect: bool,
) -> Vec<Value> {
    let album = world.new_album_id();
    bodies
        .into_iter()
        .map(|mut body| {
            body["media_group_id"] = json!(album);
            if protect {
                body["has_protected_content"] = json!(true);
            }
            world.post(t.key, sender, t.thread, t.reply_to, body, false)
        })
        .collect()
}

/// sendMediaGroup.
pub fn send_media_group(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let t = target(world, bot, p)?;
    let items = p
        .json("media", "media")?
        .ok_or_else(|| empty("media"))?
        .as_array()
        .cloned()
        .ok_or_else(|| ApiError::bad_request("can't parse media JSON object"))?;
    let bodies = album_bodies(world, p, &items)?;
    Ok(Value::Array(post_album(
        world,
        Sender::Bot(bot),
        t,
        bodies,
        p.bool("protect_content"),
    )))
}

const ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

/// sendChatAction.
pub fn send_chat_action(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let t = target(world, bot, p)?;
    let action = p.req_str("action")?;
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::bad_request("wrong parameter action in request"));
    }
    world.chat_mut(t.key).last_action = Some(action);
    Ok(json!(true))
}
