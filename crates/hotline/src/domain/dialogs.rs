//! Typed operations on a dialog. Telegram commands, operators' messages, the REST API,
//! AUTOCLOSE and quick replies all change dialogs through these, so what a change means —
//! its events (recorded by the one recorder) and the topic intents that follow it — is
//! decided in one place:
//! - leaving ⬛ records `DialogReopened` and reopens the topic, then retitles it;
//! - entering ⬛ records `DialogClosed`, retitles the topic (so the list shows ⬛), then
//!   closes it;
//! - any other change retitles the topic.

use super::events::Event;
use super::render::{html, shown_name};
use super::topics::{Title, TopicState};
use super::Context;
use crate::store::{Contact, Dialog, DialogStatus, PauseReason, StoreError, Tag, Tx, UnixMs};

/// What [`Context::tag`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    /// The contact already had the tag: nothing changed.
    AlreadySet,
    /// The tag was set.
    Set {
        /// Funnel predecessors removed by it.
        removed: Vec<String>,
        /// Its quick reply: `Some(true)` sent, `Some(false)` no longer exists.
        quick_reply: Option<(String, bool)>,
    },
}

impl Tagged {
    /// The answer for the team.
    pub fn describe(&self, tag: &str) -> String {
        match self {
            Tagged::AlreadySet => format!("This contact already has <b>{}</b>.", html(tag)),
            Tagged::Set {
                removed,
                quick_reply,
            } => {
                let mut text = format!("🏷 <b>{}</b> set.", html(tag));
                if !removed.is_empty() {
                    let names: Vec<String> = removed.iter().map(|r| html(r)).collect();
                    text.push_str(&format!(" Removed: {}.", names.join(", ")));
                }
                match quick_reply {
                    Some((q, true)) => {
                        text.push_str(&format!(" Quick reply <b>{}</b> sent.", html(q)))
                    }
                    Some((q, false)) => text.push_str(&format!(
                        " Its quick reply <b>{}</b> no longer exists, so nothing was sent.",
                        html(q)
                    )),
                    None => {}
                }
                text
            }
        }
    }
}

impl Context {
    /// The contact's dialog; created in `initial` status (recording `DialogCreated`) when
    /// it has none. Returns it and whether it was created.
    pub async fn open_dialog(
        &self,
        tx: &mut Tx,
        contact: i64,
        initial: DialogStatus,
        now: UnixMs,
    ) -> Result<(Dialog, bool), StoreError> {
        let (dialog, created) = tx
            .ensure_dialog(self.connection, contact, initial, now)
            .await?;
        let mut dialog = dialog;
        if created {
            if let Some(group) = self.choose_group(tx).await? {
                tx.set_dialog_group(dialog.id, Some(group)).await?;
                dialog.group_id = Some(group);
            }
            self.record(tx, Event::DialogCreated { dialog: dialog.id })
                .await?;
        }
        Ok((dialog, created))
    }

    /// Moves `dialog` to `to`, recording what that means (see the module). Returns whether
    /// the status changed. What is recorded follows the status the row had when it changed,
    /// not the one in `dialog`: a copy read before another transaction moved the dialog
    /// (a reopening, say) must not record that move a second time.
    pub async fn set_status(
        &self,
        tx: &mut Tx,
        dialog: &Dialog,
        to: DialogStatus,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        let mut from = dialog.status;
        loop {
            if from == to {
                return Ok(false);
            }
            if tx.set_dialog_status(dialog.id, from, to, now).await? {
                break;
            }
            // Moved since `dialog` was read: change it from where it is now.
            match tx.dialog(dialog.id).await? {
                Some(d) => from = d.status,
                None => return Ok(false),
            }
        }
        self.status_changed(tx, dialog.id, from, to).await?;
        Ok(true)
    }

    /// AUTOCLOSE: closes the dialog only while it is 🟨 since before `before` — a user
    /// who wrote meanwhile keeps it open. Returns whether it closed.
    pub async fn close_if_waiting(
        &self,
        tx: &mut Tx,
        dialog: i64,
        before: UnixMs,
        now: UnixMs,
    ) -> Result<bool, StoreError> {
        if !tx.close_if_waiting(dialog, before, now).await? {
            return Ok(false);
        }
        self.status_changed(tx, dialog, DialogStatus::Wait, DialogStatus::Closed)
            .await?;
        Ok(true)
    }

    async fn status_changed(
        &self,
        tx: &mut Tx,
        dialog: i64,
        from: DialogStatus,
        to: DialogStatus,
    ) -> Result<(), StoreError> {
        let closed = DialogStatus::Closed;
        match (from == closed, to == closed) {
            (false, true) => {
                if self.with_params(|p| p.auto_handover) {
                    // AUTO_HANDOVER: the closed dialog goes back to the parallel bot.
                    let now = crate::store::now_ms();
                    self.resume_bot(tx, dialog, PauseReason::Auto, None, None, now)
                        .await?;
                }
                self.record(tx, Event::DialogClosed { dialog }).await?;
                self.to_group(tx, Some(dialog), &Title { dialog }).await?;
                self.to_group(tx, Some(dialog), &TopicState { dialog })
                    .await?;
            }
            (true, false) => {
                self.record(tx, Event::DialogReopened { dialog }).await?;
                self.to_group(tx, Some(dialog), &TopicState { dialog })
                    .await?;
                self.to_group(tx, Some(dialog), &Title { dialog }).await?;
            }
            _ => {
                self.to_group(tx, Some(dialog), &Title { dialog }).await?;
            }
        }
        Ok(())
    }

    /// The team answered in the dialog (an operator wrote, a quick reply, the API): 🟨,
    /// reopened first when it was closed, and its activity time moves.
    pub async fn answered(
        &self,
        tx: &mut Tx,
        dialog: &Dialog,
        now: UnixMs,
    ) -> Result<(), StoreError> {
        self.set_status(tx, dialog, DialogStatus::Wait, now).await?;
        tx.touch_dialog(dialog.id, now).await
    }

    /// An answer did not reach the user (blocked the bot, refused): a dialog that turned
    /// 🟨 for it goes back to 🟪 — it still waits on the team.
    pub async fn not_delivered(&self, tx: &mut Tx, dialog: i64) -> Result<(), StoreError> {
        if let Some(d) = tx.dialog(dialog).await? {
            if d.status == DialogStatus::Wait {
                self.set_status(tx, &d, DialogStatus::New, crate::store::now_ms())
                    .await?;
            }
        }
        Ok(())
    }

    /// Puts `tag` on the dialog's contact: `ContactTagged`, its funnel predecessors go,
    /// the title follows, and its quick reply (if any) is sent.
    pub async fn tag(
        &self,
        tx: &mut Tx,
        dialog: &Dialog,
        tag: &Tag,
        by: Option<i64>,
    ) -> Result<Tagged, StoreError> {
        let contact = dialog.contact_id;
        let now = crate::store::now_ms();
        if !tx.add_contact_tag(contact, tag.id, now).await? {
            return Ok(Tagged::AlreadySet);
        }
        self.record(
            tx,
            Event::ContactTagged {
                dialog: dialog.id,
                tag: &tag.name,
            },
        )
        .await?;
        let mut removed = Vec::new();
        for r in tx.tag_removes(tag.id).await? {
            if tx.remove_contact_tag(contact, r.id).await? {
                removed.push(r.name);
            }
        }
        self.to_group(tx, Some(dialog.id), &Title { dialog: dialog.id })
            .await?;
        let quick_reply = match &tag.sends {
            Some(q) => Some((
                q.clone(),
                self.send_quick_reply(tx, dialog, q, false, by).await?,
            )),
            None => None,
        };
        Ok(Tagged::Set {
            removed,
            quick_reply,
        })
    }

    /// Sets (`Some`) or clears (`None`) the dialog's owner, recording `DialogAssigned` and
    /// retitling the topic (the title shows the owner). `by` is the operator who did it
    /// (`None` through the API). Returns whether anything changed.
    pub async fn assign(
        &self,
        tx: &mut Tx,
        dialog: &Dialog,
        assignee: Option<i64>,
        by: Option<i64>,
    ) -> Result<bool, StoreError> {
        if !tx.assign_dialog(dialog.id, assignee).await? {
            return Ok(false);
        }
        self.record(
            tx,
            Event::DialogAssigned {
                dialog: dialog.id,
                assignee,
                previous: dialog.assignee,
                by,
            },
        )
        .await?;
        self.to_group(tx, Some(dialog.id), &Title { dialog: dialog.id })
            .await?;
        Ok(true)
    }

    /// Takes `tag` off the dialog's contact (the title follows a ticker); false when the
    /// contact did not have it.
    pub async fn untag(&self, tx: &mut Tx, dialog: &Dialog, tag: &Tag) -> Result<bool, StoreError> {
        if !tx.remove_contact_tag(dialog.contact_id, tag.id).await? {
            return Ok(false);
        }
        if tag.ticker.is_some() {
            self.to_group(tx, Some(dialog.id), &Title { dialog: dialog.id })
                .await?;
        }
        Ok(true)
    }

    /// Bans or unbans a contact (a banned user's messages are ignored); the dialog's topic,
    /// when there is one, is told.
    pub async fn set_banned(
        &self,
        tx: &mut Tx,
        contact: &Contact,
        dialog: Option<i64>,
        ban: bool,
        reply_to: Option<i64>,
    ) -> Result<(), StoreError> {
        tx.set_contact_banned(contact.id, ban).await?;
        let Some(dialog) = dialog else {
            return Ok(());
        };
        let name = html(&shown_name(contact, &self.with_params(|p| p.hide_info)));
        let text = if ban {
            format!("🚫 {name} is banned: their messages are ignored. /unban to undo.")
        } else {
            format!("✅ {name} is no longer banned.")
        };
        self.notice(tx, Some(dialog), reply_to, text).await
    }
}
