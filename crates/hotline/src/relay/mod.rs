//! The relay: users ↔ topics. [`handle`] decides what one update means and records it —
//! contact, dialog, status, links, and outbox intents — in the caller's transaction;
//! [`execute`] later turns intents into Bot API calls.
//!
//! - `incoming`: a user writes to the bot (filters, first contact, reopen, albums);
//! - `operator`: someone writes in a dialog topic (comments, REPLY_ONLY, commands);
//! - `edits`: edits both ways;
//! - `actions`, `execute`: the relay's outbox actions and running them (topic creation on
//!   demand, deleted topics, blocked users);
//! - `privacy`: masking (MASK_PATTERNS, HIDE_INFO);
//! - `gate`: the spam gate (NEW_TOPICS_PER_HOUR, `/admit`).

pub mod actions;
pub mod autoclose;
mod edits;
pub mod execute;
pub mod gate;
mod incoming;
mod operator;
pub mod privacy;
pub mod remind;

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
        if crate::closing::on_callback(ctx, tx, q).await? {
            return Ok(());
        }
        return crate::broadcast::on_callback(ctx, tx, q).await;
    }
    Ok(())
}

async fn on_message(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<(), StoreError> {
    match (msg["chat"]["type"].as_str(), msg["chat"]["id"].as_i64()) {
        (Some("private"), _) => incoming::user_message(ctx, tx, msg).await,
        (_, Some(chat)) if ctx.is_group(chat) => operator::group_message(ctx, tx, msg).await,
        _ => Ok(()),
    }
}

async fn on_edit(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<(), StoreError> {
    match (msg["chat"]["type"].as_str(), msg["chat"]["id"].as_i64()) {
        (Some("private"), _) => edits::user_edit(ctx, tx, msg).await,
        (_, Some(chat)) if ctx.is_group(chat) => edits::operator_edit(ctx, tx, msg).await,
        _ => Ok(()),
    }
}

/// The user blocked or unblocked the bot; or the bot's own rights in the group changed.
async fn on_my_chat_member(ctx: &Context, tx: &mut Tx, m: &Value) -> Result<(), StoreError> {
    if m["chat"]["id"].as_i64() == Some(ctx.group_id) {
        return on_own_rights(ctx, tx, m).await;
    }
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
    if blocked != contact.blocked {
        tx.set_contact_blocked(contact.id, blocked).await?;
    }
    // Telegram reports each change once; the team hears of a block even when a failed send
    // to the user marked the contact first (a welcome refused with 403 before this update
    // was processed left the team without a word).
    let newly_blocked = blocked && m["old_chat_member"]["status"] != "kicked";
    if !newly_blocked {
        return Ok(());
    }
    if let Some(d) = tx.dialog_for_contact(ctx.connection, contact.id).await? {
        let text = format!(
            "⛔ {} blocked the bot. Messages to them will not be delivered.",
            render::html(&render::shown_name(&contact, &ctx.params().hide_info))
        );
        ctx.notice(tx, Some(d.id), None, text).await?;
    }
    Ok(())
}

/// Whether a ChatMember lets the bot run the group: an administrator who may manage topics
/// (the creator may do everything).
fn can_run_group(member: &Value) -> bool {
    match member["status"].as_str() {
        Some("creator") => true,
        Some("administrator") => member["can_manage_topics"].as_bool() == Some(true),
        _ => false,
    }
}

/// The bot's own status in the backend group changed (issue 16): losing the right to manage
/// topics means new dialogs cannot get a topic and status titles cannot change, so the team
/// hears it at once (in General, and in the log) instead of finding out from failures; getting
/// it back is confirmed the same way. Other changes (a title, an unrelated right) say nothing.
async fn on_own_rights(ctx: &Context, tx: &mut Tx, m: &Value) -> Result<(), StoreError> {
    let before = can_run_group(&m["old_chat_member"]);
    let now = can_run_group(&m["new_chat_member"]);
    let text = match (before, now) {
        (true, false) => {
            tracing::error!(
                connection = ctx.connection.0,
                status = m["new_chat_member"]["status"].as_str().unwrap_or(""),
                "the bot lost the right to manage topics in the group"
            );
            "⚠️ I am no longer an administrator with the right to manage topics in this \
             group: new dialogs cannot get a topic and statuses cannot be shown until an \
             administrator gives me back “Manage topics”."
        }
        (false, true) => {
            tracing::info!(
                connection = ctx.connection.0,
                "the bot can manage topics in the group again"
            );
            "✅ I can manage topics in this group again."
        }
        _ => return Ok(()),
    };
    if m["new_chat_member"]["status"] == "kicked" || m["new_chat_member"]["status"] == "left" {
        // Nothing can be posted in a group the bot is no longer in: the log says it.
        return Ok(());
    }
    ctx.notice(tx, None, None, text.to_string()).await
}
