//! The dialog model every feature decides with.
//!
//! - [`Context`]: one connection as decisions see it (ids, group, bot, live parameters,
//!   the subscribers of its events);
//! - [`dialogs`]: typed operations on a dialog (open, reopen, close, hold, wait, answer,
//!   tag, untag, ban, quick replies). Each changes its rows, hands its [`events`] to the
//!   one recorder and its topic intents to the outbox, all in the caller's transaction;
//! - [`events`]: what happened, and the [`events::Subscriber`]s that record it (the
//!   dialog [`history`], analytics, webhook deliveries) in the deciding transaction;
//! - [`topics`]: the topic of a dialog when intents run (created on demand, recreated when
//!   deleted) and the topic actions operations queue (title, state, card, notices);
//!   [`quick_replies`]: sending a stored answer; [`links`]: recording which copy is whose;
//! - [`content`], [`render`], [`resend`], [`views`]: reading Telegram messages, wording for
//!   the team, sending content again by file id, the JSON shape of contacts and dialogs;
//!   [`roles`]: who may run admin commands.
//!
//! Decisions never call Telegram: they write rows and outbox intents. The executors of
//! the topic actions (in [`topics`]) run later, in the outbox.

pub mod content;
pub mod dialogs;
pub mod events;
pub mod handover;
pub mod history;
pub mod links;
pub mod mask;
pub mod quick_replies;
pub mod recap;
pub mod render;
pub mod resend;
pub mod roles;
pub mod slash;
pub mod topics;
pub mod views;

use std::sync::{Arc, RwLock};

use crate::config::{Params, TimeZone};
use crate::outbox::{Action, IntentId, Lane, NewIntent};
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
    /// The backend group (primary: General notices, reports, broadcasts).
    pub group_id: i64,
    /// More backend groups for topics when the primary's budget is short
    /// (`overflow_groups`); new dialogs are spread over all of them.
    pub overflow_groups: Arc<[i64]>,
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
    /// Where this connection's outgoing webhooks may go (the server's SSRF policy).
    pub webhook_targets: Arc<crate::config::WebhookTargets>,
    /// How long a rotated-out webhook signing secret still signs.
    pub webhook_secret_grace: std::time::Duration,
    /// Where the parallel bot is paused (the handover), read by the gateway.
    pub pauses: Arc<handover::Pauses>,
    /// Whether a bot takes its updates through the gateway (it polled or set a webhook
    /// there): Hotline's built-in greetings are then not sent (the bot greets itself).
    pub gateway_used: Arc<std::sync::atomic::AtomicBool>,
}

impl Context {
    /// Whether the parallel bot uses this connection through the gateway.
    pub fn gateway_in_use(&self) -> bool {
        self.gateway_used.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes that the parallel bot takes its updates through the gateway.
    pub fn mark_gateway_in_use(&self) {
        self.gateway_used
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The contact a command names: a Telegram user id, or a username with or without `@`
    /// (`/new`, `/admit`).
    pub async fn named_contact(
        &self,
        tx: &mut Tx,
        arg: &str,
    ) -> Result<Option<crate::store::Contact>, StoreError> {
        match arg.parse::<i64>() {
            Ok(id) => tx.contact_by_user(self.connection, id).await,
            Err(_) => {
                tx.contact_by_username(self.connection, arg.trim_start_matches('@'))
                    .await
            }
        }
    }
}

impl Context {
    /// Whether `chat` is one of the connection's backend groups.
    pub fn is_group(&self, chat: i64) -> bool {
        chat == self.group_id || self.overflow_groups.contains(&chat)
    }

    /// The group a dialog's topic lives in.
    pub fn group_of(&self, dialog: &crate::store::Dialog) -> i64 {
        dialog.group_id.unwrap_or(self.group_id)
    }

    /// The group of the dialog with id `dialog` (the primary when it is gone).
    pub async fn group_of_id(&self, tx: &mut Tx, dialog: i64) -> Result<i64, StoreError> {
        if self.overflow_groups.is_empty() {
            return Ok(self.group_id);
        }
        Ok(tx
            .dialog(dialog)
            .await?
            .map_or(self.group_id, |d| self.group_of(&d)))
    }

    /// Where a new dialog goes: the group with the least group work waiting (its budget
    /// furthest from used up), the primary first on a tie. `None` = the primary.
    pub async fn choose_group(&self, tx: &mut Tx) -> Result<Option<i64>, StoreError> {
        if self.overflow_groups.is_empty() {
            return Ok(None);
        }
        let mut best = (
            tx.outbox_group_backlog(self.connection, self.group_id)
                .await?,
            None,
        );
        for g in self.overflow_groups.iter() {
            let backlog = tx.outbox_group_backlog(self.connection, *g).await?;
            if backlog < best.0 {
                best = (backlog, Some(*g));
            }
        }
        Ok(best.1)
    }

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

    /// Re-reads the stored parameter overrides over the config file's values (another
    /// instance changed one with `/set` or the API). Invalid stored values are skipped, as
    /// at start.
    pub async fn reload_params(&self, store: &crate::store::Store) -> Result<(), StoreError> {
        let mut params = (*self.defaults).clone();
        let overrides = store.param_overrides(self.connection).await?;
        for e in crate::config::apply_overrides(&mut params, &overrides) {
            tracing::warn!(error = %e, "a stored parameter is invalid and was ignored");
        }
        *self.params.write().unwrap_or_else(|e| e.into_inner()) = params;
        Ok(())
    }

    /// Keeps the parameters equal to the stored ones until `shutdown`: reloads them when
    /// another instance on the same PostgreSQL database changed one (see
    /// `Store::params_notify`).
    pub async fn follow_params(
        self,
        store: crate::store::Store,
        mut shutdown: crate::shutdown::Shutdown,
    ) {
        let changed = store.params_notify(self.connection);
        loop {
            tokio::select! {
                _ = shutdown.recv() => return,
                _ = changed.notified() => {}
            }
            if let Err(e) = self.reload_params(&store).await {
                tracing::warn!(error = %e, "reloading the parameters failed; retrying");
                changed.notify_one();
                tokio::select! {
                    _ = shutdown.recv() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }
    }

    /// The label that tells connections apart in a shared group.
    pub fn label(&self) -> Option<String> {
        self.shared_group.then(|| format!("@{}", self.bot.username))
    }

    /// Queues `action` in the group: in the dialog's queue, or General's when `dialog`
    /// is None. Returns the intent's id.
    pub async fn to_group<A: Action>(
        &self,
        tx: &mut Tx,
        dialog: Option<i64>,
        action: &A,
    ) -> Result<IntentId, StoreError> {
        let group = match dialog {
            Some(d) => self.group_of_id(tx, d).await?,
            None => self.group_id,
        };
        let intent = action
            .to(group, Lane::Group)
            .with_fairness_key(dialog.unwrap_or(0));
        self.enqueue(tx, intent, 0).await
    }

    /// Queues `action` in the private chat of `user` (a team member, or a dialog's user),
    /// in the reply lane; `dialog` keeps its own sub-queue.
    pub async fn to_user<A: Action>(
        &self,
        tx: &mut Tx,
        user: i64,
        dialog: Option<i64>,
        action: &A,
    ) -> Result<IntentId, StoreError> {
        let intent = action
            .to(user, Lane::Reply)
            .with_fairness_key(dialog.unwrap_or(0));
        self.enqueue(tx, intent, 0).await
    }

    /// [`Context::to_user`] for the user of `dialog`.
    pub async fn to_user_of<A: Action>(
        &self,
        tx: &mut Tx,
        dialog: i64,
        action: &A,
    ) -> Result<IntentId, StoreError> {
        let user = self.user_of(tx, dialog).await?;
        self.to_user(tx, user, Some(dialog), action).await
    }

    /// The Telegram user id of a dialog's contact (0 when it is gone).
    pub async fn user_of(&self, tx: &mut Tx, dialog: i64) -> Result<i64, StoreError> {
        Ok(match tx.dialog(dialog).await? {
            Some(d) => tx.contact(d.contact_id).await?.map_or(0, |c| c.user_id),
            None => 0,
        })
    }

    /// Queues an intent, not before `delay_ms` from now when positive.
    pub async fn enqueue(
        &self,
        tx: &mut Tx,
        mut intent: NewIntent,
        delay_ms: i64,
    ) -> Result<IntentId, StoreError> {
        let now = now_ms();
        if delay_ms > 0 {
            intent = intent.not_before(now + delay_ms);
        }
        tx.enqueue(self.connection, &intent, now).await
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
        let notice = topics::Notice {
            dialog,
            text,
            reply_to,
        };
        self.to_group(tx, dialog, &notice).await?;
        Ok(())
    }
}
