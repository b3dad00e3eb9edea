//! Forum topics: create, edit, close, reopen, delete, and the icon sticker set.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::world::{ChatKey, Sender, Topic, World};

/// The colors Telegram allows for topic icons.
pub const ICON_COLORS: &[i64] = &[7322096, 16766590, 13338331, 9367192, 16749490, 16478047];

/// The icons offered by getForumTopicIconStickers: (emoji, custom_emoji_id).
pub const ICONS: &[(&str, &str)] = &[
    ("📰", "5434144690511290129"),
    ("💡", "5312536423851630001"),
    ("⚡️", "5312016608254762256"),
    ("🔥", "5312241539987020022"),
    ("❗️", "5379748062124056162"),
    ("❓", "5377316857231450742"),
    ("✅", "5237699328843200968"),
    ("💬", "5417915203100613993"),
    ("📝", "5373251851074415873"),
    ("🟣", "5370870893004203704"),
    ("🟡", "5370867268051806190"),
    ("⚫️", "5370871074868985264"),
    ("🔴", "5370856741086960948"),
    ("🟢", "5368808634392257474"),
];

/// getForumTopicIconStickers.
pub fn icon_stickers() -> Value {
    Value::Array(
        ICONS
            .iter()
            .enumerate()
            .map(|(i, (emoji, id))| {
                json!({
                    "file_id": format!("CAACAgIAAxUAAWTopicIcon{i:03}"), "file_unique_id": format!("AgADTopicIcon{i:03}"),
                    "type": "custom_emoji", "width": 100, "height": 100, "is_animated": false, "is_video": false,
                    "emoji": emoji, "set_name": "Topics", "custom_emoji_id": id,
                })
            })
            .collect(),
    )
}

/// The forum a topic method acts on.
fn forum(world: &World, bot: i64, p: &Params) -> ApiResult<ChatKey> {
    let key = world.resolve_chat(bot, &p.req_str("chat_id")?)?;
    if !world.chat(key).is_forum {
        return Err(ApiError::bad_request("the chat is not a forum"));
    }
    Ok(key)
}

/// Editing, closing and reopening a topic: for those who may manage topics, and for the
/// topic's creator.
fn check_may_manage(world: &World, key: ChatKey, id: i64, bot: i64) -> ApiResult<()> {
    let chat = world.chat(key);
    let manager = chat
        .members
        .get(&bot)
        .is_some_and(|m| m.can("can_manage_topics"));
    if manager || chat.topics.get(&id).is_some_and(|t| t.creator == bot) {
        Ok(())
    } else {
        Err(ApiError::bad_request("not enough rights to manage topics"))
    }
}

fn topic_id(world: &World, key: ChatKey, p: &Params) -> ApiResult<i64> {
    let id = p.req_i64("message_thread_id")?;
    if id == 1 {
        return Err(ApiError::bad_request("TOPIC_ID_INVALID"));
    }
    world
        .chat(key)
        .topic(id)
        .map(|t| t.id)
        .ok_or_else(ApiError::thread_not_found)
}

fn check_icon(id: &str) -> ApiResult<()> {
    if id.is_empty() || ICONS.iter().any(|(_, i)| *i == id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid custom emoji identifier specified",
        ))
    }
}

/// A topic name as Telegram keeps it: trimmed and cut to 128 characters.
pub fn clean_name(name: &str) -> String {
    name.trim().chars().take(128).collect()
}

/// The name of a new topic: "name must be non-empty" when nothing is left of it.
pub fn new_name(name: Option<String>) -> ApiResult<String> {
    let name = clean_name(&name.unwrap_or_default());
    if name.is_empty() {
        return Err(ApiError::bad_request("name must be non-empty"));
    }
    Ok(name)
}

/// Creates a topic as `creator` (a bot or, through the control API, a person).
pub fn create_topic(
    world: &mut World,
    key: ChatKey,
    creator: Sender,
    name: &str,
    color: i64,
    icon: Option<String>,
) -> Value {
    let chat = world.chat_mut(key);
    let id = chat.next_id;
    let topic = Topic {
        id,
        name: name.to_string(),
        icon_color: color,
        icon_custom_emoji_id: icon.clone(),
        closed: false,
        deleted: false,
        creator: creator.id(),
        broken: false,
    };
    let json = topic.json();
    chat.topics.insert(id, topic);
    let mut created = json!({"name": name, "icon_color": color});
    if let Some(icon) = icon {
        created["icon_custom_emoji_id"] = json!(icon);
    }
    world.post(
        key,
        creator,
        Some(id),
        None,
        json!({"forum_topic_created": created}),
        true,
    );
    json
}

/// createForumTopic.
pub fn create(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = forum(world, bot, p)?;
    if !world.chat(key).may_create_topics(bot) {
        return Err(ApiError::bad_request("not enough rights to create a topic"));
    }
    let name = new_name(p.str("name"))?;
    let color = p.i64("icon_color")?.unwrap_or(ICON_COLORS[0]);
    if !ICON_COLORS.contains(&color) {
        return Err(ApiError::bad_request("TOPIC_ICON_COLOR_INVALID"));
    }
    let icon = p.str("icon_custom_emoji_id").filter(|s| !s.is_empty());
    if let Some(i) = &icon {
        check_icon(i)?;
    }
    Ok(create_topic(
        world,
        key,
        Sender::Bot(bot),
        &name,
        color,
        icon,
    ))
}

/// editForumTopic.
pub fn edit(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = forum(world, bot, p)?;
    let id = topic_id(world, key, p)?;
    check_may_manage(world, key, id, bot)?;
    // An empty name keeps the current one.
    let name = p
        .str("name")
        .map(|n| clean_name(&n))
        .filter(|n| !n.is_empty());
    let icon = p.str("icon_custom_emoji_id");
    if let Some(i) = &icon {
        check_icon(i)?;
    }
    let topic = world.chat_mut(key).topics.get_mut(&id).unwrap();
    let mut edited = json!({});
    if let Some(n) = name.filter(|n| *n != topic.name) {
        topic.name = n.clone();
        edited["name"] = json!(n);
    }
    if let Some(i) = icon.filter(|i| {
        Some(i) != topic.icon_custom_emoji_id.as_ref()
            && !(i.is_empty() && topic.icon_custom_emoji_id.is_none())
    }) {
        topic.icon_custom_emoji_id = Some(i.clone()).filter(|i| !i.is_empty());
        edited["icon_custom_emoji_id"] = json!(i);
    }
    if edited.as_object().unwrap().is_empty() {
        return Err(ApiError::bad_request("TOPIC_NOT_MODIFIED"));
    }
    world.post(
        key,
        Sender::Bot(bot),
        Some(id),
        None,
        json!({"forum_topic_edited": edited}),
        true,
    );
    Ok(json!(true))
}

/// closeForumTopic (`closed`) / reopenForumTopic.
pub fn set_closed(world: &mut World, bot: i64, p: &Params, closed: bool) -> ApiResult<Value> {
    let key = forum(world, bot, p)?;
    let id = topic_id(world, key, p)?;
    check_may_manage(world, key, id, bot)?;
    let topic = world.chat_mut(key).topics.get_mut(&id).unwrap();
    if topic.closed == closed {
        return Err(ApiError::bad_request("TOPIC_NOT_MODIFIED"));
    }
    topic.closed = closed;
    let field = if closed {
        "forum_topic_closed"
    } else {
        "forum_topic_reopened"
    };
    world.post(
        key,
        Sender::Bot(bot),
        Some(id),
        None,
        json!({ field: {} }),
        true,
    );
    Ok(json!(true))
}

/// Deletes a topic with all its messages (also used by the control API for people).
pub fn delete_topic(world: &mut World, key: ChatKey, id: i64) {
    let chat = world.chat_mut(key);
    if let Some(t) = chat.topics.get_mut(&id) {
        t.deleted = true;
    }
    for m in chat.messages.values_mut().filter(|m| m.thread == Some(id)) {
        m.deleted = true;
    }
}

/// deleteForumTopic.
pub fn delete(world: &mut World, bot: i64, p: &Params) -> ApiResult<Value> {
    let key = forum(world, bot, p)?;
    let id = topic_id(world, key, p)?;
    if !world
        .chat(key)
        .members
        .get(&bot)
        .is_some_and(|m| m.can("can_delete_messages"))
    {
        return Err(ApiError::bad_request("not enough rights to delete a topic"));
    }
    delete_topic(world, key, id);
    Ok(json!(true))
}
