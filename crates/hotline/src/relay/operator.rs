//! Someone writes in the group: in a dialog topic it goes to the user (unless it is a
//! comment, a command, or REPLY_ONLY says otherwise); in General only commands count.

use serde_json::Value;

use super::{content, Intent, Relay, RelayError};
use crate::commands::{self, parse::Slash};
use crate::store::{now_ms, DialogStatus, Direction, Tx};

impl Relay {
    /// A message in the backend group.
    pub(super) async fn group_message(&self, tx: &mut Tx, msg: &Value) -> Result<(), RelayError> {
        if msg["from"]["is_bot"] == true && msg["sender_chat"].is_null() {
            return Ok(());
        }
        let kind = content::kind(msg);
        if kind == "service" {
            return Ok(());
        }
        let thread = if msg["is_topic_message"] == true {
            msg["message_thread_id"].as_i64()
        } else {
            None
        };
        let slash = commands::parse::parse(content::text(msg));
        let Some(thread) = thread else {
            if let Some(Slash::Command(cmd)) = slash {
                if cmd.is_for(&self.bot.username) {
                    commands::general(self, tx, msg, &cmd).await?;
                }
            } else if slash.is_none() {
                crate::broadcast::remember_general(self, tx, msg).await?;
            }
            return Ok(());
        };
        let Some(dialog) = tx.dialog_by_thread(self.connection, thread).await? else {
            // Another connection's topic, or one Hotline no longer knows.
            return Ok(());
        };
        match slash {
            Some(Slash::Comment) => return Ok(()),
            Some(Slash::Command(cmd)) => {
                if cmd.is_for(&self.bot.username) {
                    commands::topic(self, tx, msg, &dialog, &cmd).await?;
                }
                return Ok(());
            }
            None => {}
        }
        let Some(id) = msg["message_id"].as_i64() else {
            return Ok(());
        };
        let replied = match content::explicit_reply(msg) {
            Some(r) => {
                tx.link_by_group_message(self.connection, self.group_id, r)
                    .await?
            }
            None => None,
        };
        let to_user_message = replied.as_ref().map(|l| l.link.user_message_id);
        let replies_to_user = replied
            .as_ref()
            .is_some_and(|l| l.link.direction == Direction::Incoming);
        if self.params().reply_only && !replies_to_user {
            return Ok(());
        }
        let now = now_ms();
        if dialog.status == DialogStatus::Closed {
            tx.set_dialog_status(dialog.id, DialogStatus::Wait, now)
                .await?;
            self.push(tx, Intent::TopicState { dialog: dialog.id }, 0)
                .await?;
            self.push(tx, Intent::Title { dialog: dialog.id }, 0)
                .await?;
        } else if tx
            .set_dialog_status(dialog.id, DialogStatus::Wait, now)
            .await?
        {
            self.push(tx, Intent::Title { dialog: dialog.id }, 0)
                .await?;
        }
        tx.touch_dialog(dialog.id, now).await?;
        crate::api::events::operator_message(tx, self, dialog.id, msg).await?;
        let operator = msg["from"]["id"].as_i64();
        crate::stats::record(tx, self, dialog.id, crate::stats::kind::OUT, operator).await?;
        if let Some(album) = msg["media_group_id"].as_str() {
            if let Some(item) = super::resend::item(msg) {
                tx.record_media_item(self.connection, self.group_id, id, album, &item, now)
                    .await?;
            }
            return self
                .album_part(tx, dialog.id, album, self.group_id, id, true)
                .await;
        }
        self.push(
            tx,
            Intent::CopyOut {
                dialog: dialog.id,
                ids: vec![id],
                reply_to: to_user_message,
                kind,
            },
            0,
        )
        .await?;
        Ok(())
    }
}
