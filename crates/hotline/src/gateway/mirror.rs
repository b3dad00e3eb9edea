//! Mirroring what the parallel bot puts into a user's chat into that user's topic, as
//! **intercepted** messages.
//!
//! A successful call of a mirrored method is journaled ([`journal_entry`], `journal`)
//! before the bot gets Telegram's answer. Deciding ([`decide`]) runs in the update
//! processor, in journal order, right after the update the call came after: when the chat
//! is a contact with an activated, open dialog and `INTERCEPT_EXTERNAL` is on, it queues a
//! [`MirrorJob`] in the outbox. Executing it ([`MirrorExecutor`]) happens in the dialog's
//! group queue, after the user's own messages that came before it; the links of what it
//! posted are recorded with its completion.
//!
//! How it looks in the topic: every intercepted message starts with the mark `🤖 `
//! (text prefix, or caption prefix for media); kinds without a caption (sticker,
//! location, poll, …) are copied and followed by a short `🤖` note replying to the copy.
//! Inline `url` buttons are kept as buttons; every other button (callback, web app, …)
//! cannot work in the group and is listed as `[Label]` lines under the text; a reply
//! keyboard from the request is listed after `⌨️`. Edits edit the copy; deletions add a
//! `🗑` note to the copy (the record stays). Links are stored as
//! [`Direction::Intercepted`] so edits and deletions find the copy.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{param_i64, param_json, Bot};
use crate::domain::content::{self, edit_snapshot, input_media};
use crate::domain::events::Event;
use crate::domain::links::Links;
use crate::domain::render::html;
use crate::domain::topics::{TopicError, Topics};
use crate::domain::Context;
use crate::outbox::{Action, Execute, Registry};
use crate::store::{now_ms, DialogStatus, Direction, GatewayCall, Intent, StoreError, Tx};

/// The mark that starts every intercepted message in a topic.
pub const MARK: &str = "🤖 ";
/// Telegram's text limit (UTF-16 units).
const TEXT_MAX: usize = 4096;
/// Telegram's caption limit (UTF-16 units).
const CAPTION_MAX: usize = 1024;
/// Kinds whose copy can carry the mark in its caption.
const CAPTIONED: &[&str] = &["photo", "video", "animation", "audio", "document", "voice"];

/// How a method's result is mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The answer is the sent Message (send*, forwardMessage).
    Sent,
    /// The answer is an array of Messages (sendMediaGroup).
    Album,
    /// The answer holds only MessageIds; the chat comes from the request.
    Copied,
    /// The answer is the edited Message (`media`: editMessageMedia).
    Edited {
        /// The media itself changed.
        media: bool,
    },
    /// The answer is `true`; chat and ids come from the request.
    Deleted,
}

/// Which methods are mirrored (`lower` is the lower-cased method name).
pub fn kind_of(lower: &str) -> Option<Kind> {
    Some(match lower {
        "sendmediagroup" => Kind::Album,
        "copymessage" | "copymessages" | "forwardmessages" => Kind::Copied,
        "editmessagemedia" => Kind::Edited { media: true },
        "editmessagetext"
        | "editmessagecaption"
        | "editmessagereplymarkup"
        | "editmessagelivelocation"
        | "stopmessagelivelocation"
        | "editmessagechecklist" => Kind::Edited { media: false },
        "deletemessage" | "deletemessages" => Kind::Deleted,
        "forwardmessage" => Kind::Sent,
        "sendchataction" | "sendgift" | "sendmessagedraft" => return None,
        s if s.starts_with("send") => Kind::Sent,
        _ => return None,
    })
}

/// Whether the method puts new messages into the chat (its place in the chat's order
/// is its `message_id`).
pub fn positional(lower: &str) -> bool {
    matches!(
        kind_of(lower),
        Some(Kind::Sent | Kind::Album | Kind::Copied)
    )
}

/// Where a journaled call belongs: the private chat it is about and, for a send, the
/// `message_id` of its (first) message there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Place {
    /// The user's chat (a positive id), when known.
    pub chat: Option<i64>,
    /// The first new message's id in that chat (sends only).
    pub position: Option<i64>,
}

/// The [`Place`] of a journaled call (a default one when its answer is not a success).
pub fn place(call: &GatewayCall) -> Place {
    let Some(kind) = kind_of(&call.method) else {
        return Place::default();
    };
    let Ok(answer) = serde_json::from_str::<Value>(&call.answer) else {
        return Place::default();
    };
    let result = &answer["result"];
    let private = |m: &Value| {
        (m["chat"]["type"] == "private")
            .then(|| m["chat"]["id"].as_i64())
            .flatten()
            .filter(|c| *c > 0)
    };
    let requested = || {
        serde_json::from_str::<Value>(&call.request)
            .ok()
            .and_then(|r| match r {
                Value::Object(m) => param_i64(&m, "chat_id").ok().flatten(),
                _ => None,
            })
            .filter(|c| *c > 0)
    };
    match kind {
        Kind::Sent => Place {
            chat: private(result),
            position: result["message_id"].as_i64(),
        },
        Kind::Album => {
            let first = result.as_array().and_then(|a| a.first());
            Place {
                chat: first.and_then(private),
                position: first.and_then(|m| m["message_id"].as_i64()),
            }
        }
        Kind::Copied => Place {
            chat: requested(),
            position: ids_of(result).into_iter().min(),
        },
        Kind::Edited { .. } => Place {
            chat: private(result),
            position: None,
        },
        Kind::Deleted => Place {
            chat: requested(),
            position: None,
        },
    }
}

/// What is mirrored (the payload of a [`MirrorJob`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mirror {
    /// Messages the bot sent (one, or an album), as Telegram returned them.
    Sent {
        /// The Message objects.
        messages: Vec<Value>,
        /// A reply keyboard from the request (Telegram does not return it).
        keyboard: Option<Value>,
    },
    /// Messages the bot copied or forwarded into the user's chat (ids only).
    Copied {
        /// The user's chat.
        user_chat: i64,
        /// Their ids there.
        ids: Vec<i64>,
    },
    /// The bot edited a message; `message` is it as it is now.
    Edited {
        /// The edited Message.
        message: Value,
        /// editMessageMedia (else text/caption/markup).
        media: bool,
    },
    /// The bot deleted messages in the user's chat.
    Deleted {
        /// The user's chat.
        user_chat: i64,
        /// The deleted ids.
        ids: Vec<i64>,
    },
}

/// The gateway's outbox action: mirror something into a dialog's topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirrorJob {
    /// Dialog id.
    pub dialog: i64,
    /// What to mirror.
    pub mirror: Mirror,
}

impl Action for MirrorJob {
    const KIND: &'static str = "mirror";
}

/// Executes [`MirrorJob`]s for one connection.
pub struct MirrorExecutor(pub Topics);

/// Registers the gateway's action with its executor.
pub fn register(registry: &mut Registry, topics: &Topics) {
    registry.register::<MirrorJob, _>(Arc::new(MirrorExecutor(topics.clone())));
}

impl Execute<MirrorJob> for MirrorExecutor {
    type Done = Links;
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, job: MirrorJob) -> Result<Links, TopicError> {
        let mut links = Links::new();
        execute(&self.0, job.dialog, &job.mirror, &mut links).await?;
        Ok(links)
    }

    async fn complete(
        &self,
        tx: &mut Tx,
        _intent: &Intent,
        links: Links,
    ) -> Result<(), StoreError> {
        links.record(tx, self.0.ctx.connection).await
    }
}

/// Whether `INTERCEPT_EXTERNAL` is on (read in place: no copy of the parameters).
fn intercepting(ctx: &Context) -> bool {
    ctx.with_params(|p| p.intercept_external)
}

/// Whether a call of this method may be mirrored now: with mirroring off, nothing of the
/// call is buffered or parsed (pure pass-through).
pub fn mirrored(bot: &Bot, lower: &str) -> bool {
    kind_of(lower).is_some() && intercepting(&bot.ctx)
}

/// The journal entry of a successful call that may be mirrored, or `None` when there is
/// nothing to mirror (not a mirrored method, `INTERCEPT_EXTERNAL` off). Only the request
/// parameters the decision reads are kept.
pub fn journal_entry(
    bot: &Bot,
    lower: &str,
    request: Option<&Map<String, Value>>,
    answer: &[u8],
) -> Option<GatewayCall> {
    if !mirrored(bot, lower) {
        return None;
    }
    let mut kept = Map::new();
    if let Some(r) = request {
        for key in ["chat_id", "message_id", "message_ids", "reply_markup"] {
            if let Some(v) = r.get(key) {
                kept.insert(key.to_string(), v.clone());
            }
        }
    }
    Some(GatewayCall {
        id: 0,
        after_update: bot.seen_update(),
        called_at: now_ms(),
        method: lower.to_string(),
        request: Value::Object(kept).to_string(),
        answer: String::from_utf8_lossy(answer).into_owned(),
    })
}

fn ids_of(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|m| m["message_id"].as_i64().or_else(|| m.as_i64()))
            .collect(),
        v => v["message_id"]
            .as_i64()
            .or_else(|| v.as_i64())
            .into_iter()
            .collect(),
    }
}

/// A reply keyboard in the request's `reply_markup` (inline ones come back in the answer).
fn reply_keyboard(request: &Map<String, Value>) -> Option<Value> {
    param_json(request, "reply_markup")
        .filter(|m| m.get("keyboard").is_some())
        .map(|m| m["keyboard"].clone())
}

/// Decides whether a journaled call is mirrored and, if so, queues the job, in the update
/// processor's transaction right after the update the call came after: the dialog is
/// exactly as the user's messages until then made it (a first message opens it; a
/// `PRIVATE_KEYWORDS` trigger sent after the call does not count).
pub async fn decide(tx: &mut Tx, ctx: &Context, call: &GatewayCall) -> Result<(), StoreError> {
    let Some(kind) = kind_of(&call.method) else {
        return Ok(());
    };
    if !intercepting(ctx) {
        return Ok(());
    }
    let Ok(answer) = serde_json::from_str::<Value>(&call.answer) else {
        return Ok(());
    };
    if answer["ok"] != true {
        return Ok(());
    }
    let request = match serde_json::from_str::<Value>(&call.request) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let result = &answer["result"];
    let private = |m: &Value| {
        (m["chat"]["type"] == "private")
            .then(|| m["chat"]["id"].as_i64())
            .flatten()
    };
    let (user, mirror, needs_open) = match kind {
        Kind::Sent => {
            let Some(user) = private(result) else {
                return Ok(());
            };
            (
                user,
                Mirror::Sent {
                    messages: vec![result.clone()],
                    keyboard: reply_keyboard(&request),
                },
                true,
            )
        }
        Kind::Album => {
            let Some(user) = result.as_array().and_then(|a| a.first()).and_then(private) else {
                return Ok(());
            };
            (
                user,
                Mirror::Sent {
                    messages: result.as_array().cloned().unwrap_or_default(),
                    keyboard: None,
                },
                true,
            )
        }
        Kind::Copied => {
            let Ok(Some(user)) = param_i64(&request, "chat_id") else {
                return Ok(());
            };
            (
                user,
                Mirror::Copied {
                    user_chat: user,
                    ids: ids_of(result),
                },
                true,
            )
        }
        Kind::Edited { media } => {
            let Some(user) = private(result) else {
                return Ok(());
            };
            (
                user,
                Mirror::Edited {
                    message: result.clone(),
                    media,
                },
                false,
            )
        }
        Kind::Deleted => {
            let Ok(Some(user)) = param_i64(&request, "chat_id") else {
                return Ok(());
            };
            let mut ids: Vec<i64> = param_i64(&request, "message_id")
                .ok()
                .flatten()
                .into_iter()
                .collect();
            if let Some(Value::Array(list)) = param_json(&request, "message_ids") {
                ids.extend(list.iter().filter_map(Value::as_i64));
            }
            (
                user,
                Mirror::Deleted {
                    user_chat: user,
                    ids,
                },
                false,
            )
        }
    };
    if user <= 0 {
        return Ok(());
    }
    if let Mirror::Copied { ids, .. } | Mirror::Deleted { ids, .. } = &mirror {
        if ids.is_empty() {
            return Ok(());
        }
    }
    let conn = ctx.connection;
    let Some(contact) = tx.contact_by_user(conn, user).await? else {
        return Ok(());
    };
    let dialog = tx.dialog_for_contact(conn, contact.id).await?;
    let Some(dialog) = dialog.filter(|d| d.activated) else {
        // Not open yet (PRIVATE_KEYWORDS): what the bot says may open the topic as RECAP.
        if let Mirror::Sent { messages, .. } = &mirror {
            let now = crate::store::now_ms();
            for m in messages {
                ctx.remember_for_recap(tx, user, "bot", m, now).await?;
            }
        }
        return Ok(());
    };
    if needs_open && dialog.status == DialogStatus::Closed {
        return Ok(());
    }
    let event = match &mirror {
        Mirror::Sent { messages, .. } => Some(Event::Intercepted {
            dialog: dialog.id,
            messages,
            copied: &[],
        }),
        Mirror::Copied { ids, .. } => Some(Event::Intercepted {
            dialog: dialog.id,
            messages: &[],
            copied: ids,
        }),
        // Edits and deletions change what was mirrored; they are no new messages.
        Mirror::Edited { .. } | Mirror::Deleted { .. } => None,
    };
    if let Some(event) = event {
        ctx.record(tx, event).await?;
    }
    let job = MirrorJob {
        dialog: dialog.id,
        mirror,
    };
    ctx.to_group(tx, Some(dialog.id), &job).await?;
    Ok(())
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The buttons of a message as the topic shows them.
#[derive(Debug, Default, PartialEq)]
struct Buttons {
    /// Rows of labels that cannot work in the group.
    listed: Vec<String>,
    /// The `url` buttons, kept as an inline keyboard.
    keyboard: Option<Value>,
}

fn buttons(markup: &Value, reply_keyboard: Option<&Value>) -> Buttons {
    let mut b = Buttons::default();
    let mut url_rows = Vec::new();
    for row in markup["inline_keyboard"].as_array().into_iter().flatten() {
        let mut labels = Vec::new();
        let mut urls = Vec::new();
        for button in row.as_array().into_iter().flatten() {
            let text = button["text"].as_str().unwrap_or("?");
            match button["url"].as_str() {
                Some(url) => urls.push(json!({"text": text, "url": url})),
                None => labels.push(format!("[{text}]")),
            }
        }
        if !labels.is_empty() {
            b.listed.push(labels.join(" "));
        }
        if !urls.is_empty() {
            url_rows.push(Value::Array(urls));
        }
    }
    if !url_rows.is_empty() {
        b.keyboard = Some(json!({"inline_keyboard": url_rows}));
    }
    for row in reply_keyboard
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let labels: Vec<String> = row
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                format!(
                    "[{}]",
                    k.as_str().or_else(|| k["text"].as_str()).unwrap_or("?")
                )
            })
            .collect();
        if !labels.is_empty() {
            b.listed.push(format!("⌨️ {}", labels.join(" ")));
        }
    }
    b
}

/// The marked text (or caption) and its entities shifted past the mark, with the listed
/// buttons appended when they fit; unmarked when even the mark does not fit.
fn render(body: &str, entities: Option<&Value>, b: &Buttons, max: usize) -> (String, Value) {
    let shift = utf16(MARK) as i64;
    let original: Vec<Value> = entities
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if utf16(body) + shift as usize > max {
        return (body.to_string(), Value::Array(original));
    }
    let shifted = original
        .into_iter()
        .map(|mut e| {
            e["offset"] = json!(e["offset"].as_i64().unwrap_or(0).saturating_add(shift));
            e
        })
        .collect();
    let mut text = format!("{MARK}{body}");
    if !b.listed.is_empty() {
        let with = format!("{text}\n\n{}", b.listed.join("\n"));
        if utf16(&with) <= max {
            text = with;
        }
    }
    (text, Value::Array(shifted))
}

/// Runs a mirroring action for `dialog`, collecting the links of what it posted.
async fn execute(
    ex: &Topics,
    dialog: i64,
    mirror: &Mirror,
    links: &mut Links,
) -> Result<(), TopicError> {
    match mirror {
        Mirror::Sent { messages, keyboard } if messages.len() == 1 => {
            post_one(ex, dialog, &messages[0], keyboard.as_ref(), links).await
        }
        Mirror::Sent { messages, .. } => post_album(ex, dialog, messages, links).await,
        Mirror::Copied { user_chat, ids } => post_copies(ex, dialog, *user_chat, ids, links).await,
        Mirror::Edited { message, media } => edit(ex, dialog, message, *media).await,
        Mirror::Deleted { user_chat, ids } => {
            for id in ids {
                if let Some(copy) = intercepted_copy(ex, *user_chat, *id).await? {
                    note(
                        ex,
                        dialog,
                        "🗑 The bot deleted this message from the user's chat.",
                        Some(copy),
                    )
                    .await?;
                }
            }
            Ok(())
        }
    }
}

/// Links an intercepted message to its copy in the topic.
fn link(group: i64, links: &mut Links, dialog: i64, user: i64, pair: (i64, i64), kind: &str) {
    links.add(dialog, user, group, Direction::Intercepted, kind, [pair]);
}

/// The topic copy of an intercepted message, if it was mirrored.
async fn intercepted_copy(ex: &Topics, user: i64, id: i64) -> Result<Option<i64>, TopicError> {
    let l = ex
        .store
        .link_by_user_message(ex.ctx.connection, user, id)
        .await?;
    Ok(l.filter(|l| l.link.direction == Direction::Intercepted)
        .map(|l| l.link.group_message_id))
}

/// Posts an HTML note into the dialog's topic.
async fn note(
    ex: &Topics,
    dialog: i64,
    text: &str,
    reply_to: Option<i64>,
) -> Result<(), TopicError> {
    let group = ex.group_of(dialog).await?;
    ex.in_topic(dialog, |thread| async move {
        let mut extra = json!({"parse_mode": "HTML", "message_thread_id": thread});
        if let Some(r) = reply_to {
            extra["reply_parameters"] =
                json!({"message_id": r, "allow_sending_without_reply": true});
        }
        ex.tg.send_message(group, text, extra).await
    })
    .await
    .map(|_| ())
}

/// A permanent failure becomes a visible notice; retryable ones go back to the outbox.
async fn failed(ex: &Topics, dialog: i64, what: &str, e: TopicError) -> Result<(), TopicError> {
    if e.is_retryable() {
        return Err(e);
    }
    tracing::warn!(dialog, error = %e, "an intercepted message could not be mirrored");
    note(
        ex,
        dialog,
        &format!(
            "🤖 The bot sent {what} that cannot be shown here: {}",
            html(&e.to_string())
        ),
        None,
    )
    .await
}

async fn post_one(
    ex: &Topics,
    dialog: i64,
    m: &Value,
    keyboard: Option<&Value>,
    links: &mut Links,
) -> Result<(), TopicError> {
    let (Some(user), Some(id)) = (m["chat"]["id"].as_i64(), m["message_id"].as_i64()) else {
        return Ok(());
    };
    let group = ex.group_of(dialog).await?;
    let kind = content::kind(m);
    let b = buttons(&m["reply_markup"], keyboard);
    let reply_to = match m["reply_to_message"]["message_id"].as_i64() {
        Some(r) => ex
            .store
            .link_by_user_message(ex.ctx.connection, user, r)
            .await?
            .map(|l| l.link.group_message_id),
        None => None,
    };
    let (kind, b) = (&kind, &b);
    let sent = ex
        .in_topic(dialog, |thread| async move {
            let mut extra = json!({"message_thread_id": thread});
            if let Some(r) = reply_to {
                extra["reply_parameters"] =
                    json!({"message_id": r, "allow_sending_without_reply": true});
            }
            if let Some(k) = &b.keyboard {
                extra["reply_markup"] = k.clone();
            }
            if kind == "text" {
                let (text, entities) = render(
                    m["text"].as_str().unwrap_or(""),
                    m.get("entities"),
                    b,
                    TEXT_MAX,
                );
                extra["entities"] = entities;
                if let Some(p) = m.get("link_preview_options") {
                    extra["link_preview_options"] = p.clone();
                }
                return ex
                    .tg
                    .send_message(group, &text, extra)
                    .await
                    .map(|r| (r.message_id, false, thread));
            }
            if CAPTIONED.contains(&kind.as_str()) {
                let (caption, entities) = render(
                    m["caption"].as_str().unwrap_or(""),
                    m.get("caption_entities"),
                    b,
                    CAPTION_MAX,
                );
                extra["caption"] = json!(caption);
                extra["caption_entities"] = entities;
                return ex
                    .tg
                    .copy_message(group, user, id, extra)
                    .await
                    .map(|r| (r.message_id, false, thread));
            }
            ex.tg
                .copy_message(group, user, id, extra)
                .await
                .map(|r| (r.message_id, true, thread))
        })
        .await;
    match sent {
        Ok((_, (copy, needs_note, _))) => {
            link(group, links, dialog, user, (id, copy), kind);
            if needs_note {
                let (text, _) = render(&format!("(the bot sent this {kind})"), None, b, TEXT_MAX);
                note(ex, dialog, &html(&text), Some(copy)).await?;
            }
            Ok(())
        }
        Err(e) => failed(ex, dialog, &format!("a {kind} message"), e).await,
    }
}

async fn post_album(
    ex: &Topics,
    dialog: i64,
    messages: &[Value],
    links: &mut Links,
) -> Result<(), TopicError> {
    let Some(user) = messages.first().and_then(|m| m["chat"]["id"].as_i64()) else {
        return Ok(());
    };
    let ids: Vec<i64> = messages
        .iter()
        .filter_map(|m| m["message_id"].as_i64())
        .collect();
    let media: Option<Vec<Value>> = messages
        .iter()
        .map(|m| input_media(&edit_snapshot(m)))
        .collect();
    let Some(mut media) = media.filter(|m| m.len() == ids.len() && m.len() >= 2) else {
        return post_copies(ex, dialog, user, &ids, links).await;
    };
    let none = Buttons::default();
    let first = &mut media[0];
    let (caption, entities) = render(
        first["caption"].as_str().unwrap_or(""),
        first.get("caption_entities"),
        &none,
        CAPTION_MAX,
    );
    first["caption"] = json!(caption);
    first["caption_entities"] = entities;
    let (group, media) = (ex.group_of(dialog).await?, &media);
    let sent = ex
        .in_topic(dialog, |thread| async move {
            ex.tg
                .send_media_group(
                    group,
                    Value::Array(media.clone()),
                    json!({"message_thread_id": thread}),
                )
                .await
        })
        .await;
    match sent {
        Ok((_, copies)) => {
            for (u, g) in ids.iter().zip(copies) {
                link(group, links, dialog, user, (*u, g.message_id), "album");
            }
            Ok(())
        }
        Err(e) => failed(ex, dialog, "an album", e).await,
    }
}

async fn post_copies(
    ex: &Topics,
    dialog: i64,
    user: i64,
    ids: &[i64],
    links: &mut Links,
) -> Result<(), TopicError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let (group, list) = (ex.group_of(dialog).await?, &ids);
    let sent = ex
        .in_topic(dialog, |thread| async move {
            ex.tg
                .copy_messages(group, user, list, json!({"message_thread_id": thread}))
                .await
        })
        .await;
    match sent {
        Ok((_, copies)) => {
            for (u, g) in ids.iter().zip(&copies) {
                link(group, links, dialog, user, (*u, g.message_id), "copy");
            }
            if let Some(first) = copies.first() {
                note(
                    ex,
                    dialog,
                    &html(&format!("{MARK}(sent by the bot)")),
                    Some(first.message_id),
                )
                .await?;
            }
            Ok(())
        }
        Err(e) => failed(ex, dialog, "copied messages", e).await,
    }
}

async fn edit(ex: &Topics, dialog: i64, m: &Value, media: bool) -> Result<(), TopicError> {
    let (Some(user), Some(id)) = (m["chat"]["id"].as_i64(), m["message_id"].as_i64()) else {
        return Ok(());
    };
    let Some(link) = ex
        .store
        .link_by_user_message(ex.ctx.connection, user, id)
        .await?
    else {
        return Ok(());
    };
    if link.link.direction != Direction::Intercepted {
        return Ok(());
    }
    let (group, copy) = (link.link.group_chat_id, link.link.group_message_id);
    let b = buttons(&m["reply_markup"], None);
    let markup = b
        .keyboard
        .clone()
        .unwrap_or_else(|| json!({"inline_keyboard": []}));
    let r = if let Some(text) = m["text"].as_str() {
        let (text, entities) = render(text, m.get("entities"), &b, TEXT_MAX);
        ex.tg
            .edit_message_text(
                group,
                copy,
                &text,
                json!({"entities": entities, "reply_markup": markup}),
            )
            .await
    } else if CAPTIONED.contains(&link.link.kind.as_str()) || link.link.kind == "album" {
        let (caption, entities) = render(
            m["caption"].as_str().unwrap_or(""),
            m.get("caption_entities"),
            &b,
            CAPTION_MAX,
        );
        match input_media(&edit_snapshot(m)).filter(|_| media) {
            Some(mut input) => {
                input["caption"] = json!(caption);
                input["caption_entities"] = entities;
                let extra = if link.link.kind == "album" {
                    json!({})
                } else {
                    json!({"reply_markup": markup})
                };
                ex.tg.edit_message_media(group, copy, input, extra).await
            }
            None => {
                let mut extra = json!({"caption": caption, "caption_entities": entities});
                if link.link.kind != "album" {
                    extra["reply_markup"] = markup;
                }
                ex.tg.edit_message_caption(group, copy, extra).await
            }
        }
    } else {
        return Ok(());
    };
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(e) if e.is_not_modified() => Ok(()),
        Err(e) => {
            tracing::info!(dialog, error = %e, "intercepted edit not possible; posting it as a note");
            let now = content::text(m);
            note(
                ex,
                dialog,
                &format!("✏️ {MARK}The bot edited this message: {}", html(now)),
                Some(copy),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_classified() {
        assert_eq!(kind_of("sendmessage"), Some(Kind::Sent));
        assert_eq!(kind_of("senddocument"), Some(Kind::Sent));
        assert_eq!(kind_of("sendmediagroup"), Some(Kind::Album));
        assert_eq!(kind_of("copymessages"), Some(Kind::Copied));
        assert_eq!(
            kind_of("editmessagemedia"),
            Some(Kind::Edited { media: true })
        );
        assert_eq!(kind_of("deletemessages"), Some(Kind::Deleted));
        assert_eq!(kind_of("sendchataction"), None);
        assert_eq!(kind_of("answercallbackquery"), None);
    }

    #[test]
    fn buttons_url_kept_others_listed() {
        let markup = json!({"inline_keyboard": [[{"text": "Buy", "callback_data": "b"}, {"text": "Help", "callback_data": "h"}],
                                                 [{"text": "Site", "url": "https://e.com"}]]});
        let b = buttons(&markup, Some(&json!([["Yes", {"text": "No"}]])));
        assert_eq!(
            b.listed,
            vec!["[Buy] [Help]".to_string(), "⌨️ [Yes] [No]".to_string()]
        );
        assert_eq!(
            b.keyboard,
            Some(json!({"inline_keyboard": [[{"text": "Site", "url": "https://e.com"}]]}))
        );
    }

    #[test]
    fn render_marks_and_shifts() {
        let b = Buttons {
            listed: vec!["[A]".into()],
            keyboard: None,
        };
        let (t, e) = render(
            "hi you",
            Some(&json!([{"type": "bold", "offset": 3, "length": 3}])),
            &b,
            TEXT_MAX,
        );
        assert_eq!(t, "🤖 hi you\n\n[A]");
        assert_eq!(e[0]["offset"], 6);
        let long = "x".repeat(TEXT_MAX);
        assert_eq!(render(&long, None, &b, TEXT_MAX).0, long);
        let near = "x".repeat(TEXT_MAX - 4);
        assert_eq!(render(&near, None, &b, TEXT_MAX).0, format!("{MARK}{near}"));
        // A bot's absurd entity offset is shifted without overflowing.
        let (_, e) = render(
            "hi",
            Some(&json!([{"type": "bold", "offset": i64::MAX, "length": 1}])),
            &b,
            TEXT_MAX,
        );
        assert_eq!(e[0]["offset"], i64::MAX);
    }
}
