//! The control API: what tests and the sandbox page use to act as people (write to a
//! bot, post in a group, reply, edit, press buttons, block the bot, delete a topic) and
//! to read every chat's transcript. In process through [`Control`], over HTTP under
//! `/control` (documented in the crate README).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::limits::{Faults, Limits};
use crate::methods::send::{album_bodies, build_body, resolve_target};
use crate::methods::topics;
use crate::params::{Params, Upload};
use crate::world::{member_json, member_updated, now, Callback, ChatKey, Member, Sender};
use crate::Shared;

/// Where a person acts: their private chat with a bot, or a group (optionally a topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The person's private chat with this bot.
    Bot(i64),
    /// A group, in a topic or (None) in General.
    Group(i64, Option<i64>),
}

impl Place {
    /// Reads `bot`, or `chat_id` + `message_thread_id`, from a control request.
    pub fn from_json(v: &Value) -> ApiResult<Self> {
        if let Some(bot) = v["bot"].as_i64() {
            return Ok(Place::Bot(bot));
        }
        let chat = v["chat_id"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("give bot or chat_id"))?;
        Ok(Place::Group(chat, v["message_thread_id"].as_i64()))
    }

    fn key(self, user: i64) -> ChatKey {
        match self {
            Place::Bot(bot) => ChatKey::Private { bot, user },
            Place::Group(id, _) => ChatKey::Group(id),
        }
    }
}

/// Content kinds a person can send, by the field that names them.
const KINDS: &[&str] = &[
    "text",
    "photo",
    "video",
    "animation",
    "audio",
    "voice",
    "video_note",
    "document",
    "sticker",
    "venue",
    "location",
    "contact",
    "poll",
    "dice",
];

/// In-process control of the emulated world.
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

fn sample(kind: &str, n: usize) -> Upload {
    let (name, mime) = match kind {
        "photo" => ("photo.jpg", "image/jpeg"),
        "video" | "animation" | "video_note" => ("clip.mp4", "video/mp4"),
        "audio" => ("song.mp3", "audio/mpeg"),
        "voice" => ("voice.ogg", "audio/ogg"),
        "sticker" => ("sticker.webp", "image/webp"),
        _ => ("file.txt", "text/plain"),
    };
    Upload {
        filename: Some(name.to_string()),
        content_type: Some(mime.to_string()),
        data: Bytes::from(format!("sample {kind} #{n}").into_bytes()),
    }
}

/// The bytes of a `{file_name, mime_type, content | content_base64}` file object: the
/// sandbox page uploads picked files as base64; tests give short texts as `content`.
fn file_content(o: &serde_json::Map<String, Value>) -> ApiResult<Bytes> {
    if let Some(b64) = o.get("content_base64").and_then(Value::as_str) {
        use base64::Engine as _;
        return base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(Bytes::from)
            .map_err(|_| ApiError::bad_request("content_base64 is not valid base64"));
    }
    Ok(Bytes::from(
        o.get("content")
            .and_then(Value::as_str)
            .unwrap_or("sample")
            .to_string()
            .into_bytes(),
    ))
}

/// Turns a control content object into Params the send builders understand: a file
/// field may be `true` (a generated sample), a file id, or `{file_name, mime_type, content}`.
fn content_params(content: &Value) -> ApiResult<(String, Params)> {
    let mut params = Params::from_json(content.clone());
    let kind = KINDS
        .iter()
        .find(|k| {
            content.get(**k).is_some() || (**k == "location" && content.get("latitude").is_some())
        })
        .copied()
        .ok_or_else(|| ApiError::bad_request("no content: give text, photo, video, ..."))?;
    let kind = if kind == "location" && content.get("title").is_some() {
        "venue"
    } else {
        kind
    };
    if let Some(v) = content.get(kind) {
        match v {
            Value::Bool(true) => params.add_upload(
                kind.to_string(),
                sample(kind, rand::random::<u16>() as usize),
            ),
            Value::Object(o) if kind != "poll" => params.add_upload(
                kind.to_string(),
                Upload {
                    filename: o
                        .get("file_name")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    content_type: o
                        .get("mime_type")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    data: file_content(o)?,
                },
            ),
            _ => {}
        }
    }
    if kind == "poll" {
        let poll = &content["poll"];
        params.add_text(
            "question".into(),
            poll["question"].as_str().unwrap_or("?").to_string(),
        );
        params = {
            let mut p = Params::from_json(
                json!({"question": poll["question"], "options": poll["options"]}),
            );
            if let Some(t) = poll.get("type").and_then(Value::as_str) {
                p.add_text("type".into(), t.to_string());
            }
            p
        };
    }
    if kind == "dice" {
        if let Some(e) = content["dice"].as_str() {
            params.add_text("emoji".into(), e.to_string());
        }
    }
    if kind == "contact" {
        params = Params::from_json(content["contact"].clone());
    }
    Ok((kind.to_string(), params))
}

impl Control {
    /// A control over shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn changed(&self, what: Value) {
        let _ = self.shared.events.send(what);
    }

    /// Registers a bot (`token` = "<id>:<secret>"). Returns its id.
    pub fn add_bot(&self, token: &str, username: &str, first_name: &str) -> ApiResult<i64> {
        self.shared
            .world()
            .add_bot(token, username, first_name)
            .map_err(ApiError::bad_request)
    }

    /// Creates a person; returns the User object.
    pub fn add_user(
        &self,
        first_name: &str,
        last_name: Option<&str>,
        username: Option<&str>,
        lang: Option<&str>,
    ) -> Value {
        self.shared
            .world()
            .add_person(first_name, last_name, username, lang)
    }

    /// Creates a supergroup (forum if asked) owned by `owner`; returns its id.
    pub fn add_group(&self, title: &str, is_forum: bool, owner: Option<i64>) -> i64 {
        self.shared.world().add_group(title, is_forum, owner)
    }

    /// Sets a member's status ("member", "administrator" with `rights`, "creator",
    /// "left", "kicked"), as the group's creator would (people join and leave by
    /// themselves). Sends the membership updates: `my_chat_member` when the member is a
    /// bot, `chat_member` to the group's administrator bots that asked for it.
    pub fn set_member(&self, group: i64, user: i64, status: &str, rights: Value) -> ApiResult<()> {
        self.change_member(group, user, status, rights, None)
    }

    /// [`Control::set_member`] done by `by` (the `from` of the updates).
    pub fn change_member(
        &self,
        group: i64,
        user: i64,
        status: &str,
        rights: Value,
        by: Option<i64>,
    ) -> ApiResult<()> {
        self.shared
            .world()
            .change_member(group, user, Member::with(status, rights), by)
            .map_err(ApiError::bad_request)?;
        self.changed(json!({"type": "member", "chat": group}));
        Ok(())
    }

    /// A person (or bot) joins a group as an ordinary member.
    pub fn add_member(&self, group: i64, user: i64) -> ApiResult<()> {
        self.set_member(group, user, "member", json!({}))
    }

    /// A member leaves the group (a person by themselves, a bot removed by the creator).
    pub fn remove_member(&self, group: i64, user: i64) -> ApiResult<()> {
        self.set_member(group, user, "left", json!({}))
    }

    /// Makes a member an administrator with `rights` (`{"can_manage_topics": true, ...}`),
    /// or changes an administrator's rights (a bot's own included).
    pub fn promote(&self, group: i64, user: i64, rights: Value) -> ApiResult<()> {
        self.set_member(group, user, "administrator", rights)
    }

    /// Turns an administrator back into an ordinary member.
    pub fn demote(&self, group: i64, user: i64) -> ApiResult<()> {
        self.set_member(group, user, "member", json!({}))
    }

    /// Makes a bot an administrator with every right a helpdesk needs.
    pub fn add_admin_bot(&self, group: i64, bot: i64) -> ApiResult<()> {
        let rights = json!({"can_manage_topics": true, "can_delete_messages": true, "can_pin_messages": true,
            "can_manage_chat": true, "can_restrict_members": true, "can_invite_users": true, "can_change_info": true});
        self.promote(group, bot, rights)
    }

    /// Replaces what ordinary members may do in a group (a ChatPermissions object; e.g.
    /// `{"can_manage_topics": true}` lets members create topics). Unlisted rights are off.
    pub fn set_permissions(&self, group: i64, permissions: &Value) -> ApiResult<()> {
        let mut world = self.shared.world();
        let chat = world
            .chats
            .get_mut(&ChatKey::Group(group))
            .ok_or_else(ApiError::chat_not_found)?;
        let mut p = crate::world::default_permissions();
        for (k, v) in p.as_object_mut().unwrap() {
            *v = json!(permissions[k.as_str()].as_bool().unwrap_or(false));
        }
        chat.permissions = p;
        Ok(())
    }

    /// A person sends content (see the README for its shape) to a bot or a group.
    /// `content.reply_to` replies; `content.media` (a list of InputMedia) sends an album.
    /// Returns the messages created.
    pub fn send(&self, from: i64, place: Place, content: &Value) -> ApiResult<Vec<Value>> {
        let mut world = self.shared.world();
        if !world.people.contains_key(&from) {
            return Err(ApiError::bad_request("user not found"));
        }
        let key = place.key(from);
        match place {
            Place::Bot(bot) => {
                if !world.bots.contains_key(&bot) {
                    return Err(ApiError::bad_request("bot not found"));
                }
                world.private_chat(bot, from);
                if world.chat(key).blocked {
                    drop(world);
                    self.block(from, bot, false)?;
                    world = self.shared.world();
                }
            }
            Place::Group(id, _) => {
                let chat = world.chats.get(&key).ok_or_else(ApiError::chat_not_found)?;
                if !chat
                    .members
                    .get(&from)
                    .is_some_and(|m| !matches!(m.status.as_str(), "left" | "kicked"))
                {
                    return Err(ApiError::forbidden(format!(
                        "user {from} is not a member of {id}"
                    )));
                }
            }
        }
        let thread = match place {
            Place::Group(_, t) => t,
            Place::Bot(_) => None,
        };
        let reply = content
            .get("reply_to")
            .and_then(Value::as_i64)
            .map(|id| json!({"message_id": id}));
        let t = resolve_target(&world, key, thread, reply.as_ref(), from)?;
        let sent = if let Some(items) = content.get("media").and_then(Value::as_array) {
            let mut params = Params::default();
            let mut items = items.clone();
            for (i, item) in items.iter_mut().enumerate() {
                let kind = item["type"].as_str().unwrap_or("photo").to_string();
                if item.get("media").is_none_or(|m| m == &json!(true)) {
                    params.add_upload(format!("s{i}"), sample(&kind, i));
                    item["media"] = json!(format!("attach://s{i}"));
                }
            }
            let bodies = album_bodies(&mut world, &params, &items)?;
            crate::methods::send::post_album(&mut world, Sender::User(from), t, bodies, false)
        } else {
            let (kind, params) = content_params(content)?;
            let body = build_body(&mut world, &kind, &params)?;
            vec![world.post(t.key, Sender::User(from), t.thread, t.reply_to, body, false)]
        };
        drop(world);
        self.changed(json!({"type": "message", "chat": key.chat_id()}));
        Ok(sent)
    }

    /// A person edits their message's text or caption; bots get `edited_message`.
    pub fn edit(
        &self,
        from: i64,
        place: Place,
        message_id: i64,
        content: &Value,
    ) -> ApiResult<Value> {
        let mut world = self.shared.world();
        let key = place.key(from);
        let chat = world.chats.get(&key).ok_or_else(ApiError::chat_not_found)?;
        let msg = chat
            .message(message_id)
            .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
        if msg.sender != Sender::User(from) {
            return Err(ApiError::bad_request("message can't be edited"));
        }
        let mut json = msg.json.clone();
        if let Some(text) = content.get("text").and_then(Value::as_str) {
            if json.get("text").is_none() {
                return Err(ApiError::bad_request(
                    "there is no text in the message to edit",
                ));
            }
            let (text, entities) = crate::methods::send::rich_text(
                Some(text.into()),
                None,
                content.get("entities").cloned(),
                crate::methods::send::TextKind::Edit,
            )?;
            json["text"] = json!(text);
            json.as_object_mut().unwrap().remove("entities");
            if !entities.is_empty() {
                json["entities"] = json!(entities);
            }
        } else if let Some(caption) = content.get("caption").and_then(Value::as_str) {
            json.as_object_mut().unwrap().remove("caption_entities");
            json["caption"] = json!(caption);
        } else {
            return Err(ApiError::bad_request("give text or caption"));
        }
        json["edit_date"] = json!(now());
        let chat = world.chat_mut(key);
        let stored = chat.messages.get_mut(&message_id).unwrap();
        stored.json = json;
        let stored = stored.clone();
        let rendered = chat.render(&stored);
        world.fan_out(key, Sender::User(from), "edited_message", &rendered);
        drop(world);
        self.changed(json!({"type": "edit", "chat": key.chat_id()}));
        Ok(rendered)
    }

    /// A person presses an inline button; the bot gets a `callback_query`. Returns its id.
    pub fn press(&self, from: i64, place: Place, message_id: i64, data: &str) -> ApiResult<String> {
        let mut world = self.shared.world();
        let key = place.key(from);
        let chat = world.chats.get(&key).ok_or_else(ApiError::chat_not_found)?;
        let msg = chat
            .message(message_id)
            .ok_or_else(|| ApiError::bad_request("message not found"))?;
        let has_button = msg.json["reply_markup"]["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row.as_array().into_iter().flatten())
            .any(|b| b["callback_data"].as_str() == Some(data));
        if !has_button {
            return Err(ApiError::bad_request("no such button on the message"));
        }
        let Sender::Bot(bot) = msg.sender else {
            return Err(ApiError::bad_request("the message was not sent by a bot"));
        };
        let rendered = chat.render(msg);
        let id = world.new_callback_id();
        let user = world.user_json(from);
        world.callbacks.insert(
            id.clone(),
            Callback {
                bot,
                user: from,
                chat: key,
                message_id,
                data: data.to_string(),
                answer: None,
            },
        );
        let update = json!({"id": id, "from": user, "message": rendered, "chat_instance": format!("{}", key.chat_id().unsigned_abs() * 7 + 13), "data": data});
        world.push_update(bot, "callback_query", update);
        Ok(id)
    }

    /// The bot's answer to a callback query, once given.
    pub fn callback_answer(&self, id: &str) -> Option<Value> {
        self.shared
            .world()
            .callbacks
            .get(id)
            .and_then(|c| c.answer.clone())
    }

    /// A person blocks (or unblocks) a bot; the bot gets `my_chat_member`.
    pub fn block(&self, user: i64, bot: i64, blocked: bool) -> ApiResult<()> {
        let mut world = self.shared.world();
        let chat = world
            .private_chat(bot, user)
            .ok_or_else(|| ApiError::bad_request("user not found"))?;
        if chat.blocked == blocked {
            return Ok(());
        }
        chat.blocked = blocked;
        let chat_json = chat.json.clone();
        let (old, new) = if blocked {
            ("member", "kicked")
        } else {
            ("kicked", "member")
        };
        let member = |status: &str| member_json(&world, bot, &Member::with(status, json!({})));
        let update = member_updated(&world, &chat_json, user, member(old), member(new));
        world.push_update(bot, "my_chat_member", update);
        drop(world);
        self.changed(json!({"type": "block", "chat": user}));
        Ok(())
    }

    /// A group member creates a topic (administrators with `can_manage_topics`, or
    /// anyone when the group's permissions allow it).
    pub fn create_topic(&self, user: i64, group: i64, name: &str) -> ApiResult<Value> {
        let mut world = self.shared.world();
        let key = ChatKey::Group(group);
        let Some(chat) = world.chats.get(&key).filter(|c| c.is_forum) else {
            return Err(ApiError::bad_request("the chat is not a forum"));
        };
        if !chat.may_create_topics(user) {
            return Err(ApiError::bad_request("not enough rights to create a topic"));
        }
        let name = topics::new_name(Some(name.to_string()))?;
        let topic = topics::create_topic(
            &mut world,
            key,
            Sender::User(user),
            &name,
            topics::ICON_COLORS[0],
            None,
        );
        drop(world);
        self.changed(json!({"type": "topic", "chat": group}));
        Ok(topic)
    }

    /// A fault: the topic stays visible and usable by people, but bots' sends into it
    /// (and replies to its messages) answer "message thread not found", as Telegram does
    /// when a topic's creation message became unreachable for the bot. `false` repairs it.
    pub fn break_topic(&self, group: i64, thread: i64, broken: bool) -> ApiResult<()> {
        let mut world = self.shared.world();
        let topic = world
            .chats
            .get_mut(&ChatKey::Group(group))
            .and_then(|c| c.topics.get_mut(&thread))
            .filter(|t| !t.deleted)
            .ok_or_else(ApiError::thread_not_found)?;
        topic.broken = broken;
        Ok(())
    }

    /// A group admin deletes a topic with all its messages.
    pub fn delete_topic(&self, group: i64, thread: i64) -> ApiResult<()> {
        let mut world = self.shared.world();
        let key = ChatKey::Group(group);
        if world
            .chats
            .get(&key)
            .and_then(|c| c.topic(thread))
            .is_none()
        {
            return Err(ApiError::thread_not_found());
        }
        topics::delete_topic(&mut world, key, thread);
        drop(world);
        self.changed(json!({"type": "topic", "chat": group}));
        Ok(())
    }

    /// A person deletes one of the messages of a chat.
    pub fn delete_message(&self, user: i64, place: Place, message_id: i64) -> ApiResult<()> {
        let mut world = self.shared.world();
        let key = place.key(user);
        let chat = world
            .chats
            .get_mut(&key)
            .ok_or_else(ApiError::chat_not_found)?;
        let msg = chat
            .messages
            .get_mut(&message_id)
            .filter(|m| !m.deleted)
            .ok_or_else(|| ApiError::bad_request("message to delete not found"))?;
        msg.deleted = true;
        Ok(())
    }

    /// The live messages of a chat as its members see them (oldest first). For a
    /// group, `Place::Group(id, Some(t))` keeps one topic and `None` everything.
    /// Each message carries an extra `reactions` list when bots reacted to it.
    pub fn transcript(&self, user: i64, place: Place) -> Vec<Value> {
        let world = self.shared.world();
        let key = place.key(user);
        let Some(chat) = world.chats.get(&key) else {
            return Vec::new();
        };
        let thread = match place {
            Place::Group(_, t) => t,
            Place::Bot(_) => None,
        };
        chat.messages
            .values()
            .filter(|m| !m.deleted && (thread.is_none() || m.thread == thread))
            .map(|m| with_reactions(chat, m))
            .collect()
    }

    /// The transcript of a person's private chat with a bot.
    pub fn private_transcript(&self, bot: i64, user: i64) -> Vec<Value> {
        self.transcript(user, Place::Bot(bot))
    }

    /// The messages of one topic (or of General when `thread` is None) of a group.
    pub fn topic_transcript(&self, group: i64, thread: Option<i64>) -> Vec<Value> {
        let world = self.shared.world();
        let Some(chat) = world.chats.get(&ChatKey::Group(group)) else {
            return Vec::new();
        };
        chat.messages
            .values()
            .filter(|m| !m.deleted && m.thread == thread)
            .map(|m| with_reactions(chat, m))
            .collect()
    }

    /// A group's topics (ForumTopic objects plus `is_closed` and `is_deleted`).
    pub fn topics(&self, group: i64) -> Vec<Value> {
        let world = self.shared.world();
        let Some(chat) = world.chats.get(&ChatKey::Group(group)) else {
            return Vec::new();
        };
        chat.topics
            .values()
            .map(|t| {
                let mut v = t.json();
                v["is_closed"] = json!(t.closed);
                v["is_deleted"] = json!(t.deleted);
                v["is_broken"] = json!(t.broken);
                v
            })
            .collect()
    }

    /// Whether a person has blocked a bot.
    pub fn is_blocked(&self, user: i64, bot: i64) -> bool {
        self.shared
            .world()
            .chats
            .get(&ChatKey::Private { bot, user })
            .is_some_and(|c| c.blocked)
    }

    /// Whether a getUpdates long poll of the bot is waiting right now.
    pub fn is_polling(&self, bot: i64) -> bool {
        self.shared
            .world()
            .queues
            .get(&bot)
            .is_some_and(|q| q.waiting > 0)
    }

    /// Every Bot API call so far.
    pub fn calls(&self) -> Vec<crate::world::CallRecord> {
        self.shared.world().calls.clone()
    }

    /// How many successful calls of `method` a bot made.
    pub fn count_calls(&self, bot: i64, method: &str) -> usize {
        self.shared
            .world()
            .calls
            .iter()
            .filter(|c| c.bot == bot && c.method == method && c.error_code == 0)
            .count()
    }

    /// Conformance violations so far.
    pub fn violations(&self) -> Vec<String> {
        self.shared.world().violations.clone()
    }

    /// Commands a bot registered for a scope (JSON of BotCommandScope) and language.
    pub fn commands(&self, bot: i64, scope: &str, lang: &str) -> Option<Value> {
        self.shared
            .world()
            .bots
            .get(&bot)?
            .commands
            .get(&(scope.to_string(), lang.to_string()))
            .cloned()
    }

    /// Lets `setWebhook` accept plain `http://` URLs on loopback hosts, on any port
    /// (Telegram never does; off by default).
    pub fn allow_http_webhooks(&self, allow: bool) {
        self.shared.world().webhook_rules.allow_local_http = allow;
    }

    /// Plays a TLS-terminating proxy: pushes to `https://{host_port}/...` (`host:port`,
    /// port 443 when the URL has none) go over plain HTTP to `to`, same path and query.
    /// So a test's webhook URL can meet Telegram's rule (HTTPS on 80, 88, 443 or 8443).
    pub fn route_webhook(&self, host_port: &str, to: SocketAddr) {
        self.shared
            .world()
            .webhook_rules
            .routes
            .insert(host_port.to_ascii_lowercase(), to);
    }

    /// Subscribes to change notifications (used by the sandbox page's live updates).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Value> {
        self.shared.events.subscribe()
    }
}

/// A rendered message plus the reactions bots set on it (`reactions`, not a Bot API field).
fn with_reactions(chat: &crate::world::Chat, m: &crate::world::Msg) -> Value {
    let mut v = chat.render(m);
    if !m.reactions.is_empty() {
        v["reactions"] = json!(m
            .reactions
            .values()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .collect::<Vec<_>>());
    }
    v
}

// ---- HTTP ----

type Shr = State<Arc<Shared>>;

fn ctl(s: &Arc<Shared>) -> Control {
    Control::new(s.clone())
}

fn reply<T: serde::Serialize>(r: ApiResult<T>) -> (axum::http::StatusCode, Json<Value>) {
    match r {
        Ok(v) => (
            axum::http::StatusCode::OK,
            Json(json!({"ok": true, "result": v})),
        ),
        Err(e) => (
            axum::http::StatusCode::from_u16(e.code).unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            Json(e.to_json()),
        ),
    }
}

/// The `/control` routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/bots",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(ctl(&s).add_bot(
                    b["token"].as_str().unwrap_or(""),
                    b["username"].as_str().unwrap_or("bot"),
                    b["first_name"].as_str().unwrap_or("Bot"),
                ))
            }),
        )
        .route(
            "/users",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(Ok(ctl(&s).add_user(
                    b["first_name"].as_str().unwrap_or("User"),
                    b["last_name"].as_str(),
                    b["username"].as_str(),
                    b["language_code"].as_str(),
                )))
            }),
        )
        .route(
            "/groups",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(Ok(ctl(&s).add_group(
                    b["title"].as_str().unwrap_or("Group"),
                    b["is_forum"].as_bool().unwrap_or(true),
                    b["owner"].as_i64(),
                )))
            }),
        )
        .route(
            "/groups/{id}/members",
            post(
                |State(s): Shr, Path(id): Path<i64>, Json(b): Json<Value>| async move {
                    reply(
                        ctl(&s)
                            .change_member(
                                id,
                                b["user_id"].as_i64().unwrap_or(0),
                                b["status"].as_str().unwrap_or("member"),
                                b["rights"].clone(),
                                b["by"].as_i64(),
                            )
                            .map(|_| true),
                    )
                },
            ),
        )
        .route(
            "/groups/{id}/permissions",
            put(
                |State(s): Shr, Path(id): Path<i64>, Json(b): Json<Value>| async move {
                    reply(ctl(&s).set_permissions(id, &b).map(|_| true))
                },
            ),
        )
        .route(
            "/send",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(
                    Place::from_json(&b)
                        .and_then(|p| ctl(&s).send(b["from"].as_i64().unwrap_or(0), p, &b)),
                )
            }),
        )
        .route(
            "/edit",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(Place::from_json(&b).and_then(|p| {
                    ctl(&s).edit(
                        b["from"].as_i64().unwrap_or(0),
                        p,
                        b["message_id"].as_i64().unwrap_or(0),
                        &b,
                    )
                }))
            }),
        )
        .route(
            "/press",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(Place::from_json(&b).and_then(|p| {
                    ctl(&s).press(
                        b["from"].as_i64().unwrap_or(0),
                        p,
                        b["message_id"].as_i64().unwrap_or(0),
                        b["data"].as_str().unwrap_or(""),
                    )
                }))
            }),
        )
        .route(
            "/block",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(
                    ctl(&s)
                        .block(
                            b["user"].as_i64().unwrap_or(0),
                            b["bot"].as_i64().unwrap_or(0),
                            b["blocked"].as_bool().unwrap_or(true),
                        )
                        .map(|_| true),
                )
            }),
        )
        .route(
            "/topics",
            get(|State(s): Shr, Query(q): Query<ChatQuery>| async move {
                reply(Ok(ctl(&s).topics(q.chat_id.unwrap_or(0))))
            })
            .post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(ctl(&s).create_topic(
                    b["from"].as_i64().unwrap_or(0),
                    b["chat_id"].as_i64().unwrap_or(0),
                    b["name"].as_str().unwrap_or("Topic"),
                ))
            }),
        )
        .route(
            "/topics/delete",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(
                    ctl(&s)
                        .delete_topic(
                            b["chat_id"].as_i64().unwrap_or(0),
                            b["message_thread_id"].as_i64().unwrap_or(0),
                        )
                        .map(|_| true),
                )
            }),
        )
        .route(
            "/topics/break",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                reply(
                    ctl(&s)
                        .break_topic(
                            b["chat_id"].as_i64().unwrap_or(0),
                            b["message_thread_id"].as_i64().unwrap_or(0),
                            b["broken"].as_bool().unwrap_or(true),
                        )
                        .map(|_| true),
                )
            }),
        )
        .route(
            "/transcript",
            get(|State(s): Shr, Query(q): Query<ChatQuery>| async move {
                let c = ctl(&s);
                reply(Ok(match (q.bot, q.user, q.chat_id) {
                    (Some(bot), Some(user), _) => c.private_transcript(bot, user),
                    (_, _, Some(chat)) if q.all.unwrap_or(false) => {
                        c.transcript(0, Place::Group(chat, None))
                    }
                    (_, _, Some(chat)) => c.topic_transcript(chat, q.message_thread_id),
                    _ => Vec::new(),
                }))
            }),
        )
        .route(
            "/callbacks/{id}",
            get(|State(s): Shr, Path(id): Path<String>| async move {
                reply(Ok(ctl(&s).callback_answer(&id)))
            }),
        )
        .route(
            "/calls",
            get(|State(s): Shr| async move { reply(Ok(ctl(&s).calls())) }),
        )
        .route(
            "/violations",
            get(|State(s): Shr| async move { reply(Ok(ctl(&s).violations())) }),
        )
        .route(
            "/faults",
            put(|State(s): Shr, Json(f): Json<Faults>| async move {
                *s.faults.lock().unwrap() = f;
                reply(Ok(true))
            }),
        )
        .route(
            "/limits",
            put(|State(s): Shr, Json(l): Json<Limits>| async move {
                reply(l.validate().map_err(ApiError::bad_request).map(|_| {
                    s.config.lock().unwrap().limits = l;
                    true
                }))
            }),
        )
        .route(
            "/webhooks/http",
            put(|State(s): Shr, Json(b): Json<Value>| async move {
                ctl(&s).allow_http_webhooks(b["allow"].as_bool().unwrap_or(true));
                reply(Ok(true))
            }),
        )
        .route(
            "/webhooks/routes",
            post(|State(s): Shr, Json(b): Json<Value>| async move {
                let to = b["to"].as_str().and_then(|t| t.parse::<SocketAddr>().ok());
                reply(match (b["from"].as_str(), to) {
                    (Some(from), Some(to)) => {
                        ctl(&s).route_webhook(from, to);
                        Ok(true)
                    }
                    _ => Err(ApiError::bad_request(
                        "give from (host:port) and to (a local ip:port)",
                    )),
                })
            }),
        )
        .route("/events", get(events))
}

/// Query of the reading routes.
#[derive(Debug, Deserialize)]
pub struct ChatQuery {
    bot: Option<i64>,
    user: Option<i64>,
    chat_id: Option<i64>,
    message_thread_id: Option<i64>,
    all: Option<bool>,
}

async fn events(State(s): Shr) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let rx = s.events.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(v) => return Some((Ok(Event::default().data(v.to_string())), rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
