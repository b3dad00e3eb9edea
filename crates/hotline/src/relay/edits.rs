//! Edits both ways: the counterpart of an edited message is edited too (or, where
//! Telegram cannot edit it, the new version is posted as a reply marked as an edit).

use serde_json::Value;

use super::actions::{EditIn, EditOut};
use crate::domain::events::Event;
use crate::domain::{content, Context};
use crate::store::{StoreError, Tx};

/// A user edited a message in their chat with the bot.
pub(super) async fn user_edit(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<(), StoreError> {
    let (Some(user), Some(id)) = (msg["chat"]["id"].as_i64(), msg["message_id"].as_i64()) else {
        return Ok(());
    };
    let Some(contact) = tx.contact_by_user(ctx.connection, user).await? else {
        return Ok(());
    };
    let Some(dialog) = tx.dialog_for_contact(ctx.connection, contact.id).await? else {
        return Ok(());
    };
    ctx.record(
        tx,
        Event::MessageEdited {
            dialog: dialog.id,
            outgoing: false,
            message: msg,
        },
    )
    .await?;
    let mut snapshot = content::edit_snapshot(msg);
    crate::domain::mask::mask_snapshot(&mut snapshot, &ctx.params().mask_patterns);
    let edit = EditIn {
        dialog: dialog.id,
        user_message: id,
        content: snapshot,
    };
    ctx.to_group(tx, Some(dialog.id), &edit).await?;
    Ok(())
}

/// An operator edited a message in a topic.
pub(super) async fn operator_edit(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
) -> Result<(), StoreError> {
    let (Some(id), Some(thread)) = (
        msg["message_id"].as_i64(),
        msg["message_thread_id"].as_i64(),
    ) else {
        return Ok(());
    };
    let group = msg["chat"]["id"].as_i64().unwrap_or(ctx.group_id);
    let Some(dialog) = tx
        .dialog_by_thread(ctx.connection, ctx.group_id, group, thread)
        .await?
    else {
        return Ok(());
    };
    ctx.record(
        tx,
        Event::MessageEdited {
            dialog: dialog.id,
            outgoing: true,
            message: msg,
        },
    )
    .await?;
    let edit = EditOut {
        dialog: dialog.id,
        group_message: id,
        content: content::edit_snapshot(msg),
    };
    ctx.to_user_of(tx, dialog.id, &edit).await?;
    Ok(())
}
