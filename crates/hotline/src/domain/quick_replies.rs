//! Sending a quick reply in a dialog (`/say NAME`, a tag that sends one, the API): the
//! user gets the stored content by file id (or a forward of the original), the topic shows
//! the same content, linked so replies and edits work, and the dialog turns 🟨 like after
//! any answer.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::events::Event;
use super::links::Links;
use super::render::html;
use super::resend::{forward_ids, kind_of, send_items};
use super::topics::{TopicError, Topics, DELIVERED};
use super::Context;
use crate::outbox::{Action, Execute};
use crate::store::{Dialog, Direction, Intent, StoreError, Tx};

/// Send a quick reply to the user and show it in the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOut {
    /// Dialog id.
    pub dialog: i64,
    /// The quick reply's name (for notices).
    pub name: String,
    /// Items to send by file id (resolved when decided, so a later `/say del` or a
    /// deleted original does not matter).
    pub items: Vec<Value>,
    /// Forward these `(chat, message ids)` instead (`/say NAME fwd`).
    pub forward: Option<(i64, Vec<i64>)>,
}

impl Action for SendOut {
    const KIND: &'static str = "send_out";
}

impl Context {
    /// Sends quick reply `name` in the dialog as an operator's answer (the dialog turns
    /// 🟨); false when there is no such quick reply.
    pub async fn send_quick_reply(
        &self,
        tx: &mut Tx,
        dialog: &Dialog,
        name: &str,
        forward: bool,
        by: Option<i64>,
    ) -> Result<bool, StoreError> {
        let Some(q) = tx.quick_reply(self.connection, name).await? else {
            return Ok(false);
        };
        let action = SendOut {
            dialog: dialog.id,
            name: q.name.clone(),
            items: q.items.as_array().cloned().unwrap_or_default(),
            forward: forward.then(|| (q.source_chat, q.source_ids.clone())),
        };
        self.to_user_of(tx, dialog.id, &action).await?;
        self.record(
            tx,
            Event::QuickReplySent {
                dialog: dialog.id,
                operator: by,
                items: &action.items,
            },
        )
        .await?;
        self.answered(tx, dialog, crate::store::now_ms()).await?;
        Ok(true)
    }
}

impl Execute<SendOut> for Topics {
    /// The links, or `Err(dialog)` when nothing reached the user.
    type Done = Result<Links, i64>;
    type Error = TopicError;

    async fn execute(
        &self,
        _intent: &Intent,
        a: SendOut,
    ) -> Result<Result<Links, i64>, TopicError> {
        let (dialog, name, items) = (a.dialog, &a.name, &a.items);
        let forward = a.forward.as_ref();
        let (d, contact) = self.load(dialog).await?;
        let user = contact.user_id;
        let group = self.ctx.group_of(&d);
        let to_user = match forward {
            Some((chat, ids)) => forward_ids(&self.tg, user, *chat, ids, json!({})).await,
            None => send_items(&self.tg, user, items, &json!({}), None).await,
        };
        let user_ids = match to_user {
            Ok(ids) => ids,
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) if e.is_blocked() => {
                self.store.set_contact_blocked(contact.id, true).await?;
                let text = format!(
                    "⛔ Quick reply <b>{}</b> not delivered: the user blocked the bot.",
                    html(name)
                );
                self.notice(dialog, &text, None).await?;
                return Ok(Err(dialog));
            }
            Err(e) => {
                let why = if forward.is_some() {
                    format!("{e} (was the original deleted? /say {name} sends a copy)")
                } else {
                    e.to_string()
                };
                let text = format!(
                    "⚠️ Quick reply <b>{}</b> not delivered: {}",
                    html(name),
                    html(&why)
                );
                self.notice(dialog, &text, None).await?;
                return Ok(Err(dialog));
            }
        };
        // The user has it: never retry from here on, or they would get it twice.
        let shown = self
            .in_topic(dialog, |thread| async move {
                let extra = json!({"message_thread_id": thread});
                match forward {
                    Some((chat, ids)) => forward_ids(&self.tg, group, *chat, ids, extra).await,
                    None => send_items(&self.tg, group, items, &extra, None).await,
                }
            })
            .await;
        let mut links = Links::new();
        match shown {
            Ok((_, group_ids)) => {
                let pairs = user_ids.iter().copied().zip(group_ids.iter().copied());
                links.add(
                    dialog,
                    user,
                    group,
                    Direction::Outgoing,
                    &kind_of(items),
                    pairs,
                );
                if let Some(g) = group_ids.first() {
                    let mark = json!([{"type": "emoji", "emoji": DELIVERED}]);
                    if let Err(e) = self.tg.set_message_reaction(group, *g, mark).await {
                        tracing::debug!(error = %e, "delivered mark not set");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dialog, error = %e, "quick reply sent but not shown in the topic");
            }
        }
        Ok(Ok(links))
    }

    async fn complete(
        &self,
        tx: &mut Tx,
        _intent: &Intent,
        done: Result<Links, i64>,
    ) -> Result<(), StoreError> {
        match done {
            Ok(links) => links.record(tx, self.ctx.connection).await,
            Err(dialog) => self.ctx.not_delivered(tx, dialog).await,
        }
    }
}
