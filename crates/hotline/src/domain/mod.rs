//! The dialog model every feature decides with.
//!
//! - [`Context`]: one connection as decisions see it (ids, group, bot, live parameters,
//!   the subscribers of its events);
//! - [`dialogs`]: typed operations on a dialog (open, reopen, close, hold, wait, answer,
//!   tag, untag, ban, quick replies). Each changes its rows, hands its [`events`] to the
//!   one recorder and its topic intents to the outbox, all in the caller's transaction;
//! - [`events`]: what happened, and the [`events::Subscriber`]s that record it (the
//!   dialog [`history`], analytics, webhook deliveries) in the deciding transaction;
//! - [`content`], [`render`], [`views`]: reading Telegram messages, wording for the team,
//!   the JSON shape of contacts and dialogs; [`roles`]: who may run admin commands.
//!
//! Nothing here calls Telegram: decisions only write rows and outbox intents.

pub mod content;
pub mod dialogs;
pub mod events;
pub mod history;
pub mod render;
pub mod roles;
pub mod views;

use std::sync::{Arc, RwLock};

use crate::config::{Params, TimeZone};
use crate::outbox::{Lane, NewIntent};
use crate::relay::Intent;
use crate::store::{now_ms, ConnectionId, StoreError, Tx};
pub use events::{Event, Subscriber, Subscribers};

/// The bot as Telegram describes it (getMe).
#[derive(Debug, Clone)]
pub struct BotIdentity {
    /// User id of the bot.
    pub id: i64,
    /// Username without `@`.
    pub username: String,
}

/// One connection as its decisions see it. Cheap to clone (the live parameters and the
/// subscribers are shared).
#[derive(Clone)]
pub struct Context {
    /// Store id of the connection.
    pub connection: ConnectionId,
    /// Connection name (shown on cards when several bots share a group).
    pub name: String,
    /// The backend group.
    pub group_id: i64,
    /// The bot.
    pub bot: BotIdentity,
    /// Live parameters (changed by `/set` and the API without a restart).
    pub params: Arc<RwLock<Params>>,
    /// The config file's values, which `/set NAME default` restores.
    pub defaults: Arc<Params>,
    /// Whether other connections share this group (cards and titles then name the bot).
    pub shared_group: bool,
    /// The connection's time zone (`/send at ...`, segment dates, `/stats` days).
    pub time_zone: TimeZone,
    /// Who records this connection's events.
    pub subscribers: Subscribers,
}

impl Context {
    /// A snapshot of the parameters for one decision.
    pub fn params(&self) -> Params {
        self.params
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the live parameters in place (for hot paths that need one field).
    pub fn with_params<T>(&self, f: impl FnOnce(&Params) -> T) -> T {
        f(&self.params.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The label that tells connections apart in a shared group.
    pub fn label(&self) -> Option<String> {
        self.shared_group.then(|| format!("@{}", self.bot.username))
    }

    /// Records an intent in the decision's transaction; returns its id. Intents for the
    /// user go to their private chat's queue, the rest to the dialog's queue in the group.
    pub async fn push(
        &self,
        tx: &mut Tx,
        intent: Intent,
        delay_ms: i64,
    ) -> Result<i64, StoreError> {
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

    async fn user_chat_of(&self, tx: &mut Tx, intent: &Intent) -> Result<i64, StoreError> {
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

    /// Posts an HTML notice in a dialog's topic (General when `dialog` is None), replying
    /// to `reply_to`: how commands and operations answer the team.
    pub async fn notice(
        &self,
        tx: &mut Tx,
        dialog: Option<i64>,
        reply_to: Option<i64>,
        text: String,
    ) -> Result<(), StoreError> {
        let intent = Intent::Notice {
            dialog,
            text,
            reply_to,
        };
        self.push(tx, intent, 0).await?;
        Ok(())
    }
}
