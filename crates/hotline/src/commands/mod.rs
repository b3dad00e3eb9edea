//! Operator commands, one file per module. `topic` handles commands typed in a dialog
//! topic, `general` those typed in General. Commands are never sent to the user.

mod ban;
mod help;
mod mark;
mod new;
pub mod parse;
pub mod roles;
mod say;
mod settings;
mod status;

pub use roles::require_admin;

use serde_json::Value;

use crate::relay::render::html;
use crate::relay::{Intent, Relay, RelayError};
use crate::store::{Dialog, Tx};
use parse::Parsed;

/// A command typed in a dialog topic.
pub async fn topic(
    relay: &Relay,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
    cmd: &Parsed,
) -> Result<(), RelayError> {
    let reply_to = msg["message_id"].as_i64();
    match cmd.name.as_str() {
        "close" | "hold" | "wait" => status::run(relay, tx, dialog, &cmd.name).await,
        "ban" => ban::run(relay, tx, dialog, true, reply_to).await,
        "unban" => ban::run(relay, tx, dialog, false, reply_to).await,
        "info" => help::info(relay, tx, msg, dialog).await,
        "help" | "start" => help::help(relay, tx, msg, Some(dialog.id)).await,
        "say" => say::run(relay, tx, msg, Some(dialog), cmd).await,
        "mark" => mark::topic(relay, tx, msg, dialog, cmd).await,
        "set" | "get" => {
            let text = format!("/{} works in General.", cmd.name);
            answer(relay, tx, Some(dialog.id), reply_to, text).await
        }
        "send" | "export" | "stats" => {
            let text = format!("/{} works in General.", cmd.name);
            answer(relay, tx, Some(dialog.id), reply_to, text).await
        }
        _ => unknown(relay, tx, msg, Some(dialog.id), cmd, reply_to).await,
    }
}

/// A command typed in General.
pub async fn general(
    relay: &Relay,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<(), RelayError> {
    let reply_to = msg["message_id"].as_i64();
    match cmd.name.as_str() {
        "new" => new::run(relay, tx, cmd, reply_to).await,
        "apikey" => crate::api::admin::apikey(relay, tx, msg, cmd).await,
        "help" | "start" => help::help(relay, tx, msg, None).await,
        "say" => say::run(relay, tx, msg, None, cmd).await,
        "mark" => mark::general(relay, tx, msg, cmd).await,
        "set" => settings::set(relay, tx, msg, cmd).await,
        "get" => settings::get(relay, tx, msg, cmd).await,
        "send" => crate::broadcast::command(relay, tx, msg, cmd).await,
        "export" => crate::export::command(relay, tx, msg, cmd).await,
        "stats" => crate::stats::command(relay, tx, msg, cmd).await,
        "info" => {
            let text = "/info works in a dialog topic.".to_string();
            answer(relay, tx, None, reply_to, text).await
        }
        _ => unknown(relay, tx, msg, None, cmd, reply_to).await,
    }
}

/// Answers in the same place the command was typed.
pub(crate) async fn answer(
    relay: &Relay,
    tx: &mut Tx,
    dialog: Option<i64>,
    reply_to: Option<i64>,
    text: String,
) -> Result<(), RelayError> {
    relay
        .push(
            tx,
            Intent::Notice {
                dialog,
                text,
                reply_to,
            },
            0,
        )
        .await?;
    Ok(())
}

async fn unknown(
    relay: &Relay,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<i64>,
    cmd: &Parsed,
    reply_to: Option<i64>,
) -> Result<(), RelayError> {
    if crate::api::commands::custom(relay, tx, msg, dialog, cmd).await? {
        return Ok(());
    }
    let text = format!(
        "Unknown command /{}. It was not sent to the user. /help lists the commands.",
        html(&cmd.name)
    );
    answer(relay, tx, dialog, reply_to, text).await
}
