//! The core: users ↔ topics. `Relay::handle` decides what one update means and
//! records it — contact, dialog, status, links, and outbox intents — in the caller's
//! transaction; [`execute`] later turns intents into Bot API calls.
//!
//! - `incoming`: a user writes to the bot (filters, first contact, reopen, albums);
//! - `operator`: someone writes in a dialog topic (comments, REPLY_ONLY, commands);
//! - `edits`: edits both ways;
//! - `execute`: running intents (topic creation on demand, deleted topics, blocked users);
//! - `render`, `content`: wording and message reading.

pub mod autoclose;
pub mod content;
mod edits;
pub mod execute;
mod incoming;
pub mod intent;
mod operator;
pub mod privacy;
pub mod render;
pub mod resend;

use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::config::Params;
use crate::outbox::{Lane, NewIntent};
use crate::store::{now_ms, ConnectionId, StoreError, Tx};
pub use intent::Intent;

/// Why an update could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database failed: the update stays unprocessed and is retried.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bot as Telegram describes it (getMe).
#[derive(Debug, Clone)]
pub struct BotIdentity {
    /// User id of the bot.
    pub id: i64,
    /// Username without `@`.
    pub username: String,
}

/// One connection's relay: everything a decision needs.
#[derive(Clone)]
pub struct Relay {
    /// Store id of the connection.
    pub connection: ConnectionId,
    /// Connection name (shown on cards when several bots share a group).
    pub name: String,
    /// The backend group.
    pub group_id: i64,
    /// The bot.
    pub bot: BotIdentity,
    /// Live parameters (changed by `/set` without a restart).
    pub params: Arc<RwLock<Params>>,
    /// The config file's values, which `/set NAME default` restores.
    pub defaults: Arc<Params>,
    /// Whether other connections share this group (cards and titles then name the bot).
    pub shared_group: bool,
    /// The connection's time zone (`/send at ...`, segment dates, `/stats` days).
    pub time_zone: crate::config::TimeZone,
}

impl Relay {
    /// A snapshot of the parameters for one decision.
    pub fn params(&self) -> Params {
        self.params
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The label that tells connections apart in a shared group.
    pub fn label(&self) -> Option<String> {
        self.shared_group.then(|| format!("@{}", self.bot.username))
    }

    /// Records an intent in the decision's transaction; returns its id. Intents for the
    /// user go to their private chat's queue, the rest to the dialog's queue in the group.
    pub(crate) async fn push(
        &self,
        tx: &mut Tx,
        intent: Intent,
        delay_ms: i64,
    ) -> Result<i64, RelayError> {
        let (lane, target) = if let Intent::Direct { user, .. } = &intent {
            (Lane::Reply, *user)
        } else if intent.to_user() {
            (Lane::Reply, self.user_chat_of(tx, &intent).await?)
        } else {
            (Lane::Group, self.group_id)
        };
        let action = serde_json::to_value(&intent).expect("intents serialise");
        let now = now_ms();
        let mut new =
            NewIntent::raw(target, lane, action).with_fairness_key(intent.dialog().unwrap_or(0));
        if delay_ms > 0 {
            new = new.not_before(now + delay_ms);
        }
        Ok(tx.enqueue(self.connection, &new, now).await?.0)
    }

    async fn user_chat_of(&self, tx: &mut Tx, intent: &Intent) -> Result<i64, RelayError> {
        let Some(dialog) = intent.dialog() else {
            return Ok(0);
        };
        let Some(d) = tx.dialog(dialog).await? else {
            return Ok(0);
        };
        Ok(tx
            .contact(d.contact_id)
            .await?
            .map(|c| c.user_id)
            .unwrap_or(0))
    }

    /// Decides what an update means. Unknown or malformed updates are ignored (logged),
    /// never fatal; only store failures are errors (the update is then retried).
    pub async fn handle(&self, tx: &mut Tx, update: &Value) -> Result<(), RelayError> {
        if let Some(msg) = update.get("message") {
            return self.on_message(tx, msg).await;
        }
        if let Some(msg) = update.get("edited_message") {
            return self.on_edit(tx, msg).await;
        }
        if let Some(m) = update.get("my_chat_member") {
            return self.on_my_chat_member(tx, m).await;
        }
        if let Some(m) = update.get("chat_member") {
            return crate::commands::roles::on_chat_member(self, tx, m).await;
        }
        if let Some(q) = update.get("callback_query") {
            return crate::broadcast::on_callback(self, tx, q).await;
        }
        Ok(())
    }

    async fn on_message(&self, tx: &mut Tx, msg: &Value) -> Result<(), RelayError> {
        match (msg["chat"]["type"].as_str(), msg["chat"]["id"].as_i64()) {
            (Some("private"), _) => self.user_message(tx, msg).await,
            (_, Some(chat)) if chat == self.group_id => self.group_message(tx, msg).await,
            _ => Ok(()),
        }
    }

    async fn on_edit(&self, tx: &mut Tx, msg: &Value) -> Result<(), RelayError> {
        match (msg["chat"]["type"].as_str(), msg["chat"]["id"].as_i64()) {
            (Some("private"), _) => self.user_edit(tx, msg).await,
            (_, Some(chat)) if chat == self.group_id => self.operator_edit(tx, msg).await,
            _ => Ok(()),
        }
    }

    /// The user blocked or unblocked the bot.
    async fn on_my_chat_member(&self, tx: &mut Tx, m: &Value) -> Result<(), RelayError> {
        if m["chat"]["type"] != "private" {
            return Ok(());
        }
        let Some(user) = m["chat"]["id"].as_i64() else {
            return Ok(());
        };
        let Some(contact) = tx.contact_by_user(self.connection, user).await? else {
            return Ok(());
        };
        let blocked = m["new_chat_member"]["status"] == "kicked";
        if blocked == contact.blocked {
            return Ok(());
        }
        tx.set_contact_blocked(contact.id, blocked).await?;
        if let Some(d) = tx.dialog_for_contact(self.connection, contact.id).await? {
            if blocked {
                let text = format!(
                    "⛔ {} blocked the bot. Messages to them will not be delivered.",
                    render::html(&render::shown_name(&contact, &self.params().hide_info))
                );
                self.push(
                    tx,
                    Intent::Notice {
                        dialog: Some(d.id),
                        text,
                        reply_to: None,
                    },
                    0,
                )
                .await?;
            }
        }
        Ok(())
    }
}
