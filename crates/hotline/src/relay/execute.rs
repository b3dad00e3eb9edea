//! Running the relay's actions: each becomes one or a few Bot API calls, resolved now (the
//! dialog's topic as it is at this moment, created first if missing). Known permanent
//! failures are handled here — a deleted topic is recreated, a blocked user is marked, an
//! undeliverable message gets a notice in its topic — and reported as done; only
//! retryable failures go back to the outbox. What was sent is linked, and the links (and
//! the delivery events) are recorded with the intent's completion.

use std::ops::Deref;
use std::sync::Arc;

use serde_json::{json, Value};

use super::actions::{CopyIn, CopyOut, EditIn, EditOut, SendIn};
use crate::domain::content::{copyable, input_media};
use crate::domain::events::Event;
use crate::domain::links::Links;
use crate::domain::render::html;
use crate::domain::resend::send_items;
use crate::domain::topics::{TopicError, Topics, DELIVERED};
use crate::outbox::{Execute, Registry};
use crate::store::{Direction, Intent, StoreError, Tx};
use crate::telegram::TgError;

/// Executes the relay's actions for one connection.
pub struct RelayExecutor(pub Topics);

impl Deref for RelayExecutor {
    type Target = Topics;

    fn deref(&self) -> &Topics {
        &self.0
    }
}

/// Registers the relay's actions with their executor.
pub fn register(registry: &mut Registry, topics: &Topics) {
    let ex = Arc::new(RelayExecutor(topics.clone()));
    registry
        .register::<CopyIn, _>(ex.clone())
        .register::<CopyOut, _>(ex.clone())
        .register::<EditIn, _>(ex.clone())
        .register::<EditOut, _>(ex.clone())
        .register::<SendIn, _>(ex);
}

/// An operator's messages reached the user: what to record with the completion.
pub struct Delivered {
    /// The dialog; with no links, the messages did not reach the user (see `undelivered`).
    dialog: i64,
    /// Nothing reached the user: the dialog must not stay 🟨 for it.
    undelivered: bool,
    links: Links,
    /// `(group message, user message)` pairs, for `message_sent`.
    pairs: Vec<(i64, i64)>,
    /// The contact, when it was marked blocked and evidently is not any more.
    unblocked: Option<i64>,
}

impl Delivered {
    fn nothing(dialog: i64) -> Self {
        Self {
            dialog,
            undelivered: true,
            links: Links::new(),
            pairs: Vec::new(),
            unblocked: None,
        }
    }
}

impl RelayExecutor {
    /// The message ids of an intent: given, or its album batch.
    async fn batch(&self, intent: &Intent, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        if !ids.is_empty() {
            return Ok(ids.to_vec());
        }
        self.store
            .album_batch(self.ctx.connection, intent.id.0)
            .await
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
    ) -> Result<(), TopicError> {
        let (d, contact) = self.load(dialog).await?;
        let group = self.ctx.group_of(&d);
        let (chat, from_chat) = if inbound {
            (group, contact.user_id)
        } else {
            (contact.user_id, group)
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
            Err(e) if e.is_retryable() => Err(e.into()),
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
                let sent = if let Some(text) = content["text"].as_str() {
                    let (text, entities) = mark_edited(text, content.get("entities"));
                    extra["entities"] = entities;
                    self.tg.send_message(chat, &text, extra).await.map(|_| ())
                } else {
                    let caption = content["caption"].as_str().unwrap_or("");
                    let (caption, entities) = mark_edited(caption, content.get("caption_entities"));
                    extra["caption"] = json!(caption);
                    extra["caption_entities"] = entities;
                    self.tg
                        .copy_message(chat, from_chat, source, extra)
                        .await
                        .map(|_| ())
                };
                Ok(sent.or_else(ignore_permanent)?)
            }
        }
    }
}

impl Execute<CopyIn> for RelayExecutor {
    type Done = Links;
    type Error = TopicError;

    async fn execute(&self, intent: &Intent, a: CopyIn) -> Result<Links, TopicError> {
        let ids = self.batch(intent, &a.ids).await?;
        let (dialog, kind, forward, reply_to) = (a.dialog, a.kind.as_str(), a.forward, a.reply_to);
        let (d, contact) = self.load(dialog).await?;
        let group = self.ctx.group_of(&d);
        let user = contact.user_id;
        let mut links = Links::new();
        if ids.is_empty() {
            return Ok(links);
        }
        let ids = &ids;
        let result = self
            .in_topic(dialog, |thread| async move {
                let mut extra = json!({"message_thread_id": thread});
                if self.ctx.with_params(|p| p.protect_content) {
                    extra["protect_content"] = json!(true);
                }
                if ids.len() > 1 {
                    return self
                        .tg
                        .copy_messages(group, user, ids, extra)
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
                        .forward_message(group, user, ids[0], extra)
                        .await
                        .map(|m| vec![m.message_id]);
                }
                self.tg
                    .copy_message(group, user, ids[0], extra)
                    .await
                    .map(|m| vec![m.message_id])
            })
            .await;
        match result {
            Ok((_, copies)) => {
                if copies.len() == ids.len() {
                    let pairs = ids.iter().copied().zip(copies);
                    links.add(dialog, user, group, Direction::Incoming, kind, pairs);
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
                    if !self.ctx.with_params(|p| p.silent_mode) {
                        self.say(dialog, "⚠️ Sorry, one of your messages could not be delivered to the team. Please send it again.")
                            .await?;
                    }
                }
                Ok(links)
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::warn!(dialog, error = %e, "a user message could not be copied into the topic");
                let what = if forward || !copyable(kind) {
                    format!("a {kind} message that Telegram cannot show here")
                } else {
                    format!("a {kind} message")
                };
                let text = format!(
                    "⚠️ The user sent {what}; it could not be copied: {}",
                    html(&e.to_string())
                );
                self.notice(dialog, &text, None).await?;
                if !self.ctx.with_params(|p| p.silent_mode) {
                    self.say(dialog, "⚠️ Sorry, your message could not be delivered to the team. Please try sending it another way.").await?;
                }
                Ok(links)
            }
        }
    }

    async fn complete(
        &self,
        tx: &mut Tx,
        _intent: &Intent,
        links: Links,
    ) -> Result<(), StoreError> {
        links.record(tx, self.ctx.connection).await
    }
}

impl Execute<CopyOut> for RelayExecutor {
    type Done = Option<Delivered>;
    type Error = TopicError;

    async fn execute(&self, intent: &Intent, a: CopyOut) -> Result<Option<Delivered>, TopicError> {
        let ids = self.batch(intent, &a.ids).await?;
        let dialog = a.dialog;
        let (d, contact) = self.load(dialog).await?;
        let group = self.ctx.group_of(&d);
        let user = contact.user_id;
        if ids.is_empty() {
            return Ok(None);
        }
        let result = if ids.len() > 1 {
            self.tg
                .copy_messages(user, group, &ids, json!({}))
                .await
                .map(|r| r.into_iter().map(|m| m.message_id).collect::<Vec<_>>())
        } else {
            let mut extra = json!({});
            if let Some(r) = a.reply_to {
                extra["reply_parameters"] =
                    json!({"message_id": r, "allow_sending_without_reply": true});
            }
            self.tg
                .copy_message(user, group, ids[0], extra)
                .await
                .map(|m| vec![m.message_id])
        };
        match result {
            Ok(copies) => {
                let pairs: Vec<(i64, i64)> = ids.iter().copied().zip(copies).collect();
                let mut links = Links::new();
                let user_group = pairs.iter().map(|(g, u)| (*u, *g));
                links.add(
                    dialog,
                    user,
                    group,
                    Direction::Outgoing,
                    &a.kind,
                    user_group,
                );
                let mark = json!([{"type": "emoji", "emoji": DELIVERED}]);
                if let Err(e) = self.tg.set_message_reaction(group, ids[0], mark).await {
                    tracing::debug!(error = %e, "delivered mark not set");
                }
                Ok(Some(Delivered {
                    dialog,
                    undelivered: false,
                    links,
                    pairs,
                    unblocked: contact.blocked.then_some(contact.id),
                }))
            }
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) if e.is_blocked() => {
                self.store.set_contact_blocked(contact.id, true).await?;
                let text = "⛔ Not delivered: the user blocked the bot.";
                self.notice(dialog, text, Some(ids[0])).await?;
                Ok(Some(Delivered::nothing(dialog)))
            }
            Err(e) => {
                let text = format!("⚠️ Not delivered: {}", html(&e.to_string()));
                self.notice(dialog, &text, Some(ids[0])).await?;
                Ok(Some(Delivered::nothing(dialog)))
            }
        }
    }

    async fn complete(
        &self,
        tx: &mut Tx,
        _intent: &Intent,
        done: Option<Delivered>,
    ) -> Result<(), StoreError> {
        let Some(d) = done else {
            return Ok(());
        };
        if d.undelivered {
            return self.ctx.not_delivered(tx, d.dialog).await;
        }
        let event = Event::OperatorMessagesDelivered {
            dialog: d.dialog,
            pairs: &d.pairs,
        };
        self.ctx.record(tx, event).await?;
        d.links.record(tx, self.ctx.connection).await?;
        if let Some(contact) = d.unblocked {
            tx.set_contact_blocked(contact, false).await?;
        }
        Ok(())
    }
}

impl Execute<EditIn> for RelayExecutor {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: EditIn) -> Result<(), TopicError> {
        let (_, contact) = self.load(a.dialog).await?;
        let link = self
            .store
            .link_by_user_message(self.ctx.connection, contact.user_id, a.user_message)
            .await?;
        match link {
            Some(l) => {
                let copy = l.link.group_message_id;
                self.mirror_edit(a.dialog, true, a.user_message, copy, &a.content)
                    .await
            }
            None => Ok(()), // never relayed (before activation, or filtered)
        }
    }
}

impl Execute<EditOut> for RelayExecutor {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: EditOut) -> Result<(), TopicError> {
        let link = self
            .store
            .link_by_group_message(
                self.ctx.connection,
                self.group_of(a.dialog).await?,
                a.group_message,
            )
            .await?;
        match link.filter(|l| l.link.direction == Direction::Outgoing) {
            Some(l) => {
                let copy = l.link.user_message_id;
                self.mirror_edit(a.dialog, false, a.group_message, copy, &a.content)
                    .await
            }
            None => Ok(()), // a comment or command: nothing was sent
        }
    }
}

impl Execute<SendIn> for RelayExecutor {
    type Done = Links;
    type Error = TopicError;

    async fn execute(&self, intent: &Intent, a: SendIn) -> Result<Links, TopicError> {
        let (dialog, kind, reply_to) = (a.dialog, a.kind.as_str(), a.reply_to);
        let (d, contact) = self.load(dialog).await?;
        let group = self.ctx.group_of(&d);
        let user = contact.user_id;
        let params = self.ctx.params();
        let mut links = Links::new();
        let (ids, items) = if a.ids.is_empty() {
            let ids = self.batch(intent, &[]).await?;
            let Some(first) = ids.first() else {
                return Ok(links);
            };
            let album = self
                .store
                .media_album(self.ctx.connection, user, *first, 0)
                .await?;
            let mut pairs = Vec::new();
            for (id, mut item) in album.into_iter().filter(|(id, _)| ids.contains(id)) {
                crate::domain::mask::mask_item(&mut item, &params.mask_patterns);
                pairs.push((id, item));
            }
            pairs.into_iter().unzip()
        } else {
            (a.ids, a.items)
        };
        if ids.is_empty() || ids.len() != items.len() {
            return Ok(links);
        }
        let protect = params.protect_content;
        let items = &items;
        let sent = self
            .in_topic(dialog, |thread| async move {
                let mut extra = json!({"message_thread_id": thread});
                if protect {
                    extra["protect_content"] = json!(true);
                }
                send_items(&self.tg, group, items, &extra, reply_to).await
            })
            .await;
        match sent {
            Ok((_, copies)) => {
                let pairs = ids.iter().copied().zip(copies);
                links.add(dialog, user, group, Direction::Incoming, kind, pairs);
                Ok(links)
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::warn!(dialog, error = %e, "masked user content could not be posted");
                let text = format!(
                    "⚠️ The user sent a {kind} message; it could not be shown here: {}",
                    html(&e.to_string())
                );
                self.notice(dialog, &text, None).await?;
                Ok(links)
            }
        }
    }

    async fn complete(
        &self,
        tx: &mut Tx,
        _intent: &Intent,
        links: Links,
    ) -> Result<(), StoreError> {
        links.record(tx, self.ctx.connection).await
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
}
