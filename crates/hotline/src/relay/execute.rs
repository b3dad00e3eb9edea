//! Running intents: each becomes one or a few Bot API calls, resolved now (the
//! dialog's topic as it is at this moment, created first if missing). Known permanent
//! failures are handled here — a deleted topic is recreated, a blocked user is marked,
//! an undeliverable operator message gets a notice in its topic — and reported as done;
//! only retryable failures go back to the outbox.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::Intent;
use crate::domain::content::input_media;
use crate::domain::events::Event;
use crate::domain::render::{self, html};
use crate::domain::Context;
use crate::store::{Contact, Dialog, DialogStatus, Direction, NewLink, Store, StoreError, Tx};
use crate::telegram::{Client, TgError};

/// Preferred topic icons per status, first available wins (from getForumTopicIconStickers).
const ICON_PREFERENCES: &[(DialogStatus, &[&str])] = &[
    (DialogStatus::New, &["❗️", "❗", "🔥", "❓"]),
    (DialogStatus::Wait, &["💬", "📝", "⏳"]),
    (DialogStatus::Closed, &["✅", "☑️"]),
];

/// The delivered mark set on an operator's message once the user has it.
pub const DELIVERED: &str = "👌";

/// Custom emoji ids of the status icons this group offers.
#[derive(Debug, Clone, Default)]
pub struct Icons(HashMap<&'static str, String>);

impl Icons {
    /// Picks status icons from a getForumTopicIconStickers answer.
    pub fn from_stickers(stickers: &Value) -> Self {
        let mut map = HashMap::new();
        for (status, prefs) in ICON_PREFERENCES {
            let found = prefs.iter().find_map(|want| {
                stickers
                    .as_array()?
                    .iter()
                    .find(|s| s["emoji"].as_str() == Some(want))?["custom_emoji_id"]
                    .as_str()
                    .map(str::to_string)
            });
            if let Some(id) = found {
                map.insert(status.as_str(), id);
            }
        }
        Self(map)
    }

    fn for_status(&self, s: DialogStatus) -> Option<&str> {
        self.0.get(s.as_str()).map(String::as_str)
    }
}

fn store_err(e: StoreError) -> TgError {
    TgError::Transient(format!("store: {e}"))
}

/// Executes intents for one connection.
#[derive(Clone)]
pub struct Executor {
    /// The connection's decisions context.
    pub ctx: Context,
    /// The database.
    pub store: Store,
    /// The Bot API client.
    pub tg: Client,
    /// Status icons.
    pub icons: Icons,
}

pub(crate) struct Topic {
    contact: Contact,
    thread: i64,
    /// Created by this call (card already posted).
    created: bool,
}

impl Executor {
    fn group(&self) -> i64 {
        self.ctx.group_id
    }

    pub(super) async fn load(&self, dialog: i64) -> Result<(Dialog, Contact), TgError> {
        self.store
            .dialog_with_contact(dialog)
            .await
            .map_err(store_err)?
            .ok_or_else(|| TgError::Decode(format!("dialog {dialog} is gone")))
    }

    async fn title(&self, d: &Dialog, c: &Contact) -> Result<String, TgError> {
        let params = self.ctx.params();
        let tickers = self.store.contact_tickers(c.id).await.map_err(store_err)?;
        Ok(render::topic_title(
            d.status,
            c,
            &tickers,
            &params.hide_info,
            self.ctx.label().as_deref(),
        ))
    }

    /// The dialog's topic, created (with its card) when it has none.
    async fn topic(&self, dialog: i64) -> Result<Topic, TgError> {
        let (d, c) = self.load(dialog).await?;
        if let Some(thread) = d.thread_id {
            return Ok(Topic {
                contact: c,
                thread,
                created: false,
            });
        }
        let recreated = self
            .store
            .kv_get(self.ctx.connection, &format!("topic_of:{}", d.id))
            .await
            .map_err(store_err)?
            .is_some();
        let mut extra = json!({});
        if let Some(icon) = self.icons.for_status(d.status) {
            extra["icon_custom_emoji_id"] = json!(icon);
        }
        let topic = self
            .tg
            .create_forum_topic(self.group(), &self.title(&d, &c).await?, extra)
            .await?;
        let thread = topic.message_thread_id;
        self.store
            .set_dialog_thread(d.id, Some(thread))
            .await
            .map_err(store_err)?;
        self.store
            .kv_set(
                self.ctx.connection,
                &format!("topic_of:{}", d.id),
                &thread.to_string(),
            )
            .await
            .map_err(store_err)?;
        let params = self.ctx.params();
        if params.auto_info && !params.hide_info.card {
            self.post(
                Some(thread),
                &render::user_card(&c, &params.hide_info, self.ctx.label().as_deref()),
                None,
            )
            .await?;
        }
        if recreated {
            let note = "♻️ The previous topic of this dialog was deleted; the conversation continues here.";
            self.post(Some(thread), note, None).await?;
        }
        if d.status == DialogStatus::Closed {
            ok_unless(self.tg.close_forum_topic(self.group(), thread).await, |e| {
                e.is_topic_not_modified()
            })?;
        }
        Ok(Topic {
            contact: c,
            thread,
            created: true,
        })
    }

    /// Runs `f` in the dialog's topic; a deleted topic is forgotten and recreated once.
    pub(crate) async fn in_topic<T, F, Fut>(&self, dialog: i64, f: F) -> Result<(Topic, T), TgError>
    where
        F: Fn(i64) -> Fut,
        Fut: std::future::Future<Output = Result<T, TgError>>,
    {
        let mut tries = 0;
        loop {
            let topic = self.topic(dialog).await?;
            match f(topic.thread).await {
                Err(e) if e.is_thread_not_found() && tries == 0 => {
                    tracing::info!(dialog, "topic was deleted; recreating it");
                    self.store
                        .set_dialog_thread(dialog, None)
                        .await
                        .map_err(store_err)?;
                    tries += 1;
                }
                Err(e) => return Err(e),
                Ok(v) => return Ok((topic, v)),
            }
        }
    }

    pub(super) async fn post(
        &self,
        thread: Option<i64>,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<i64, TgError> {
        let mut extra =
            json!({"parse_mode": "HTML", "link_preview_options": {"is_disabled": true}});
        if let Some(t) = thread {
            extra["message_thread_id"] = json!(t);
        }
        if let Some(r) = reply_to {
            extra["reply_parameters"] =
                json!({"message_id": r, "allow_sending_without_reply": true});
        }
        Ok(self
            .tg
            .send_message(self.group(), text, extra)
            .await?
            .message_id)
    }

    pub(super) async fn notice(
        &self,
        dialog: i64,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<(), TgError> {
        self.in_topic(dialog, |t| async move {
            self.post(Some(t), text, reply_to).await
        })
        .await
        .map(|_| ())
    }

    /// Records a user ↔ group message link. Inside an outbox execution it is recorded
    /// with the intent's completion (one transaction: "sent" and "linked" commit
    /// together); elsewhere it is written at once.
    pub(super) async fn link(
        &self,
        dialog: i64,
        user_chat: i64,
        user_message: i64,
        group_message: i64,
        direction: Direction,
        kind: &str,
    ) -> Result<(), TgError> {
        let link = NewLink {
            dialog_id: dialog,
            user_chat_id: user_chat,
            user_message_id: user_message,
            group_chat_id: self.group(),
            group_message_id: group_message,
            direction,
            kind: kind.to_string(),
        };
        let deferred = PENDING_LINKS
            .try_with(|l| l.borrow_mut().push(link.clone()))
            .is_ok();
        if !deferred {
            self.store
                .insert_link(self.ctx.connection, &link, crate::store::now_ms())
                .await
                .map_err(store_err)?;
        }
        Ok(())
    }

    /// Executes one intent. `Ok` = done (including handled permanent failures).
    pub async fn execute(&self, intent_id: i64, intent: &Intent) -> Result<(), TgError> {
        match intent {
            Intent::CopyIn {
                dialog,
                ids,
                reply_to,
                kind,
                forward,
            } => {
                let ids = self.batch(intent_id, ids).await?;
                self.copy_in(*dialog, &ids, *reply_to, kind, *forward).await
            }
            Intent::CopyOut {
                dialog,
                ids,
                reply_to,
                kind,
            } => {
                let ids = self.batch(intent_id, ids).await?;
                self.copy_out(*dialog, &ids, *reply_to, kind).await
            }
            Intent::Card { dialog } => {
                let topic = self.topic(*dialog).await?;
                if !topic.created {
                    let params = self.ctx.params();
                    let card = render::user_card(
                        &topic.contact,
                        &params.hide_info,
                        self.ctx.label().as_deref(),
                    );
                    self.notice(*dialog, &card, None).await?;
                }
                Ok(())
            }
            Intent::Notice {
                dialog: Some(d),
                text,
                reply_to,
            } => self.notice(*d, text, *reply_to).await,
            Intent::Notice {
                dialog: None,
                text,
                reply_to,
            } => self.post(None, text, *reply_to).await.map(|_| ()),
            Intent::Say { dialog, text } => self.say(*dialog, text).await,
            Intent::Title { dialog } => self.sync_title(*dialog).await,
            Intent::TopicState { dialog } => self.sync_state(*dialog).await,
            Intent::EditIn {
                dialog,
                user_message,
                content,
            } => {
                let (_, contact) = self.load(*dialog).await?;
                let link = self
                    .store
                    .link_by_user_message(self.ctx.connection, contact.user_id, *user_message)
                    .await
                    .map_err(store_err)?;
                match link {
                    Some(l) => {
                        self.mirror_edit(
                            *dialog,
                            true,
                            *user_message,
                            l.link.group_message_id,
                            content,
                        )
                        .await
                    }
                    None => Ok(()), // never relayed (before activation, or filtered)
                }
            }
            Intent::EditOut {
                dialog,
                group_message,
                content,
            } => {
                let link = self
                    .store
                    .link_by_group_message(self.ctx.connection, self.group(), *group_message)
                    .await
                    .map_err(store_err)?;
                match link.filter(|l| l.link.direction == Direction::Outgoing) {
                    Some(l) => {
                        self.mirror_edit(
                            *dialog,
                            false,
                            *group_message,
                            l.link.user_message_id,
                            content,
                        )
                        .await
                    }
                    None => Ok(()), // a comment or command: nothing was sent
                }
            }
            Intent::Mirror { dialog, mirror } => {
                crate::gateway::mirror::execute(self, *dialog, mirror).await
            }
            Intent::Api { dialog, action } => {
                crate::api::send::execute(self, *dialog, action).await
            }
            Intent::SendIn {
                dialog,
                ids,
                items,
                reply_to,
                kind,
            } => {
                self.send_in(intent_id, *dialog, ids, items, *reply_to, kind)
                    .await
            }
            Intent::SendOut {
                dialog,
                name,
                items,
                forward,
            } => self.send_out(*dialog, name, items, forward.as_ref()).await,
            Intent::Direct {
                user,
                text,
                dialog,
                reply_to,
            } => self.direct(*user, text, *dialog, *reply_to).await,
            Intent::Broadcast { op } => crate::broadcast::execute(self, op).await,
        }
    }

    /// The message ids of an intent: given, or its album batch.
    pub(super) async fn batch(&self, intent_id: i64, ids: &[i64]) -> Result<Vec<i64>, TgError> {
        if !ids.is_empty() {
            return Ok(ids.to_vec());
        }
        self.store
            .album_batch(self.ctx.connection, intent_id)
            .await
            .map_err(store_err)
    }

    async fn copy_in(
        &self,
        dialog: i64,
        ids: &[i64],
        reply_to: Option<i64>,
        kind: &str,
        forward: bool,
    ) -> Result<(), TgError> {
        let (_, contact) = self.load(dialog).await?;
        let user = contact.user_id;
        if ids.is_empty() {
            return Ok(());
        }
        let result = self
            .in_topic(dialog, |thread| async move {
                let mut extra = json!({"message_thread_id": thread});
                if self.ctx.params().protect_content {
                    extra["protect_content"] = json!(true);
                }
                if ids.len() > 1 {
                    return self
                        .tg
                        .copy_messages(self.group(), user, ids, extra)
                        .await
                        .map(|r| r.into_iter().map(|m| m.message_id).collect::<Vec<_>>());
                }
                if let Some(r) = reply_to {
                    extra["reply_parameters"] =
                        json!({"message_id": r, "allow_sending_without_reply": true});
                }
                if forward {
                    return self
                        .tg
                        .forward_message(self.group(), user, ids[0], extra)
                        .await
                        .map(|m| vec![m.message_id]);
                }
                self.tg
                    .copy_message(self.group(), user, ids[0], extra)
                    .await
                    .map(|m| vec![m.message_id])
            })
            .await;
        match result {
            Ok((_, copies)) => {
                if copies.len() == ids.len() {
                    for (u, g) in ids.iter().zip(copies) {
                        self.link(dialog, user, *u, g, Direction::Incoming, kind)
                            .await?;
                    }
                } else {
                    // copyMessages skips what it cannot copy (a message the user deleted
                    // meanwhile) without saying which: tell both sides, never stay silent.
                    let missing = ids.len() - copies.len();
                    tracing::warn!(
                        dialog,
                        sent = ids.len(),
                        copied = copies.len(),
                        "Telegram skipped messages of a batch"
                    );
                    let text = format!(
                        "⚠️ {missing} of the user's last {} messages could not be copied \
                         (deleted by the user before delivery, or a kind Telegram cannot copy).",
                        ids.len()
                    );
                    self.notice(dialog, &text, None).await?;
                    if !self.ctx.params().silent_mode {
                        self.say(dialog, "⚠️ Sorry, one of your messages could not be delivered to the team. Please send it again.")
                            .await?;
                    }
                }
                Ok(())
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::warn!(dialog, error = %e, "a user message could not be copied into the topic");
                let what = if forward || !crate::domain::content::copyable(kind) {
                    format!("a {kind} message that Telegram cannot show here")
                } else {
                    format!("a {kind} message")
                };
                let text = format!(
                    "⚠️ The user sent {what}; it could not be copied: {}",
                    html(&e.to_string())
                );
                self.notice(dialog, &text, None).await?;
                if !self.ctx.params().silent_mode {
                    self.say(dialog, "⚠️ Sorry, your message could not be delivered to the team. Please try sending it another way.").await?;
                }
                Ok(())
            }
        }
    }

    async fn copy_out(
        &self,
        dialog: i64,
        ids: &[i64],
        reply_to: Option<i64>,
        kind: &str,
    ) -> Result<(), TgError> {
        let (_, contact) = self.load(dialog).await?;
        let user = contact.user_id;
        if ids.is_empty() {
            return Ok(());
        }
        let result = if ids.len() > 1 {
            self.tg
                .copy_messages(user, self.group(), ids, json!({}))
                .await
                .map(|r| r.into_iter().map(|m| m.message_id).collect::<Vec<_>>())
        } else {
            let mut extra = json!({});
            if let Some(r) = reply_to {
                extra["reply_parameters"] =
                    json!({"message_id": r, "allow_sending_without_reply": true});
            }
            self.tg
                .copy_message(user, self.group(), ids[0], extra)
                .await
                .map(|m| vec![m.message_id])
        };
        match result {
            Ok(copies) => {
                let pairs: Vec<(i64, i64)> =
                    ids.iter().copied().zip(copies.iter().copied()).collect();
                let mut tx = self.store.begin().await.map_err(store_err)?;
                self.ctx
                    .record(
                        &mut tx,
                        Event::OperatorMessagesDelivered {
                            dialog,
                            pairs: &pairs,
                        },
                    )
                    .await
                    .map_err(store_err)?;
                tx.commit().await.map_err(store_err)?;
                for (g, u) in ids.iter().zip(copies) {
                    self.link(dialog, user, u, *g, Direction::Outgoing, kind)
                        .await?;
                }
                if contact.blocked {
                    self.store
                        .set_contact_blocked(contact.id, false)
                        .await
                        .map_err(store_err)?;
                }
                let mark = json!([{"type": "emoji", "emoji": DELIVERED}]);
                if let Err(e) = self
                    .tg
                    .set_message_reaction(self.group(), ids[0], mark)
                    .await
                {
                    tracing::debug!(error = %e, "delivered mark not set");
                }
                Ok(())
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) if e.is_blocked() => {
                self.store
                    .set_contact_blocked(contact.id, true)
                    .await
                    .map_err(store_err)?;
                let text = "⛔ Not delivered: the user blocked the bot.";
                self.notice(dialog, text, Some(ids[0])).await
            }
            Err(e) => {
                let text = format!("⚠️ Not delivered: {}", html(&e.to_string()));
                self.notice(dialog, &text, Some(ids[0])).await
            }
        }
    }

    async fn say(&self, dialog: i64, text: &str) -> Result<(), TgError> {
        let (_, contact) = self.load(dialog).await?;
        match self
            .tg
            .send_message(contact.user_id, text, json!({"parse_mode": "HTML"}))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_retryable() => Err(e),
            Err(e) if e.is_blocked() => self
                .store
                .set_contact_blocked(contact.id, true)
                .await
                .map_err(store_err),
            Err(e) => {
                tracing::warn!(dialog, error = %e, "message to the user failed");
                Ok(())
            }
        }
    }

    async fn sync_title(&self, dialog: i64) -> Result<(), TgError> {
        let (d, c) = self.load(dialog).await?;
        let Some(thread) = d.thread_id else {
            return Ok(());
        };
        let mut extra = json!({"name": self.title(&d, &c).await?});
        if let Some(icon) = self.icons.for_status(d.status) {
            extra["icon_custom_emoji_id"] = json!(icon);
        }
        match self.tg.edit_forum_topic(self.group(), thread, extra).await {
            Err(e) if e.is_thread_not_found() => self
                .store
                .set_dialog_thread(d.id, None)
                .await
                .map_err(store_err),
            r => ok_unless(r, |e| e.is_topic_not_modified()).map(|_| ()),
        }
    }

    async fn sync_state(&self, dialog: i64) -> Result<(), TgError> {
        let (d, _) = self.load(dialog).await?;
        let Some(thread) = d.thread_id else {
            return Ok(());
        };
        let r = if d.status == DialogStatus::Closed {
            self.tg.close_forum_topic(self.group(), thread).await
        } else {
            self.tg.reopen_forum_topic(self.group(), thread).await
        };
        match r {
            Err(e) if e.is_thread_not_found() => self
                .store
                .set_dialog_thread(d.id, None)
                .await
                .map_err(store_err),
            r => ok_unless(r, |e| e.is_topic_not_modified()).map(|_| ()),
        }
    }

    /// Mirrors an edit: `inbound` = user → topic. `source`/`copy` are message ids in the
    /// editing side's chat and in the other side's chat.
    async fn mirror_edit(
        &self,
        dialog: i64,
        inbound: bool,
        source: i64,
        copy: i64,
        content: &Value,
    ) -> Result<(), TgError> {
        let (_, contact) = self.load(dialog).await?;
        let (chat, from_chat) = if inbound {
            (self.group(), contact.user_id)
        } else {
            (contact.user_id, self.group())
        };
        let r = if let Some(text) = content["text"].as_str() {
            let mut extra = json!({});
            if let Some(e) = content.get("entities") {
                extra["entities"] = e.clone();
            }
            self.tg.edit_message_text(chat, copy, text, extra).await
        } else if let Some(media) = input_media(content) {
            self.tg
                .edit_message_media(chat, copy, media, json!({}))
                .await
        } else {
            return Ok(());
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.is_retryable() => Err(e),
            Err(e) if e.is_not_modified() => Ok(()),
            Err(e) if e.is_thread_not_found() || e.is_blocked() => Ok(()),
            Err(e) => {
                // Telegram cannot edit it: post the new version as a reply marked as an edit.
                tracing::info!(dialog, error = %e, "edit not possible; posting it as a reply");
                let mut extra = json!({"reply_parameters": {"message_id": copy, "allow_sending_without_reply": true}});
                if inbound {
                    let thread = self.topic(dialog).await?.thread;
                    extra["message_thread_id"] = json!(thread);
                }
                if let Some(text) = content["text"].as_str() {
                    let (text, entities) = mark_edited(text, content.get("entities"));
                    extra["entities"] = entities;
                    self.tg
                        .send_message(chat, &text, extra)
                        .await
                        .map(|_| ())
                        .or_else(ignore_permanent)
                } else {
                    let caption = content["caption"].as_str().unwrap_or("");
                    let (caption, entities) = mark_edited(caption, content.get("caption_entities"));
                    extra["caption"] = json!(caption);
                    extra["caption_entities"] = entities;
                    self.tg
                        .copy_message(chat, from_chat, source, extra)
                        .await
                        .map(|_| ())
                        .or_else(ignore_permanent)
                }
            }
        }
    }
}

fn ignore_permanent(e: TgError) -> Result<(), TgError> {
    if e.is_retryable() {
        Err(e)
    } else {
        tracing::warn!(error = %e, "edit fallback failed");
        Ok(())
    }
}

/// Prefixes "✏️ " and shifts the entities by its UTF-16 length.
fn mark_edited(text: &str, entities: Option<&Value>) -> (String, Value) {
    const MARK: &str = "✏️ ";
    let shift = MARK.encode_utf16().count() as i64;
    let shifted: Vec<Value> = entities
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let mut e = e.clone();
            e["offset"] = json!(e["offset"].as_i64().unwrap_or(0) + shift);
            e
        })
        .collect();
    (format!("{MARK}{text}"), Value::Array(shifted))
}

/// Treats an error matching `benign` as success.
fn ok_unless(r: Result<bool, TgError>, benign: impl Fn(&TgError) -> bool) -> Result<bool, TgError> {
    match r {
        Err(e) if benign(&e) => Ok(true),
        r => r,
    }
}

tokio::task_local! {
    /// Links made while one intent executes, recorded when the outbox marks it done.
    static PENDING_LINKS: std::cell::RefCell<Vec<NewLink>>;
}

fn links_to_json(links: &[NewLink]) -> Value {
    Value::Array(
        links
            .iter()
            .map(|l| {
                json!([
                    l.dialog_id,
                    l.user_chat_id,
                    l.user_message_id,
                    l.group_chat_id,
                    l.group_message_id,
                    l.direction.as_str(),
                    l.kind
                ])
            })
            .collect(),
    )
}

fn links_from_json(v: &Value) -> Vec<NewLink> {
    v["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some(NewLink {
                dialog_id: l[0].as_i64()?,
                user_chat_id: l[1].as_i64()?,
                user_message_id: l[2].as_i64()?,
                group_chat_id: l[3].as_i64()?,
                group_message_id: l[4].as_i64()?,
                direction: Direction::parse(l[5].as_str()?).ok()?,
                kind: l[6].as_str()?.to_string(),
            })
        })
        .collect()
}

impl crate::outbox::Executor for Executor {
    type Action = Intent;

    async fn execute(
        &self,
        intent: &crate::outbox::Intent,
        action: Intent,
    ) -> Result<Value, TgError> {
        PENDING_LINKS
            .scope(std::cell::RefCell::new(Vec::new()), async {
                Executor::execute(self, intent.id.0, &action).await?;
                Ok(json!({"links": PENDING_LINKS.with(|l| links_to_json(&l.borrow()))}))
            })
            .await
    }

    async fn on_success(
        &self,
        tx: &mut Tx,
        _intent: &crate::outbox::Intent,
        result: &Value,
    ) -> Result<(), StoreError> {
        let now = crate::store::now_ms();
        for link in links_from_json(result) {
            tx.insert_link(self.ctx.connection, &link, now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edited_mark_shifts_entities() {
        let (t, e) = mark_edited(
            "hi there",
            Some(&json!([{"type": "bold", "offset": 3, "length": 5}])),
        );
        assert_eq!(t, "✏️ hi there");
        assert_eq!(e[0]["offset"], 6);
    }

    #[test]
    fn icons_picked_by_preference() {
        let stickers = json!([{"emoji": "🔥", "custom_emoji_id": "1"}, {"emoji": "✅", "custom_emoji_id": "2"}]);
        let icons = Icons::from_stickers(&stickers);
        assert_eq!(icons.for_status(DialogStatus::New), Some("1"));
        assert_eq!(icons.for_status(DialogStatus::Wait), None);
        assert_eq!(icons.for_status(DialogStatus::Closed), Some("2"));
    }
}
