//! Chats and members: getChat, getChatMember(s), bans, pins, reactions, callback answers.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::params::{empty, Params};
use crate::world::{member_json, ChatKey, Member, World};

/// The emoji Telegram accepts as reactions (ReactionTypeEmoji in the spec).
pub const REACTIONS: &[&str] = &[
    "❤",
    "👍",
    "👎",
    "🔥",
    "🥰",
    "👏",
    "😁",
    "🤔",
    "🤯",
    "😱",
    "🤬",
    "😢",
    "🎉",
    "🤩",
    "🤮",
    "💩",
    "🙏",
    "👌",
    "🕊",
    "🤡",
    "🥱",
    "🥴",
    "😍",
    "🐳",
    "❤‍🔥",
    "🌚",
    "🌭",
    "💯",
    "🤣",
    "⚡",
    "🍌",
    "🏆",
    "💔",
    "🤨",
    "😐",
    "🍓",
    "🍾",
    "💋",
    "🖕",
    "😈",
    "😴",
    "😭",
    "🤓",
    "👻",
    "👨‍💻",
    "👀",
    "🎃",
    "🙈",
    "😇",
    "😨",
    "🤝",
    "✍",
    "🤗",
    "🫡",
    "🎅",
    "🎄",
    "☃",
    "💅",
    "🤪",
    "🗿",
    "🆒",
    "💘",
    "🙉",
    "🦄",
    "😘",
    "💊",
    "🙊",
    "😎",
    "👾",
    "🤷‍♂",
    "🤷",
    "🤷‍♀",
    "😡",
];

/// answerCallbackQuery.
pub fn answer_callback_query(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let id = p.req_str("callback_query_id")?;
    let invalid = || {
        ApiError::bad_request(
            "query is too old and response timeout expired or query ID is invalid",
        )
    };
    let cb = world
        .callbacks
        .get_mut(&id)
        .filter(|c| c.bot == bot)
        .ok_or_else(invalid)?;
    if cb.answer.is_some() {
        return Err(invalid());
    }
    let text = p.str("text").unwrap_or_default();
    if text.chars().count() > 200 {
        return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
    }
    cb.answer =
        Some(json!({"text": text, "show_alert": p.bool("show_alert"), "url": p.str("url")}));
    Ok(json!(true))
}

/// setMessageReaction.
pub fn set_message_reaction(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = world.resolve_chat(bot, &p.req_str("chat_id")?)?;
    let id = p.req_i64("message_id")?;
    if world.chat(key).message(id).is_none() {
        return Err(ApiError::bad_request("message to react not found"));
    }
    let reaction = p.json("reaction", "reaction types")?.unwrap_or(json!([]));
    let list = reaction
        .as_array()
        .ok_or_else(|| ApiError::bad_request("can't parse reaction types JSON object"))?;
    for r in list {
        match r["type"].as_str() {
            Some("emoji") if r["emoji"].as_str().is_some_and(|e| REACTIONS.contains(&e)) => {}
            Some("emoji") | Some("custom_emoji") | Some("paid") => {
                return Err(ApiError::bad_request("REACTION_INVALID"))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "can't parse reaction types JSON object",
                ))
            }
        }
    }
    if list.len() > 1 {
        return Err(ApiError::bad_request("REACTIONS_TOO_MANY"));
    }
    let msg = world.chat_mut(key).messages.get_mut(&id).unwrap();
    if list.is_empty() {
        msg.reactions.remove(&bot);
    } else {
        msg.reactions.insert(bot, reaction.clone());
    }
    Ok(json!(true))
}

/// pinChatMessage / unpinChatMessage.
pub fn pin(world: &mut World, bot: i64, p: &Params, on: bool) -> ApiResult<Value> {
    let key = world.resolve_chat(bot, &p.req_str("chat_id")?)?;
    let chat = world.chat(key);
    if let ChatKey::Group(_) = key {
        if !chat
            .members
            .get(&bot)
            .is_some_and(|m| m.can("can_pin_messages"))
        {
            return Err(ApiError::bad_request(
                "not enough rights to manage pinned messages in the chat",
            ));
        }
    }
    let id = p.i64("message_id")?;
    let chat = world.chat_mut(key);
    match (on, id) {
        (true, None) => Err(empty("message_id")),
        (true, Some(id)) => {
            if chat.message(id).is_none() {
                return Err(ApiError::bad_request("message to pin not found"));
            }
            chat.pinned.retain(|m| *m != id);
            chat.pinned.push(id);
            Ok(json!(true))
        }
        (false, Some(id)) => {
            chat.pinned.retain(|m| *m != id);
            Ok(json!(true))
        }
        (false, None) => {
            chat.pinned.pop();
            Ok(json!(true))
        }
    }
}

/// getChat: a ChatFullInfo.
pub fn get_chat(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = world.resolve_chat(bot, &p.req_str("chat_id")?)?;
    let chat = world.chat(key);
    let mut info = chat.json.clone();
    info["accent_color_id"] = json!(0);
    info["max_reaction_count"] = json!(11);
    info["accepted_gift_types"] = json!({"unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false,
        "premium_subscription": false, "gifts_from_channels": false});
    if let Some(id) = chat.pinned.last().and_then(|id| chat.message(*id)) {
        info["pinned_message"] = chat.render(id);
    }
    if let ChatKey::Group(_) = key {
        info["permissions"] = chat.permissions.clone();
    }
    Ok(info)
}

/// getChatMember.
pub fn get_chat_member(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = world.resolve_chat(bot, &p.req_str("chat_id")?)?;
    let user = p.req_i64("user_id")?;
    if world.user_json(user).is_none() {
        return Err(ApiError::bad_request("user not found"));
    }
    match key {
        ChatKey::Private { user: u, bot: b } => {
            if user != u && user != b {
                return Err(ApiError::bad_request("user not found"));
            }
            Ok(json!({"status": "member", "user": world.user_json(user)}))
        }
        ChatKey::Group(_) => {
            let m = world
                .chat(key)
                .members
                .get(&user)
                .cloned()
                .unwrap_or_else(Member::left);
            Ok(member_json(world, user, &m))
        }
    }
}

/// getChatAdministrators.
pub fn get_chat_administrators(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = world.resolve_chat(bot, &p.req_str("chat_id")?)?;
    if let ChatKey::Private { .. } = key {
        return Err(ApiError::bad_request(
            "there are no administrators in the private chat",
        ));
    }
    let chat = world.chat(key);
    let mut admins: Vec<(i64, Member)> = chat
        .members
        .iter()
        .filter(|(_, m)| m.is_admin())
        .map(|(id, m)| (*id, m.clone()))
        .collect();
    admins.sort_by_key(|(id, m)| (m.status != "creator", *id));
    Ok(Value::Array(
        admins
            .iter()
            .map(|(id, m)| member_json(world, *id, m))
            .collect(),
    ))
}

/// banChatMember (`ban`) / unbanChatMember.
pub fn ban(world: &mut World, bot: i64, p: &Params, ban: bool) -> ApiResult<Value> {
    let key = world.resolve_chat(bot, &p.req_str("chat_id")?)?;
    let user = p.req_i64("user_id")?;
    let ChatKey::Group(group) = key else {
        return Err(ApiError::bad_request(
            "method is available for supergroup and channel chats only",
        ));
    };
    if world.user_json(user).is_none() {
        return Err(ApiError::bad_request("user not found"));
    }
    let chat = world.chat(key);
    if !chat
        .members
        .get(&bot)
        .is_some_and(|m| m.can("can_restrict_members"))
    {
        return Err(ApiError::bad_request(
            "not enough rights to restrict/unrestrict chat member",
        ));
    }
    if chat
        .members
        .get(&user)
        .is_some_and(|m| m.status == "creator")
    {
        return Err(ApiError::bad_request("can't remove chat owner"));
    }
    let current = chat.members.get(&user).cloned();
    let change = if ban {
        Some(Member {
            until_date: p.i64("until_date")?.unwrap_or(0),
            ..Member::with("kicked", json!({}))
        })
    } else {
        // Unbanning a banned user lets them join again; without only_if_banned Telegram
        // also removes a current member.
        match current {
            Some(m) if m.status == "kicked" => Some(Member::left()),
            Some(_) if !p.bool("only_if_banned") => Some(Member::left()),
            _ => None,
        }
    };
    if let Some(m) = change {
        world
            .change_member(group, user, m, Some(bot))
            .map_err(ApiError::bad_request)?;
    }
    Ok(json!(true))
}
