//! Keeping a dialog's topic in shape, and the topic actions every feature queues.
//!
//! [`Topics`] is one connection's access to its forum topics when intents run: the topic
//! of a dialog is read at that moment, created (with the user card) when missing, and
//! replaced once when Telegram answers "message thread not found" ([`Topics::in_topic`]):
//! a probe tells a deleted topic from one that broke while it exists (Telegram no longer
//! lets the bot post there, people still do). The new topic says which it was, links a
//! broken predecessor (which stays routed to the dialog) and recaps the last messages.
//! Features' executors run their calls inside it.
//!
//! The actions here ([`Card`], [`Notice`], [`Say`], [`Title`], [`TopicState`],
//! [`Direct`]) are what dialog operations and commands queue to tell the team or the user
//! something; [`Topics`] executes them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::render::{self, html};
use super::Context;
use crate::outbox::{Action, Classify, Execute, Failure, Registry};
use crate::store::{now_ms, Contact, Dialog, DialogStatus, Intent, Store, StoreError};
use crate::telegram::{Client, TgError};

/// Preferred topic icons per status, first available wins (from getForumTopicIconStickers).
const ICON_PREFERENCES: &[(DialogStatus, &[&str])] = &[
    (DialogStatus::New, &["❗️", "❗", "🔥", "❓"]),
    (DialogStatus::Wait, &["💬", "📝", "⏳"]),
    (DialogStatus::Closed, &["✅", "☑️"]),
];

/// How many of a dialog's last messages open the topic that replaces a lost one.
const TOPIC_RECAP: i64 = 10;

/// Longest text shown per recapped message.
const RECAP_LINE_MAX: usize = 300;

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

/// Why work in a topic failed.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// Telegram refused or did not answer.
    #[error(transparent)]
    Telegram(#[from] TgError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The dialog no longer exists.
    #[error("dialog {0} is gone")]
    Gone(i64),
}

impl Classify for TopicError {
    fn failure(&self) -> Failure {
        match self {
            TopicError::Telegram(e) => e.failure(),
            TopicError::Store(e) => e.failure(),
            TopicError::Gone(_) => Failure::Permanent,
        }
    }
}

impl TopicError {
    /// Whether retrying may help (not a permanent Telegram refusal, not gone).
    pub fn is_retryable(&self) -> bool {
        !matches!(self.failure(), Failure::Permanent)
    }
}

/// One connection's forum topics, as intents see them when they run.
#[derive(Clone)]
pub struct Topics {
    /// The connection.
    pub ctx: Context,
    /// The database.
    pub store: Store,
    /// The Bot API client.
    pub tg: Client,
    /// Status icons.
    pub icons: Icons,
}

/// A dialog's topic at the moment an intent runs.
pub struct Topic {
    /// The dialog's contact.
    pub contact: Contact,
    /// The group it lives in (the dialog's: primary or overflow).
    pub chat: i64,
    /// The topic's thread id.
    pub thread: i64,
    /// Created by this call (card already posted).
    pub created: bool,
}

impl Topics {
    /// The primary backend group (General notices).
    pub fn group(&self) -> i64 {
        self.ctx.group_id
    }

    /// The group the dialog's topic lives in.
    pub async fn group_of(&self, dialog: i64) -> Result<i64, TopicError> {
        if self.ctx.overflow_groups.is_empty() {
            return Ok(self.ctx.group_id);
        }
        let (d, _) = self.load(dialog).await?;
        Ok(self.ctx.group_of(&d))
    }

    /// A dialog and its contact; [`TopicError::Gone`] when the dialog was deleted.
    pub async fn load(&self, dialog: i64) -> Result<(Dialog, Contact), TopicError> {
        self.store
            .dialog_with_contact(dialog)
            .await?
            .ok_or(TopicError::Gone(dialog))
    }

    async fn title(&self, d: &Dialog, c: &Contact) -> Result<String, TopicError> {
        let params = self.ctx.params();
        let mut tickers = self.store.contact_tickers(c.id).await?;
        if self.ctx.pauses.is_paused(c.user_id) {
            // The handover: the parallel bot is paused for this user.
            tickers.insert(0, "⏸".to_string());
        }
        let owner = self.owner_name(d).await?;
        Ok(render::topic_title(
            d.status,
            c,
            &tickers,
            &params.hide_info,
            self.ctx.label().as_deref(),
            owner.as_deref(),
        ))
    }

    /// The name of the dialog's owner, if it has one (the id when the name is unknown).
    async fn owner_name(&self, d: &Dialog) -> Result<Option<String>, TopicError> {
        let Some(a) = d.assignee else {
            return Ok(None);
        };
        let name = self.store.operator(self.ctx.connection, a).await?;
        Ok(Some(name.map_or_else(|| a.to_string(), |o| o.name)))
    }

    /// The user card as the group sees it, with the dialog's owner.
    async fn card(&self, d: &Dialog, c: &Contact) -> Result<String, TopicError> {
        let params = self.ctx.params();
        let mut card = render::user_card(c, &params.hide_info, self.ctx.label().as_deref());
        if let Some(owner) = self.owner_name(d).await? {
            card.push('\n');
            card.push_str(&render::owner_line(&owner));
        }
        if !self.ctx.overflow_groups.is_empty() {
            // Which of the connection's groups the dialog lives in (`overflow_groups`).
            let group = self.ctx.group_of(d);
            let n = self.ctx.overflow_groups.len() + 1;
            let i = self
                .ctx
                .overflow_groups
                .iter()
                .position(|g| *g == group)
                .map_or(1, |p| p + 2);
            card.push_str(&format!("\n🗂 Group {i} of {n} (<code>{group}</code>)"));
        }
        Ok(card)
    }

    /// The dialog's topic, created (with its card) when it has none.
    pub async fn topic(&self, dialog: i64) -> Result<Topic, TopicError> {
        let (d, c) = self.load(dialog).await?;
        let group = self.ctx.group_of(&d);
        if let Some(thread) = d.thread_id {
            return Ok(Topic {
                contact: c,
                chat: group,
                thread,
                created: false,
            });
        }
        // The topic this dialog had before, if any (it was deleted or broke).
        let key = format!("topic_of:{}", d.id);
        let previous = self.store.kv_get(self.ctx.connection, &key).await?;
        let mut extra = json!({});
        if let Some(icon) = self.icons.for_status(d.status) {
            extra["icon_custom_emoji_id"] = json!(icon);
        }
        let topic = self
            .tg
            .create_forum_topic(group, &self.title(&d, &c).await?, extra)
            .await?;
        let thread = topic.message_thread_id;
        self.store.set_dialog_thread(d.id, Some(thread)).await?;
        self.store
            .kv_set(self.ctx.connection, &key, &thread.to_string())
            .await?;
        let params = self.ctx.params();
        if params.auto_info && !params.hide_info.card {
            self.post_in(group, Some(thread), &self.card(&d, &c).await?, None)
                .await?;
        }
        if let Some(previous) = previous {
            let old = previous.parse::<i64>().ok();
            let broken = match old {
                Some(old) => {
                    self.store
                        .is_previous_topic(self.ctx.connection, old)
                        .await?
                }
                None => false,
            };
            let note = match old.filter(|_| broken) {
                Some(old) => format!(
                    "♻️ Telegram no longer lets the bot post in the <a href=\"{}\">previous topic</a> \
                     of this dialog; the conversation continues here. What you write there still reaches the user.",
                    render::topic_link(group, old)
                ),
                None => "♻️ The previous topic of this dialog was deleted; the conversation continues here."
                    .to_string(),
            };
            self.post_in(group, Some(thread), &note, None).await?;
            self.post_recap(group, thread, d.id, c.user_id).await?;
        }
        if d.status == DialogStatus::Closed {
            ok_unless(self.tg.close_forum_topic(group, thread).await, |e| {
                e.is_topic_not_modified()
            })?;
        }
        Ok(Topic {
            contact: c,
            chat: group,
            thread,
            created: true,
        })
    }

    /// Posts the last messages of the dialog into the topic that replaces a lost one, so
    /// operators there see what led to it. A user's message that never reached the old topic
    /// (no link yet: typically the one whose copy found the topic gone) is left out, since
    /// it is copied into the new topic right after the recap.
    async fn post_recap(
        &self,
        group: i64,
        thread: i64,
        dialog: i64,
        user: i64,
    ) -> Result<(), TopicError> {
        let mut lines = Vec::new();
        for l in self.store.dialog_history_tail(dialog, TOPIC_RECAP).await? {
            if let (Some(m), "incoming") = (l.user_message_id, l.direction.as_str()) {
                let copied = self
                    .store
                    .link_by_user_message(self.ctx.connection, user, m)
                    .await?
                    .is_some();
                if !copied {
                    continue;
                }
            }
            lines.push(l);
        }
        if lines.is_empty() {
            return Ok(());
        }
        let mask = self.ctx.with_params(|p| p.mask_patterns);
        let mut text = format!(
            "📜 <b>Earlier in this dialog</b> (the last {} messages):",
            lines.len()
        );
        for l in &lines {
            let body = match l.text.as_deref().filter(|t| !t.is_empty()) {
                Some(t) if l.kind == "text" => t.to_string(),
                Some(t) => format!("[{}] {t}", l.kind),
                None => format!("[{}]", l.kind),
            };
            let shown = super::mask::mask_text(&body, None, &mask)
                .map(|(t, _)| t)
                .unwrap_or(body);
            let who = match l.direction.as_str() {
                "incoming" => "👤",
                "intercepted" => "🤖",
                _ => "💬",
            };
            text.push_str(&format!(
                "\n{who} {}",
                html(&render::truncate_chars(&shown, RECAP_LINE_MAX))
            ));
        }
        self.post_in(
            group,
            Some(thread),
            &render::truncate_chars(&text, 4000),
            None,
        )
        .await?;
        Ok(())
    }

    /// Whether a topic the bot's send was refused in ("message thread not found") still
    /// exists: editForumTopic with the current title addresses the topic itself, not its
    /// creation message, so it succeeds (or answers TOPIC_NOT_MODIFIED) on a topic that
    /// broke and fails with "message thread not found" only on a deleted one. A refusal
    /// that says neither (e.g. the bot may no longer manage topics) counts as existing:
    /// the dialog moves on either way, and the old thread merely stays routed.
    async fn still_exists(&self, dialog: i64, thread: i64) -> Result<bool, TopicError> {
        let (d, c) = self.load(dialog).await?;
        let extra = json!({"name": self.title(&d, &c).await?});
        match self
            .tg
            .edit_forum_topic(self.ctx.group_of(&d), thread, extra)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_topic_not_modified() => Ok(true),
            Err(e) if e.is_thread_not_found() => Ok(false),
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) => {
                tracing::warn!(dialog, thread, error = %e, "cannot tell whether the topic exists");
                Ok(true)
            }
        }
    }

    /// Runs `f` in the dialog's topic; a topic Telegram answers "message thread not found"
    /// for is replaced once: forgotten when deleted, kept routable when it broke.
    pub async fn in_topic<T, F, Fut>(&self, dialog: i64, f: F) -> Result<(Topic, T), TopicError>
    where
        F: Fn(i64) -> Fut,
        Fut: Future<Output = Result<T, TgError>>,
    {
        let mut tries = 0;
        loop {
            let topic = self.topic(dialog).await?;
            match f(topic.thread).await {
                Err(e) if e.is_thread_not_found() && tries == 0 => {
                    let thread = topic.thread;
                    if self.still_exists(dialog, thread).await? {
                        tracing::warn!(
                            dialog,
                            thread,
                            "Telegram refuses the bot's posts in a topic that exists; moving the dialog to a new topic"
                        );
                        self.store
                            .add_previous_topic(self.ctx.connection, thread, dialog, now_ms())
                            .await?;
                    } else {
                        tracing::info!(dialog, thread, "topic was deleted; recreating it");
                    }
                    self.store.set_dialog_thread(dialog, None).await?;
                    tries += 1;
                }
                Err(e) => return Err(e.into()),
                Ok(v) => return Ok((topic, v)),
            }
        }
    }

    /// Posts HTML into the primary group (a topic, or General when `thread` is None);
    /// returns the message id.
    pub async fn post(
        &self,
        thread: Option<i64>,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<i64, TgError> {
        self.post_in(self.group(), thread, text, reply_to).await
    }

    /// [`Topics::post`] into `group` (a dialog's topic lives in its own group).
    pub async fn post_in(
        &self,
        group: i64,
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
        Ok(self.tg.send_message(group, text, extra).await?.message_id)
    }

    /// Posts an HTML notice into the dialog's topic.
    pub async fn notice(
        &self,
        dialog: i64,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<(), TopicError> {
        let group = self.group_of(dialog).await?;
        self.in_topic(dialog, |t| async move {
            self.post_in(group, Some(t), text, reply_to).await
        })
        .await
        .map(|_| ())
    }

    /// Sends HTML to the dialog's user; a blocked user is marked, other refusals logged.
    pub async fn say(&self, dialog: i64, text: &str) -> Result<(), TopicError> {
        let (_, contact) = self.load(dialog).await?;
        match self
            .tg
            .send_message(contact.user_id, text, json!({"parse_mode": "HTML"}))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) if e.is_blocked() => {
                Ok(self.store.set_contact_blocked(contact.id, true).await?)
            }
            Err(e) => {
                tracing::warn!(dialog, error = %e, "message to the user failed");
                Ok(())
            }
        }
    }

    async fn sync_title(&self, dialog: i64) -> Result<(), TopicError> {
        let (d, c) = self.load(dialog).await?;
        let Some(thread) = d.thread_id else {
            return Ok(());
        };
        let mut extra = json!({"name": self.title(&d, &c).await?});
        if let Some(icon) = self.icons.for_status(d.status) {
            extra["icon_custom_emoji_id"] = json!(icon);
        }
        match self
            .tg
            .edit_forum_topic(self.ctx.group_of(&d), thread, extra)
            .await
        {
            Err(e) if e.is_thread_not_found() => {
                Ok(self.store.set_dialog_thread(d.id, None).await?)
            }
            r => Ok(ok_unless(r, |e| e.is_topic_not_modified()).map(|_| ())?),
        }
    }

    async fn sync_state(&self, dialog: i64) -> Result<(), TopicError> {
        let (d, _) = self.load(dialog).await?;
        let Some(thread) = d.thread_id else {
            return Ok(());
        };
        let group = self.ctx.group_of(&d);
        let r = if d.status == DialogStatus::Closed {
            self.tg.close_forum_topic(group, thread).await
        } else {
            self.tg.reopen_forum_topic(group, thread).await
        };
        match r {
            Err(e) if e.is_thread_not_found() => {
                Ok(self.store.set_dialog_thread(d.id, None).await?)
            }
            r => Ok(ok_unless(r, |e| e.is_topic_not_modified()).map(|_| ())?),
        }
    }
}

/// Registers the topic actions (and quick replies) with their executor.
pub fn register(registry: &mut Registry, topics: &Topics) {
    let ex = Arc::new(topics.clone());
    registry
        .register::<Card, _>(ex.clone())
        .register::<Notice, _>(ex.clone())
        .register::<Say, _>(ex.clone())
        .register::<Title, _>(ex.clone())
        .register::<TopicState, _>(ex.clone())
        .register::<Direct, _>(ex.clone())
        .register::<super::quick_replies::SendOut, _>(ex);
}

/// Treats an error matching `benign` as success.
pub fn ok_unless(
    r: Result<bool, TgError>,
    benign: impl Fn(&TgError) -> bool,
) -> Result<bool, TgError> {
    match r {
        Err(e) if benign(&e) => Ok(true),
        r => r,
    }
}

/// Post the user card into the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// Dialog id.
    pub dialog: i64,
}

impl Action for Card {
    const KIND: &'static str = "card";
}

/// Post a notice (HTML) into a dialog's topic, or General when `dialog` is None.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Dialog id.
    pub dialog: Option<i64>,
    /// HTML text.
    pub text: String,
    /// The group message to reply to, if any.
    pub reply_to: Option<i64>,
}

impl Action for Notice {
    const KIND: &'static str = "notice";
}

/// Send a text (HTML) to a dialog's user, e.g. WELCOME.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Say {
    /// Dialog id (for its contact's chat).
    pub dialog: i64,
    /// HTML text.
    pub text: String,
}

impl Action for Say {
    const KIND: &'static str = "say";
}

/// Bring the topic title and icon in line with the dialog's status and tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Title {
    /// Dialog id.
    pub dialog: i64,
}

impl Action for Title {
    const KIND: &'static str = "title";
}

/// Close or reopen the topic to match the dialog's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicState {
    /// Dialog id.
    pub dialog: i64,
}

impl Action for TopicState {
    const KIND: &'static str = "topic_state";
}

/// A private message from the bot to a team member (`/info` under HIDE_INFO card); whether
/// it arrived is told where the command was typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Direct {
    /// The team member's user id (their private chat with the bot).
    pub user: i64,
    /// HTML text.
    pub text: String,
    /// The dialog whose topic gets the outcome; None = General.
    pub dialog: Option<i64>,
    /// The command message to reply to.
    pub reply_to: Option<i64>,
}

impl Action for Direct {
    const KIND: &'static str = "direct";
}

impl Execute<Card> for Topics {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: Card) -> Result<(), TopicError> {
        let topic = self.topic(a.dialog).await?;
        if !topic.created {
            let (d, c) = self.load(a.dialog).await?;
            let card = self.card(&d, &c).await?;
            self.notice(a.dialog, &card, None).await?;
        }
        Ok(())
    }
}

impl Execute<Notice> for Topics {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: Notice) -> Result<(), TopicError> {
        match a.dialog {
            Some(d) => self.notice(d, &a.text, a.reply_to).await,
            None => Ok(self.post(None, &a.text, a.reply_to).await.map(|_| ())?),
        }
    }
}

impl Execute<Say> for Topics {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: Say) -> Result<(), TopicError> {
        self.say(a.dialog, &a.text).await
    }
}

impl Execute<Title> for Topics {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: Title) -> Result<(), TopicError> {
        self.sync_title(a.dialog).await
    }
}

impl Execute<TopicState> for Topics {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: TopicState) -> Result<(), TopicError> {
        self.sync_state(a.dialog).await
    }
}

impl Execute<Direct> for Topics {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: Direct) -> Result<(), TopicError> {
        let extra = json!({"parse_mode": "HTML", "link_preview_options": {"is_disabled": true}});
        let outcome = match self.tg.send_message(a.user, &a.text, extra).await {
            Ok(_) => "📬 Sent to you in your private chat with the bot.".to_string(),
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => format!(
                "⚠️ I cannot write to you privately ({}). Open a chat with @{} and press Start, then try again.",
                html(&e.to_string()),
                html(&self.ctx.bot.username)
            ),
        };
        match a.dialog {
            Some(d) => self.notice(d, &outcome, a.reply_to).await,
            None => Ok(self.post(None, &outcome, a.reply_to).await.map(|_| ())?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icons_picked_by_preference() {
        let stickers = json!([{"emoji": "🔥", "custom_emoji_id": "1"}, {"emoji": "✅", "custom_emoji_id": "2"}]);
        let icons = Icons::from_stickers(&stickers);
        assert_eq!(icons.for_status(DialogStatus::New), Some("1"));
        assert_eq!(icons.for_status(DialogStatus::Wait), None);
        assert_eq!(icons.for_status(DialogStatus::Closed), Some("2"));
    }
}
