//! The handover: per dialog, the parallel bot (the company's own bot behind the gateway)
//! can be paused while the team has the user.
//!
//! While a dialog is paused its user's updates are relayed into the topic as usual but
//! withheld from the bot's getUpdates and webhook. Withheld updates are dropped, not
//! released, when the bot resumes: the team already handled them, and a bot answering
//! minutes-old messages after the fact would confuse the user. Withholding is decided by
//! time: an update is withheld when it was received inside one of the user's pause spans,
//! so it does not matter when the bot polls. The spans live in `bot_pauses` and, for the
//! gateway's hot path, in [`Pauses`] (updated only after the deciding transaction
//! commits).
//!
//! A pause made by an update (an operator's `/bot off`, an answer under `AUTO_HANDOVER`)
//! starts when Hotline received that update, not when it was processed: a user's message
//! stored a few ms after the command is withheld too. Until such an update is processed
//! (and its span is in [`Pauses`]), the gateway serves nothing stored after it
//! ([`may_pause`], [`Pauses::settled`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::RwLock;

use serde_json::Value;

use super::events::Event;
use super::topics::{Card, Title};
use super::Context;
use crate::store::{Dialog, DialogStatus, Pause, PauseReason, StoreError, Tx, UnixMs};

/// One pause span of a user's chat: `[from, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    from: UnixMs,
    until: Option<UnixMs>,
}

/// The pause spans of one connection, by user chat, in memory.
#[derive(Debug, Default)]
pub struct Pauses {
    spans: RwLock<HashMap<i64, Vec<Span>>>,
    /// The newest update that may pause ([`may_pause`]) whose processing committed and
    /// whose span (if any) is in `spans`; updates up to the log's end at start count as
    /// settled (their spans were loaded from the store). A watch, so the gateway waits for
    /// the next settle instead of polling.
    settled: tokio::sync::watch::Sender<i64>,
}

tokio::task_local! {
    /// When Hotline received the update being processed (see [`during_update`]).
    static UPDATE_RECEIVED_AT: UnixMs;
}

/// Runs the processing of one update (received at `received_at`): a pause it makes
/// starts then, not when it is processed.
pub async fn during_update<F: Future>(received_at: UnixMs, fut: F) -> F::Output {
    UPDATE_RECEIVED_AT.scope(received_at, fut).await
}

/// Where a pause made now starts: at the update being processed, if any.
fn pause_start(now: UnixMs) -> UnixMs {
    UPDATE_RECEIVED_AT
        .try_with(|at| (*at).min(now))
        .unwrap_or(now)
}

/// Whether processing the stored update `payload` may pause the bot for a user: a message
/// in the backend group that is a `/bot` command or, with `AUTO_HANDOVER`, any message
/// there. The gateway serves nothing stored after such an update until it is settled.
pub fn may_pause(ctx: &Context, payload: &Value) -> bool {
    let Some(msg) = payload.get("message") else {
        return false;
    };
    if !msg["chat"]["id"].as_i64().is_some_and(|c| ctx.is_group(c)) {
        return false;
    }
    if ctx.with_params(|p| p.auto_handover) {
        return true;
    }
    msg["text"].as_str().is_some_and(|t| {
        t.strip_prefix("/bot")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '@', '\n']))
    })
}

impl Pauses {
    /// The spans of stored pauses (see [`crate::store::Store::recent_pauses`]).
    pub fn from_rows(rows: &[Pause]) -> Self {
        let p = Self::default();
        for r in rows {
            p.begin(r.user_chat_id, r.paused_at);
            if let Some(at) = r.resumed_at {
                p.end(r.user_chat_id, at);
            }
        }
        p
    }

    /// Takes in stored pauses made or ended elsewhere (another instance: the REST API
    /// there, or a previous owner): a stored span this one lacks is added, one it has open
    /// is closed when the store says it ended. Nothing is removed, so a span this process
    /// added after the rows were read is never lost.
    pub fn merge(&self, rows: &[Pause]) {
        let mut spans = self.spans.write().unwrap_or_else(|e| e.into_inner());
        for r in rows {
            let list = spans.entry(r.user_chat_id).or_default();
            match list.iter_mut().find(|s| s.from == r.paused_at) {
                Some(s) => {
                    if s.until.is_none() {
                        s.until = r.resumed_at.map(|u| u.max(s.from));
                    }
                }
                None => {
                    let at = list.partition_point(|s| s.from < r.paused_at);
                    list.insert(
                        at,
                        Span {
                            from: r.paused_at,
                            until: r.resumed_at.map(|u| u.max(r.paused_at)),
                        },
                    );
                }
            }
        }
    }

    /// Marks the update `update_id` as settled: its processing committed and its pause,
    /// if it made one, is in effect here. Call after the commit (after the pause's own
    /// hook).
    pub fn settle(&self, update_id: i64) {
        self.settled.send_if_modified(|s| {
            let newer = update_id > *s;
            if newer {
                *s = update_id;
            }
            newer
        });
    }

    /// Whether the update `update_id` (one that [`may_pause`]) is settled.
    pub fn settled(&self, update_id: i64) -> bool {
        *self.settled.borrow() >= update_id
    }

    /// Sees every later [`Pauses::settle`] ("processed through update N"): what a scan
    /// stopped before an unsettled update waits on.
    pub fn settles(&self) -> tokio::sync::watch::Receiver<i64> {
        self.settled.subscribe()
    }

    /// Whether the bot is paused for `chat` now.
    pub fn is_paused(&self, chat: i64) -> bool {
        let spans = self.spans.read().unwrap_or_else(|e| e.into_inner());
        spans
            .get(&chat)
            .and_then(|s| s.last())
            .is_some_and(|s| s.until.is_none())
    }

    /// Whether an update of `chat` received at `received_at` is withheld from the bot.
    pub fn withheld(&self, chat: i64, received_at: UnixMs) -> bool {
        let spans = self.spans.read().unwrap_or_else(|e| e.into_inner());
        if spans.is_empty() {
            return false;
        }
        spans.get(&chat).is_some_and(|list| {
            list.iter()
                .any(|s| s.from <= received_at && s.until.is_none_or(|u| received_at < u))
        })
    }

    fn begin(&self, chat: i64, at: UnixMs) {
        let mut spans = self.spans.write().unwrap_or_else(|e| e.into_inner());
        let list = spans.entry(chat).or_default();
        if list.last().is_none_or(|s| s.until.is_some()) {
            list.push(Span {
                from: at,
                until: None,
            });
        }
    }

    fn end(&self, chat: i64, at: UnixMs) {
        let mut spans = self.spans.write().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = spans.get_mut(&chat).and_then(|l| l.last_mut()) {
            if last.until.is_none() {
                last.until = Some(at.max(last.from));
            }
        }
    }

    /// Forgets spans that ended before `before` (no update that old is served any more).
    pub fn prune(&self, before: UnixMs) {
        let mut spans = self.spans.write().unwrap_or_else(|e| e.into_inner());
        spans.retain(|_, list| {
            list.retain(|s| s.until.is_none_or(|u| u >= before));
            !list.is_empty()
        });
    }
}

/// The private chat an update is about (its user), if any: what pauses are keyed by.
pub fn update_chat(body: &Value) -> Option<i64> {
    [
        &body["chat"]["id"],
        &body["message"]["chat"]["id"],
        &body["from"]["id"],
        &body["user"]["id"],
    ]
    .into_iter()
    .find_map(Value::as_i64)
    .filter(|id| *id > 0)
}

/// The topic notice for a pause or resume not asked by an operator's command.
fn notice(paused: bool, reason: PauseReason) -> String {
    let who = match reason {
        PauseReason::Operator => "an operator",
        PauseReason::Auto => "AUTO_HANDOVER",
        PauseReason::Api => "the API",
        PauseReason::Bot => "the bot",
    };
    if paused {
        format!("⏸ The bot is paused for this user (by {who}): the team has the dialog. /bot on gives it back.")
    } else {
        format!("▶️ The bot answers this user again (by {who}).")
    }
}

impl Context {
    /// Pauses the parallel bot in `dialog` (as read in `tx`). Records `BotPaused`,
    /// retitles the topic (⏸) and posts a notice there (replying to `reply_to`); the
    /// gateway withholds the user's updates from the commit on. Returns false, changing
    /// nothing, when the bot is already paused there.
    pub async fn pause_bot(
        &self,
        tx: &mut Tx,
        dialog: &Dialog,
        reason: PauseReason,
        by: Option<i64>,
        reply_to: Option<i64>,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        if tx.open_pause(dialog.id).await?.is_some() {
            return Ok(false);
        }
        let Some(contact) = tx.contact(dialog.contact_id).await? else {
            return Ok(false);
        };
        let chat = contact.user_id;
        // Made by an update: from when that update arrived (see the module doc).
        let from = pause_start(now);
        tx.insert_pause(self.connection, dialog.id, chat, reason, by, from)
            .await?;
        self.record(
            tx,
            Event::BotPaused {
                dialog: dialog.id,
                reason,
                by,
            },
        )
        .await?;
        let pauses = self.pauses.clone();
        tx.after_commit(move || pauses.begin(chat, from));
        self.to_group(tx, Some(dialog.id), &Title { dialog: dialog.id })
            .await?;
        self.notice(tx, Some(dialog.id), reply_to, notice(true, reason))
            .await?;
        Ok(true)
    }

    /// Keeps [`Context::pauses`] in step with pauses made or ended on other instances (the
    /// REST API's handover there) until `shutdown`: merges the stored ones when told
    /// (`Store::pauses_notify`, PostgreSQL), so the owner's gateway withholds what any
    /// instance paused.
    pub async fn follow_pauses(
        self,
        store: crate::store::Store,
        mut shutdown: crate::shutdown::Shutdown,
    ) {
        /// How far back pauses matter: the gateway serves updates up to 24 h old.
        const KEEP_MS: UnixMs = 24 * 3600 * 1000;
        let changed = store.pauses_notify(self.connection);
        loop {
            tokio::select! {
                _ = shutdown.recv() => return,
                _ = changed.notified() => {}
            }
            let since = crate::store::now_ms() - KEEP_MS;
            match store.recent_pauses(self.connection, since).await {
                Ok(rows) => self.pauses.merge(&rows),
                Err(e) => {
                    tracing::warn!(error = %e, "reloading the handover's pauses failed; retrying");
                    changed.notify_one();
                    tokio::select! {
                        _ = shutdown.recv() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    /// The bot's backend (the REST API, or the bot itself through the gateway) hands the
    /// user `user` over to the team: the dialog is opened so the team sees the user
    /// (created with its card, activated past PRIVATE_KEYWORDS, reopened, 🟪) and the bot
    /// is paused. `None` when `user` is not a known contact; else the dialog (as before)
    /// and whether the bot was paused now (false: it already was).
    pub async fn request_handover(
        &self,
        tx: &mut Tx,
        user: i64,
        reason: PauseReason,
        now: UnixMs,
    ) -> Result<Option<(Dialog, bool)>, StoreError> {
        let Some(contact) = tx.contact_by_user(self.connection, user).await? else {
            return Ok(None);
        };
        let (dialog, created) = self
            .open_dialog(tx, contact.id, DialogStatus::New, now)
            .await?;
        let params = self.params();
        if created && params.auto_info && !params.hide_info.card {
            self.to_group(tx, Some(dialog.id), &Card { dialog: dialog.id })
                .await?;
        }
        if !dialog.activated {
            tx.set_dialog_activated(dialog.id, true).await?;
            if params.recap > 0 {
                self.post_recap(tx, dialog.id, user).await?;
            }
        }
        if dialog.status != DialogStatus::New {
            // The user asked for a human: the team owes the next answer.
            self.set_status(tx, &dialog, DialogStatus::New, now).await?;
        }
        tx.touch_dialog(dialog.id, now).await?;
        let paused = self.pause_bot(tx, &dialog, reason, None, None, now).await?;
        Ok(Some((dialog, paused)))
    }

    /// The bot's backend gives the user back to the bot. `None` when `user` is not a known
    /// contact; else whether the bot was resumed now (false: it was not paused).
    pub async fn request_resume(
        &self,
        tx: &mut Tx,
        user: i64,
        reason: PauseReason,
        now: UnixMs,
    ) -> Result<Option<bool>, StoreError> {
        let Some(contact) = tx.contact_by_user(self.connection, user).await? else {
            return Ok(None);
        };
        let Some(dialog) = tx.dialog_for_contact(self.connection, contact.id).await? else {
            return Ok(Some(false));
        };
        Ok(Some(
            self.resume_bot(tx, dialog.id, reason, None, None, now)
                .await?,
        ))
    }

    /// Gives `dialog` back to the parallel bot: records `BotResumed`, retitles the topic
    /// and posts a notice. Updates withheld meanwhile stay dropped (see the module).
    /// Returns false when the bot was not paused there.
    pub async fn resume_bot(
        &self,
        tx: &mut Tx,
        dialog: i64,
        reason: PauseReason,
        by: Option<i64>,
        reply_to: Option<i64>,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        let Some(open) = tx.open_pause(dialog).await? else {
            return Ok(false);
        };
        // Made by an update: from when that update arrived, like a pause.
        let until = pause_start(now).max(open.paused_at);
        tx.end_pause(dialog, reason, by, until).await?;
        self.record(tx, Event::BotResumed { dialog, reason, by })
            .await?;
        let (pauses, chat) = (self.pauses.clone(), open.user_chat_id);
        tx.after_commit(move || pauses.end(chat, until));
        self.to_group(tx, Some(dialog), &Title { dialog }).await?;
        self.notice(tx, Some(dialog), reply_to, notice(false, reason))
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pause(chat: i64, from: UnixMs, until: Option<UnixMs>) -> Pause {
        Pause {
            id: 0,
            dialog_id: 1,
            user_chat_id: chat,
            reason: PauseReason::Api,
            paused_by: None,
            paused_at: from,
            resumed_at: until,
        }
    }

    #[test]
    fn merged_pauses_add_and_close_spans_and_never_drop_one() {
        let p = Pauses::default();
        // Known here: a span this process made after the rows were read.
        p.begin(7, 500);
        // Stored elsewhere: an ended span of 7 before it, an open one of 8.
        p.merge(&[pause(7, 100, Some(200)), pause(8, 300, None)]);
        assert!(p.withheld(7, 150) && !p.withheld(7, 250) && p.withheld(7, 600));
        assert!(p.is_paused(7) && p.is_paused(8) && p.withheld(8, 301));
        // Resumed elsewhere: the open span closes; merging again changes nothing.
        let rows = [pause(8, 300, Some(400))];
        p.merge(&rows);
        p.merge(&rows);
        assert!(!p.is_paused(8) && p.withheld(8, 399) && !p.withheld(8, 400));
        assert_eq!(p.spans.read().unwrap()[&8].len(), 1);
    }

    #[test]
    fn updates_inside_a_span_are_withheld_and_stay_withheld() {
        let p = Pauses::default();
        assert!(!p.withheld(42, 100));
        p.begin(42, 100);
        assert!(p.is_paused(42));
        assert!(!p.withheld(42, 99), "before the pause: delivered");
        assert!(p.withheld(42, 100));
        assert!(!p.withheld(7, 150), "another user is not paused");
        p.end(42, 200);
        assert!(!p.is_paused(42));
        assert!(p.withheld(42, 150), "dropped, not released, on resume");
        assert!(!p.withheld(42, 200));
        p.prune(300);
        assert!(!p.withheld(42, 150));
    }

    #[test]
    fn the_user_of_an_update() {
        assert_eq!(update_chat(&json!({"chat": {"id": 5}})), Some(5));
        assert_eq!(
            update_chat(&json!({"from": {"id": 5}, "message": {"chat": {"id": 6}}})),
            Some(6)
        );
        assert_eq!(update_chat(&json!({"from": {"id": 5}, "id": "q"})), Some(5));
        assert_eq!(update_chat(&json!({"chat": {"id": -100}})), None);
    }
}
