//! Someone writes in the group: in a dialog topic it goes to the user (unless it is a
//! comment, a command, or REPLY_ONLY says otherwise); in General only commands count.

use serde_json::Value;

use super::actions::CopyOut;
use crate::commands;
use crate::domain::events::Event;
use crate::domain::slash::{self, Slash};
use crate::domain::{content, Context};
use crate::store::{now_ms, Direction, PauseReason, StoreError, Tx};

/// A message in the backend group.
pub(super) async fn group_message(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
) -> Result<(), StoreError> {
    if msg["from"]["is_bot"] == true && msg["sender_chat"].is_null() {
        return Ok(());
    }
    let kind = content::kind(msg);
    if kind == "service" {
        return Ok(());
    }
    crate::domain::roles::remember_author(ctx, tx, msg).await?;
    let thread = if msg["is_topic_message"] == true {
        msg["message_thread_id"].as_i64()
    } else {
        None
    };
    let slash = slash::parse(content::text(msg));
    let group = msg["chat"]["id"].as_i64().unwrap_or(ctx.group_id);
    let Some(thread) = thread else {
        // Commands work in the General of every group of the connection (answers go to the
        // primary's General); broadcast drafts are the primary's.
        if let Some(Slash::Command(cmd)) = slash {
            if cmd.is_for(&ctx.bot.username) {
                match commands::general(ctx, tx, msg, &cmd).await? {
                    Some(commands::HandedBack::Admit(p)) => {
                        super::gate::command(ctx, tx, &p, msg["message_id"].as_i64()).await?
                    }
                    None => {}
                }
            }
        } else if slash.is_none() && group == ctx.group_id {
            crate::broadcast::remember_general(ctx, tx, msg).await?;
        }
        return Ok(());
    };
    let Some(dialog) = tx
        .dialog_by_thread(ctx.connection, ctx.group_id, group, thread)
        .await?
    else {
        // Another connection's topic, or one Hotline no longer knows.
        return Ok(());
    };
    match slash {
        Some(Slash::Comment) => {
            return commands::comment::run(ctx, tx, dialog.id, msg["message_id"].as_i64()).await
        }
        Some(Slash::Command(cmd)) => {
            if cmd.is_for(&ctx.bot.username) {
                commands::topic(ctx, tx, msg, &dialog, &cmd).await?;
            }
            return Ok(());
        }
        None => {}
    }
    let Some(id) = msg["message_id"].as_i64() else {
        return Ok(());
    };
    let replied = match content::explicit_reply(msg) {
        Some(r) => tx.link_by_group_message(ctx.connection, group, r).await?,
        None => None,
    };
    let to_user_message = replied.as_ref().map(|l| l.link.user_message_id);
    let replies_to_user = replied
        .as_ref()
        .is_some_and(|l| l.link.direction == Direction::Incoming);
    if ctx.params().reply_only && !replies_to_user {
        return Ok(());
    }
    let now = now_ms();
    ctx.answered(tx, &dialog, now).await?;
    if ctx.with_params(|p| p.auto_handover) {
        let by = msg["from"]["id"].as_i64();
        ctx.pause_bot(tx, &dialog, PauseReason::Auto, by, None, now)
            .await?;
    }
    ctx.record(
        tx,
        Event::OperatorMessage {
            dialog: dialog.id,
            message: msg,
        },
    )
    .await?;
    if let Some(album) = msg["media_group_id"].as_str() {
        if let Some(item) = crate::domain::resend::item(msg) {
            tx.record_media_item(ctx.connection, group, id, album, &item, now)
                .await?;
        }
        return super::incoming::album_part(ctx, tx, dialog.id, album, group, id, true).await;
    }
    let copy = CopyOut {
        dialog: dialog.id,
        ids: vec![id],
        reply_to: to_user_message,
        kind,
    };
    ctx.to_user_of(tx, dialog.id, &copy).await?;
    Ok(())
}
