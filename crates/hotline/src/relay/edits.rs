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
        let Some(link) = tx.link_by_user_message(self.connection, user, id).await? else {
            return Ok(());
        };
        let intent = Intent::EditIn {
            dialog: link.link.dialog_id,
            user_message: id,
            group_message: link.link.group_message_id,
            content: content::edit_snapshot(msg),
        };
        self.push(tx, intent, 0).await?;
        Ok(())
    }

    /// An operator edited a message in a topic.
    pub(super) async fn operator_edit(&self, tx: &mut Tx, msg: &Value) -> Result<(), RelayError> {
        let Some(id) = msg["message_id"].as_i64() else {
            return Ok(());
        };
        let Some(link) = tx
            .link_by_group_message(self.connection, self.group_id, id)
            .await?
        else {
            return Ok(());
        };
        if link.link.direction != crate::store::Direction::Outgoing {
            return Ok(());
        }
        let intent = Intent::EditOut {
            dialog: link.link.dialog_id,
            group_message: id,
            user_message: link.link.user_message_id,
            content: content::edit_snapshot(msg),
        };
        self.push(tx, intent, 0).await?;
        Ok(())
    }
}
