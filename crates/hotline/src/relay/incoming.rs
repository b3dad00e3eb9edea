//! A user writes to the bot: filters, contact and dialog, first contact, reopening,
//! and the copy into the topic (albums buffered into one copy).

use serde_json::Value;

use super::{content, render, resend, Intent, Relay, RelayError};
use crate::store::{now_ms, ContactProfile, DialogStatus, Tx};

/// How long album parts are awaited before the album is copied as one.
pub const ALBUM_WAIT_MS: i64 = 800;

/// copyMessages takes at most 100 ids.
const MAX_BURST: usize = 100;

impl Relay {
    /// A private message from a user.
    pub(super) async fn user_message(&self, tx: &mut Tx, msg: &Value) -> Result<(), RelayError> {
        let from = &msg["from"];
        let Some(user_id) = from["id"].as_i64() else {
            return Ok(());
        };
        if from["is_bot"] == true {
            return Ok(());
        }
        let params = self.params();
        if !params.admits(user_id) {
            return Ok(());
        }
        let now = now_ms();
        let profile = ContactProfile {
            user_id,
            first_name: from["first_name"].as_str().unwrap_or("").to_string(),
            last_name: from["last_name"].as_str().map(str::to_string),
            username: from["username"].as_str().map(str::to_string),
            language_code: from["language_code"].as_str().map(str::to_string),
        };
        let start = content::start_param(msg);
        let contact = tx
            .contact_wrote(self.connection, &profile, start.as_deref(), now)
            .await?;
        if contact.banned {
            return Ok(());
        }
        let text = content::text(msg);
        if !params.restricted_keywords.is_off() && params.restricted_keywords.matches(text) {
            return Ok(());
        }
        let existing = tx.dialog_for_contact(self.connection, contact.id).await?;
        let open = existing
            .as_ref()
            .is_some_and(|d| d.activated && d.status != DialogStatus::Closed);
        if !params.private_keywords.is_off() && !open && !params.private_keywords.matches(text) {
            // The bot talks alone until the user asks for a human.
            return Ok(());
        }
        let initial = if params.leave_closed {
            DialogStatus::Closed
        } else {
            DialogStatus::New
        };
        let (dialog, created) = match existing {
            Some(d) => (d, false),
            None => {
                tx.ensure_dialog(self.connection, contact.id, initial, now)
                    .await?
            }
        };
        if !dialog.activated {
            tx.set_dialog_activated(dialog.id, true).await?;
        }
        let welcome = params
            .welcome_for(&contact.first_name)
            .map(|t| render::html(&t));
        if created {
            crate::api::events::created(tx, self, dialog.id).await?;
            crate::stats::record(tx, self, dialog.id, crate::stats::kind::CREATED, None).await?;
            if params.auto_info && !params.hide_info.card {
                self.push(tx, Intent::Card { dialog: dialog.id }, 0).await?;
            }
            if !params.leave_closed {
                if let Some(text) = welcome {
                    self.push(
                        tx,
                        Intent::Say {
                            dialog: dialog.id,
                            text,
                        },
                        0,
                    )
                    .await?;
                }
            }
        } else if dialog.status == DialogStatus::Closed && !params.leave_closed {
            crate::api::events::reopened(tx, self, dialog.id).await?;
            crate::stats::record(tx, self, dialog.id, crate::stats::kind::REOPENED, None).await?;
            tx.set_dialog_status(dialog.id, DialogStatus::New, now)
                .await?;
            self.push(tx, Intent::TopicState { dialog: dialog.id }, 0)
                .await?;
            self.push(tx, Intent::Title { dialog: dialog.id }, 0)
                .await?;
            if let Some(text) = welcome {
                self.push(
                    tx,
                    Intent::Say {
                        dialog: dialog.id,
                        text,
                    },
                    0,
                )
                .await?;
            }
        } else if dialog.status == DialogStatus::Wait
            && tx
                .set_dialog_status(dialog.id, DialogStatus::New, now)
                .await?
        {
            self.push(tx, Intent::Title { dialog: dialog.id }, 0)
                .await?;
        }
        tx.touch_dialog(dialog.id, now).await?;

        let kind = content::kind(msg);
        if kind == "service" {
            return Ok(());
        }
        crate::api::events::received(tx, self, dialog.id, msg).await?;
        crate::stats::record(tx, self, dialog.id, crate::stats::kind::IN, None).await?;
        let Some(id) = msg["message_id"].as_i64() else {
            return Ok(());
        };
        let reply_to = match content::explicit_reply(msg) {
            Some(r) => tx
                .link_by_user_message(self.connection, user_id, r)
                .await?
                .map(|l| l.link.group_message_id),
            None => None,
        };
        if let Some(album) = msg["media_group_id"].as_str() {
            if let Some(item) = resend::item(msg) {
                tx.record_media_item(self.connection, user_id, id, album, &item, now)
                    .await?;
            }
            return self
                .album_part(tx, dialog.id, album, user_id, id, false)
                .await;
        }
        let forward = !content::copyable(&kind);
        if self
            .private_copy(tx, &params, msg, dialog.id, reply_to)
            .await?
        {
            return Ok(());
        }
        if !forward && reply_to.is_none() && self.join_burst(tx, dialog.id, id).await? {
            return Ok(());
        }
        self.push(
            tx,
            Intent::CopyIn {
                dialog: dialog.id,
                ids: vec![id],
                reply_to,
                kind,
                forward,
            },
            0,
        )
        .await?;
        Ok(())
    }

    /// Adds a message to the dialog's last copy intent when it is still waiting and is a
    /// plain copy (no reply, no album): a burst of one user's messages then goes out in
    /// one copyMessages call. Order is kept because only the queue's newest intent grows.
    async fn join_burst(&self, tx: &mut Tx, dialog: i64, id: i64) -> Result<bool, RelayError> {
        let Some((intent_id, action)) = tx
            .outbox_pending_tail(self.connection, self.group_id, dialog)
            .await?
        else {
            return Ok(false);
        };
        let Ok(Intent::CopyIn {
            dialog: d,
            mut ids,
            reply_to: None,
            kind,
            forward: false,
        }) = serde_json::from_value::<Intent>(action)
        else {
            return Ok(false);
        };
        if d != dialog
            || ids.is_empty()
            || ids.len() >= MAX_BURST
            || ids.last().is_some_and(|last| *last >= id)
        {
            return Ok(false);
        }
        ids.push(id);
        let grown = serde_json::to_value(Intent::CopyIn {
            dialog,
            ids,
            reply_to: None,
            kind,
            forward: false,
        })
        .expect("intents serialise");
        Ok(tx.outbox_extend_pending(intent_id, &grown).await?)
    }

    /// Buffers one part of an album: the first part schedules the copy a moment later,
    /// later parts join its batch. Works both ways (`outgoing` = operator's album).
    pub(super) async fn album_part(
        &self,
        tx: &mut Tx,
        dialog: i64,
        album: &str,
        chat: i64,
        id: i64,
        outgoing: bool,
    ) -> Result<(), RelayError> {
        if let Some(batch) = tx.open_album_batch(self.connection, album).await? {
            tx.add_album_part(self.connection, album, batch, chat, id)
                .await?;
            return Ok(());
        }
        let intent = if outgoing {
            Intent::CopyOut {
                dialog,
                ids: Vec::new(),
                reply_to: None,
                kind: "album".into(),
            }
        } else {
            if self.params().mask_patterns.any() {
                // Captions are masked when the batch runs (see `resend`).
                Intent::SendIn {
                    dialog,
                    ids: Vec::new(),
                    items: Vec::new(),
                    reply_to: None,
                    kind: "album".into(),
                }
            } else {
                Intent::CopyIn {
                    dialog,
                    ids: Vec::new(),
                    reply_to: None,
                    kind: "album".into(),
                    forward: false,
                }
            }
        };
        let batch = self.push(tx, intent, ALBUM_WAIT_MS).await?;
        tx.add_album_part(self.connection, album, batch, chat, id)
            .await?;
        Ok(())
    }
}
