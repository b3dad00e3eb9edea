//! The relay: users ↔ topics. [`handle`] decides what one update means and records it —
//! contact, dialog, status, links, and outbox intents — in the caller's transaction;
//! [`execute`] later turns intents into Bot API calls.
//!
//! - `incoming`: a user writes to the bot (filters, first contact, reopen, albums);
//! - `operator`: someone writes in a dialog topic (comments, REPLY_ONLY, commands);
//! - `edits`: edits both ways;
//! - `actions`, `execute`: the relay's outbox actions and running them (topic creation on
//!   demand, deleted topics, blocked users);
//! - `privacy`: masking (MASK_PATTERNS, HIDE_INFO).

pub mod actions;
pub mod autoclose;
mod edits;
pub mod execute;
mod incoming;
mod operator;
pub mod privacy;

use serde_json::Value;

use crate::domain::render;
use crate::domain::Context;
use crate::store::{StoreError, Tx};
pub use execute::{register, RelayExecutor};

/// Decides what an update means. Unknown or malformed updates are ignored (logged),
/// never fatal; only store failures are errors (the update is then retried).
pub async fn handle(ctx: &Context, tx: &mut Tx, update: &Value) -> Result<(), StoreError> {
    if let Some(msg) = update.get("message") {
        return on_message(ctx, tx, msg).await;
    }
    if let Some(msg) = update.get("edited_message") {
        return on_edit(ctx, tx, msg).await;
    }
    if let Some(m) = update.get("my_chat_member") {
        return on_my_chat_member(ctx, tx, m).await;
    }
    if let Some(m) = update.get("chat_member") {
        return crate::domain::roles::on_chat_member(ctx, tx, m).await;
    }
    if let Some(q) = update.get("callback_query") {
        return crate::broadcast::on_callback(ctx, tx, q).await;
    }
    Ok(())
}

async fn on_message(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<(), StoreError> {
    match (msg["chat"]["type"].as_str(), msg["chat"]["id"].as_i64()) {
        (Some("private"), _) => incoming::user_message(ctx, tx, msg).await,
        (_, Some(chat)) if chat == ctx.group_id => operator::group_message(ctx, tx, msg).await,
        _ => Ok(()),
    }
}

async fn on_edit(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<(), StoreError> {
    match (msg["chat"]["type"].as_str(), msg["chat"]["id"].as_i64()) {
        (Some("private"), _) => edits::user_edit(ctx, tx, msg).await,
        (_, Some(chat)) if chat == ctx.group_id => edits::operator_edit(ctx, tx, msg).await,
        _ => Ok(()),
    }
}

/// The user blocked or unblocked the bot.
async fn on_my_chat_member(ctx: &Context, tx: &mut Tx, m: &Value) -> Result<(), StoreError> {
    if m["chat"]["type"] != "private" {
        return Ok(());
    }
    let Some(user) = m["chat"]["id"].as_i64() else {
        return Ok(());
    };
    let Some(contact) = tx.contact_by_user(ctx.connection, user).await? else {
        return Ok(());
    };
    let blocked = m["new_chat_member"]["status"] == "kicked";
    if blocked == contact.blocked {
        return Ok(());
    }
    tx.set_contact_blocked(contact.id, blocked).await?;
    if let Some(d) = tx.dialog_for_contact(ctx.connection, contact.id).await? {
        if blocked {
            let text = format!(
                "⛔ {} blocked the bot. Messages to them will not be delivered.",
                render::html(&render::shown_name(&contact, &ctx.params().hide_info))
            );
            ctx.notice(tx, Some(d.id), None, text).await?;
        }
    }
    Ok(())
}
