//! Edits both ways: the counterpart of an edited message is edited too (or, where
//! Telegram cannot edit it, the new version is posted as a reply marked as an edit).

use serde_json::Value;

use super::{content, Intent, Relay, RelayError};
use crate::store::Tx;

impl Relay {
    /// A user edited a message in their chat with the bot.
    pub(super) async fn user_edit(&self, tx: &mut Tx, msg: &Value) -> Result<(), RelayError> {
        let (Some(user), Some(id)) = (msg["chat"]["id"].as_i64(), msg["message_id"].as_i64())
        else {
            return Ok(());
        };
        let Some(contact) = tx.contact_by_user(self.connection, user).await? else {
            return Ok(());
        };
        let Some(dialog) = tx.dialog_for_contact(self.connection, contact.id).await? else {
            return Ok(());
        };
        let mut snapshot = content::edit_snapshot(msg);
        super::privacy::mask_snapshot(&mut snapshot, &self.params().mask_patterns);
        let intent = Intent::EditIn {
            dialog: dialog.id,
            user_message: id,
            content: snapshot,
        };
        self.push(tx, intent, 0).await?;
        Ok(())
    }

    /// An operator edited a message in a topic.
    pub(super) async fn operator_edit(&self, tx: &mut Tx, msg: &Value) -> Result<(), RelayError> {
        let (Some(id), Some(thread)) = (
            msg["message_id"].as_i64(),
            msg["message_thread_id"].as_i64(),
        ) else {
            return Ok(());
        };
        let Some(dialog) = tx.dialog_by_thread(self.connection, thread).await? else {
            return Ok(());
        };
        let intent = Intent::EditOut {
            dialog: dialog.id,
            group_message: id,
            content: content::edit_snapshot(msg),
        };
        self.push(tx, intent, 0).await?;
        Ok(())
    }
}
