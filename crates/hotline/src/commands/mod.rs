//! Operator commands, one file per module. `topic` handles commands typed in a dialog
//! topic, `general` those typed in General. Commands are never sent to the user.

mod ban;
mod bot;
pub mod comment;
mod help;
mod mark;
mod new;
mod say;
pub(crate) mod settings;
mod status;

use serde_json::Value;

use crate::domain::render::html;
use crate::domain::slash::{answer, Parsed};
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{Dialog, Tx};

/// A command typed in a dialog topic.
pub async fn topic(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    match cmd.name.as_str() {
        "close" | "hold" | "wait" => {
            status::run(ctx, tx, dialog, &cmd.name, msg["from"]["id"].as_i64()).await
        }
        "ban" => ban::run(ctx, tx, dialog, true, reply_to).await,
        "bot" => bot::run(ctx, tx, dialog, cmd, msg["from"]["id"].as_i64(), reply_to).await,
        "unban" => ban::run(ctx, tx, dialog, false, reply_to).await,
        "info" => help::info(ctx, tx, msg, dialog).await,
        "help" | "start" => help::help(ctx, tx, msg, Some(dialog.id)).await,
        "say" => say::run(ctx, tx, msg, Some(dialog), cmd).await,
        "mark" => mark::topic(ctx, tx, msg, dialog, cmd).await,
        "set" | "get" => {
            let text = format!("/{} works in General.", cmd.name);
            answer(ctx, tx, Some(dialog.id), reply_to, text).await
        }
        "send" | "export" | "stats" => {
            let text = format!("/{} works in General.", cmd.name);
            answer(ctx, tx, Some(dialog.id), reply_to, text).await
        }
        _ => unknown(ctx, tx, msg, Some(dialog.id), cmd, reply_to).await,
    }
}

/// A command typed in General.
pub async fn general(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    match cmd.name.as_str() {
        "new" => new::run(ctx, tx, cmd, reply_to).await,
        "apikey" => crate::api::admin::apikey(ctx, tx, msg, cmd).await,
        "help" | "start" => help::help(ctx, tx, msg, None).await,
        "say" => say::run(ctx, tx, msg, None, cmd).await,
        "mark" => mark::general(ctx, tx, msg, cmd).await,
        "set" => settings::set(ctx, tx, msg, cmd).await,
        "get" => settings::get(ctx, tx, msg, cmd).await,
        "send" => crate::broadcast::command(ctx, tx, msg, cmd).await,
        "export" => crate::export::command(ctx, tx, msg, cmd).await,
        "stats" => crate::stats::command(ctx, tx, msg, cmd).await,
        "info" | "bot" => {
            let text = format!("/{} works in a dialog topic.", cmd.name);
            answer(ctx, tx, None, reply_to, text).await
        }
        _ => unknown(ctx, tx, msg, None, cmd, reply_to).await,
    }
}

async fn unknown(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<i64>,
    cmd: &Parsed,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    if crate::api::commands::custom(ctx, tx, msg, dialog, cmd).await? {
        return Ok(());
    }
    let text = format!(
        "Unknown command /{}. It was not sent to the user. /help lists the commands.",
        html(&cmd.name)
    );
    answer(ctx, tx, dialog, reply_to, text).await
}
