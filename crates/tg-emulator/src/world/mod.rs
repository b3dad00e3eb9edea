//! The emulated Telegram: bots, people, chats, messages, topics, files and the
//! per-bot update queues. Everything is plain data behind one lock; methods and the
//! control API are functions over it.

mod files;
pub mod format;
mod members;
mod updates;

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
pub use files::{FileKind, FileRec};
pub use members::{member_json, member_updated, STATUSES};
pub use updates::{UpdateQueue, Webhook, WebhookRules, DEFAULT_UPDATES};

/// Seconds since the Unix epoch, Telegram's `date`.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A registered bot.
#[derive(Debug, Clone)]
pub struct Bot {
    /// The bot's user id (the number before the colon of its token).
    pub id: i64,
    /// The full token.
    pub token: String,
    /// `@username` without the `@`.
    pub username: String,
    /// Display name.
    pub first_name: String,
    /// Commands per (scope JSON, language code).
    pub commands: HashMap<(String, String), Value>,
}

/// A person using Telegram.
#[derive(Debug, Clone)]
pub struct Person {
    /// The User object as others see it.
    pub json: Value,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// A person.
    User(i64),
    /// A bot.
    Bot(i64),
}

impl Sender {
    /// The sender's user id.
    pub fn id(self) -> i64 {
        match self {
            Sender::User(id) | Sender::Bot(id) => id,
        }
    }
}

/// Identifies a chat in the world. Private chats exist per (bot, user) pair, and the
/// bot knows the chat by the user's id, as in Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChatKey {
    /// The private chat of a bot and a person.
    Private { bot: i64, user: i64 },
    /// A supergroup, by its (negative) id.
    Group(i64),
}

impl ChatKey {
    /// The `chat.id` a bot sees.
    pub fn chat_id(self) -> i64 {
        match self {
            ChatKey::Private { user, .. } => user,
            ChatKey::Group(id) => id,
        }
    }
}

/// A forum topic.
#[derive(Debug, Clone)]
pub struct Topic {
    /// `message_thread_id`, the id of the creation service message.
    pub id: i64,
    /// Topic name.
    pub name: String,
    /// RGB color.
    pub icon_color: i64,
    /// Custom emoji id of the icon.
    pub icon_custom_emoji_id: Option<String>,
    /// Closed topics accept messages only from those who may manage topics.
    pub closed: bool,
    /// Deleted topics lose their messages and answer "message thread not found".
    pub deleted: bool,
    /// Who created it (a person or a bot): creators may edit, close and reopen it.
    pub creator: i64,
    /// A fault: the topic still exists for people, but bots' sends into it answer
    /// "message thread not found" (Telegram's topic creation message became unreachable
    /// for the bot, as happens in busy groups).
    pub broken: bool,
}

impl Topic {
    /// The ForumTopic object.
    pub fn json(&self) -> Value {
        let mut t =
            json!({"message_thread_id": self.id, "name": self.name, "icon_color": self.icon_color});
        if let Some(e) = &self.icon_custom_emoji_id {
            t["icon_custom_emoji_id"] = json!(e);
        }
        t
    }
}

/// A member of a group and its rights.
#[derive(Debug, Clone)]
pub struct Member {
    /// "creator", "administrator", "member", "restricted", "left", "kicked".
    pub status: String,
    /// Administrator rights (`can_manage_topics`...), as a JSON object.
    pub rights: Value,
    /// Ban end (0 = forever) when kicked.
    pub until_date: i64,
}

impl Member {
    /// Whether this member has an administrator right (creators have all).
    pub fn can(&self, right: &str) -> bool {
        self.status == "creator"
            || (self.status == "administrator" && self.rights[right].as_bool() == Some(true))
    }

    /// Whether this member is an administrator or the creator.
    pub fn is_admin(&self) -> bool {
        matches!(self.status.as_str(), "creator" | "administrator")
    }
}

/// The default ChatPermissions of a new group: members may send anything, but not change
/// the group's info, pin, invite or create topics (a group may allow that).
pub fn default_permissions() -> Value {
    let mut p = json!({});
    for r in [
        "can_send_messages",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
        "can_react_to_messages",
    ] {
        p[r] = json!(true);
    }
    for r in [
        "can_change_info",
        "can_invite_users",
        "can_pin_messages",
        "can_manage_topics",
    ] {
        p[r] = json!(false);
    }
    p
}

/// A message as stored.
#[derive(Debug, Clone)]
pub struct Msg {
    /// The Message object without `reply_to_message` (rendered on demand).
    pub json: Value,
    /// Who sent it.
    pub sender: Sender,
    /// Topic id in a forum (None = General, or a private chat).
    pub thread: Option<i64>,
    /// The explicitly replied message id.
    pub reply_to: Option<i64>,
    /// Service messages cannot be copied or edited.
    pub service: bool,
    /// Deleted messages stay for transcripts but are invisible to bots.
    pub deleted: bool,
    /// Emoji reactions set by bots, by bot id.
    pub reactions: BTreeMap<i64, Value>,
}

/// A chat with its messages.
#[derive(Debug, Clone)]
pub struct Chat {
    /// Where it lives.
    pub key: ChatKey,
    /// The Chat object (as embedded in messages).
    pub json: Value,
    /// Forum supergroup.
    pub is_forum: bool,
    /// Messages by id.
    pub messages: BTreeMap<i64, Msg>,
    /// Next message id.
    pub next_id: i64,
    /// Forum topics by id.
    pub topics: BTreeMap<i64, Topic>,
    /// Group members by user id.
    pub members: HashMap<i64, Member>,
    /// What ordinary members may do in a group (ChatPermissions).
    pub permissions: Value,
    /// A private chat whose user blocked the bot.
    pub blocked: bool,
    /// Pinned message ids, most recent last.
    pub pinned: Vec<i64>,
    /// The last chat action a bot sent (for transcripts).
    pub last_action: Option<String>,
}

impl Chat {
    fn new(key: ChatKey, json: Value, is_forum: bool) -> Self {
        Self {
            key,
            json,
            is_forum,
            messages: BTreeMap::new(),
            next_id: 1,
            topics: BTreeMap::new(),
            members: HashMap::new(),
            permissions: default_permissions(),
            blocked: false,
            pinned: Vec::new(),
            last_action: None,
        }
    }

    /// A live (not deleted) message.
    pub fn message(&self, id: i64) -> Option<&Msg> {
        self.messages.get(&id).filter(|m| !m.deleted)
    }

    /// Renders a message with its `reply_to_message` (one level deep, as Telegram does).
    pub fn render(&self, msg: &Msg) -> Value {
        let mut out = msg.json.clone();
        let replied = msg.reply_to.or_else(|| {
            // In a forum topic a message without an explicit reply replies to the topic's
            // creation message, exactly like Telegram.
            msg.thread
                .filter(|t| *t != msg.json["message_id"].as_i64().unwrap_or(0))
        });
        if let Some(r) = replied.and_then(|id| self.message(id)) {
            out["reply_to_message"] = r.json.clone();
        }
        out
    }

    /// A topic that exists and is not deleted.
    pub fn topic(&self, id: i64) -> Option<&Topic> {
        self.topics.get(&id).filter(|t| !t.deleted)
    }

    /// Whether `who` may create topics: an administrator with `can_manage_topics`, or
    /// anyone in the group when its permissions let members manage topics.
    pub fn may_create_topics(&self, who: i64) -> bool {
        self.members.get(&who).is_some_and(|m| {
            m.can("can_manage_topics")
                || (m.is_in() && self.permissions["can_manage_topics"] == json!(true))
        })
    }
}

/// A pressed inline button waiting for `answerCallbackQuery`.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The bot that must answer.
    pub bot: i64,
    /// The person who pressed.
    pub user: i64,
    /// The chat and message of the button.
    pub chat: ChatKey,
    /// Message id.
    pub message_id: i64,
    /// The button's callback data.
    pub data: String,
    /// The bot's answer, once given.
    pub answer: Option<Value>,
}

/// One call seen by the Bot API, for tests that count calls.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallRecord {
    /// Bot id.
    pub bot: i64,
    /// Canonical method name.
    pub method: String,
    /// 0 for success, else the error code.
    pub error_code: u16,
    /// The numeric `chat_id` parameter, when the call had one.
    pub chat_id: Option<i64>,
    /// When the call was answered (Unix milliseconds): tests assert on when a chat was
    /// written to, e.g. that nothing reached it during a 429's pause.
    pub at_ms: i64,
}

/// The whole emulated world.
#[derive(Debug, Default)]
pub struct World {
    next_user_id: i64,
    next_group_id: i64,
    next_callback: u64,
    next_album: u64,
    /// Bots by id.
    pub bots: HashMap<i64, Bot>,
    /// Bot id by token.
    pub tokens: HashMap<String, i64>,
    /// People by id.
    pub people: HashMap<i64, Person>,
    /// Chats.
    pub chats: HashMap<ChatKey, Chat>,
    /// Files by file_id.
    pub files: HashMap<String, FileRec>,
    /// Callback queries by id.
    pub callbacks: HashMap<String, Callback>,
    /// Update queues by bot id.
    pub queues: HashMap<i64, UpdateQueue>,
    /// Conformance violations found in answers (checked by tests).
    pub violations: Vec<String>,
    /// Every call, in order.
    pub calls: Vec<CallRecord>,
    /// How webhook URLs are checked and reached (the emulator's switches).
    pub webhook_rules: WebhookRules,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        Self {
            next_user_id: 100_000_000,
            next_group_id: 1_000_000_000,
            ..Default::default()
        }
    }

    /// Registers a bot; the token's number is its id. Returns the bot id.
    pub fn add_bot(
        &mut self,
        token: &str,
        username: &str,
        first_name: &str,
    ) -> Result<i64, String> {
        let id: i64 = token
            .split_once(':')
            .and_then(|(n, _)| n.parse().ok())
            .ok_or_else(|| {
                format!(
                    "token must look like 123456:secret, got {} chars",
                    token.len()
                )
            })?;
        if self.bots.contains_key(&id) {
            return Err(format!("bot {id} already exists"));
        }
        self.bots.insert(
            id,
            Bot {
                id,
                token: token.to_string(),
                username: username.to_string(),
                first_name: first_name.to_string(),
                commands: HashMap::new(),
            },
        );
        self.tokens.insert(token.to_string(), id);
        self.queues.insert(id, UpdateQueue::default());
        Ok(id)
    }

    /// Creates a person. Returns the User object.
    pub fn add_person(
        &mut self,
        first_name: &str,
        last_name: Option<&str>,
        username: Option<&str>,
        lang: Option<&str>,
    ) -> Value {
        self.next_user_id += 1;
        let id = self.next_user_id;
        let mut json = json!({"id": id, "is_bot": false, "first_name": first_name});
        if let Some(l) = last_name {
            json["last_name"] = json!(l);
        }
        if let Some(u) = username {
            json["username"] = json!(u);
        }
        if let Some(l) = lang {
            json["language_code"] = json!(l);
        }
        self.people.insert(id, Person { json: json.clone() });
        json
    }

    /// Creates a supergroup (a forum when asked) owned by `owner`. Returns its id.
    pub fn add_group(&mut self, title: &str, is_forum: bool, owner: Option<i64>) -> i64 {
        self.next_group_id += 1;
        let id = -(1_000_000_000_000 + self.next_group_id);
        let mut json = json!({"id": id, "type": "supergroup", "title": title});
        if is_forum {
            json["is_forum"] = json!(true);
        }
        let mut chat = Chat::new(ChatKey::Group(id), json, is_forum);
        // Message 1 of a supergroup is its creation service message (and 1 is General's
        // thread id in a forum), so the first message anyone sends gets id 2.
        chat.next_id = 2;
        if let Some(owner) = owner {
            chat.members
                .insert(owner, Member::with("creator", json!({})));
        }
        self.chats.insert(ChatKey::Group(id), chat);
        id
    }

    /// The User object of a person or bot.
    pub fn user_json(&self, id: i64) -> Option<Value> {
        if let Some(p) = self.people.get(&id) {
            return Some(p.json.clone());
        }
        self.bots.get(&id).map(|b| json!({"id": b.id, "is_bot": true, "first_name": b.first_name, "username": b.username}))
    }

    /// The private chat of a bot and a person, created on first contact.
    pub fn private_chat(&mut self, bot: i64, user: i64) -> Option<&mut Chat> {
        let key = ChatKey::Private { bot, user };
        if !self.chats.contains_key(&key) {
            let person = self.people.get(&user)?.json.clone();
            let mut json =
                json!({"id": user, "type": "private", "first_name": person["first_name"]});
            for f in ["last_name", "username"] {
                if let Some(v) = person.get(f) {
                    json[f] = v.clone();
                }
            }
            self.chats.insert(key, Chat::new(key, json, false));
        }
        self.chats.get_mut(&key)
    }

    /// Resolves a `chat_id` parameter for a bot: the bot must be able to write there.
    pub fn resolve_chat(&self, bot: i64, chat_id: &str) -> ApiResult<ChatKey> {
        let id: i64 = if let Some(name) = chat_id.strip_prefix('@') {
            self.chats
                .values()
                .find(|c| {
                    c.json["username"]
                        .as_str()
                        .is_some_and(|u| u.eq_ignore_ascii_case(name))
                })
                .map(|c| c.key.chat_id())
                .ok_or_else(ApiError::chat_not_found)?
        } else {
            chat_id
                .trim()
                .parse()
                .map_err(|_| ApiError::chat_not_found())?
        };
        if id > 0 {
            let key = ChatKey::Private { bot, user: id };
            if self.chats.contains_key(&key) {
                return Ok(key);
            }
            if self.people.contains_key(&id) {
                return Err(ApiError::forbidden(
                    "bot can't initiate conversation with a user",
                ));
            }
            return Err(ApiError::chat_not_found());
        }
        let key = ChatKey::Group(id);
        let chat = self.chats.get(&key).ok_or_else(ApiError::chat_not_found)?;
        match chat.members.get(&bot) {
            Some(m) if m.status == "kicked" => Err(ApiError::forbidden(
                "bot was kicked from the supergroup chat",
            )),
            Some(m) if m.status != "left" => Ok(key),
            _ => Err(ApiError::forbidden(
                "bot is not a member of the supergroup chat",
            )),
        }
    }

    /// Chat by key (must exist).
    pub fn chat(&self, key: ChatKey) -> &Chat {
        &self.chats[&key]
    }

    /// Mutable chat by key (must exist).
    pub fn chat_mut(&mut self, key: ChatKey) -> &mut Chat {
        self.chats.get_mut(&key).expect("chat exists")
    }

    /// A fresh `media_group_id`.
    pub fn new_album_id(&mut self) -> String {
        self.next_album += 1;
        format!("{}", 13_000_000_000_000_000u64 + self.next_album)
    }

    /// Appends a message to a chat, assigning its id, and fans it out as updates.
    /// `body` holds the content fields (text, photo, ...); the envelope is added here.
    pub fn post(
        &mut self,
        key: ChatKey,
        sender: Sender,
        thread: Option<i64>,
        reply_to: Option<i64>,
        body: Value,
        service: bool,
    ) -> Value {
        let from = self.user_json(sender.id()).unwrap_or(json!({}));
        let chat = self.chat_mut(key);
        let id = chat.next_id;
        chat.next_id += 1;
        let mut json = json!({"message_id": id, "from": from, "date": now(), "chat": chat.json});
        if let Some(t) = thread {
            json["message_thread_id"] = json!(t);
            json["is_topic_message"] = json!(true);
        }
        if let Value::Object(fields) = body {
            for (k, v) in fields {
                json[k] = v;
            }
        }
        let msg = Msg {
            json,
            sender,
            thread,
            reply_to,
            service,
            deleted: false,
            reactions: BTreeMap::new(),
        };
        let rendered = chat.render(&msg);
        chat.messages.insert(id, msg);
        self.fan_out(key, sender, "message", &rendered);
        rendered
    }

    /// Gives a new or edited message to every bot that would see it in Telegram.
    pub fn fan_out(&mut self, key: ChatKey, sender: Sender, kind: &str, rendered: &Value) {
        let receivers: Vec<i64> = match key {
            ChatKey::Private { bot, .. } => match sender {
                Sender::User(_) => vec![bot],
                Sender::Bot(_) => vec![],
            },
            ChatKey::Group(_) => {
                let chat = self.chat(key);
                let is_service = chat
                    .message(rendered["message_id"].as_i64().unwrap_or(0))
                    .is_some_and(|m| m.service);
                let text = rendered["text"].as_str().unwrap_or("");
                chat.members
                    .iter()
                    .filter(|(id, m)| {
                        self.bots.contains_key(id)
                            && !matches!(m.status.as_str(), "left" | "kicked")
                    })
                    .filter(|(id, m)| {
                        // Bots never see other bots' messages, nor their own, except the
                        // topic service messages Telegram does deliver.
                        let from_bot = matches!(sender, Sender::Bot(_));
                        if from_bot && !is_service {
                            return false;
                        }
                        m.is_admin()
                            || text.starts_with('/')
                            || rendered["reply_to_message"]["from"]["id"].as_i64() == Some(**id)
                    })
                    .map(|(id, _)| *id)
                    .collect()
            }
        };
        for bot in receivers {
            self.push_update(bot, kind, rendered.clone());
        }
    }

    /// Queues an update of `kind` for a bot, honouring its `allowed_updates`.
    pub fn push_update(&mut self, bot: i64, kind: &str, payload: Value) {
        if let Some(q) = self.queues.get_mut(&bot) {
            q.push(kind, payload);
        }
    }

    /// Records a conformance violation (tests assert there are none).
    pub fn violation(&mut self, what: String) {
        tracing::warn!(%what, "conformance violation");
        self.violations.push(what);
    }

    /// A fresh callback query id.
    pub fn new_callback_id(&mut self) -> String {
        self.next_callback += 1;
        format!("{}", 4_000_000_000_000_000_000u64 + self.next_callback)
    }
}
