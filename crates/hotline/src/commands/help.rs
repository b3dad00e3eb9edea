//! `/help` (statuses and the commands this person may use) and `/info` (the user card
//! again, respecting HIDE_INFO).

use serde_json::Value;

use super::{table, Command, Place, Spec, Who};
use crate::config::HideInfo;
use crate::domain::render;
use crate::domain::roles::{is_admin_message, require_admin};
use crate::domain::slash::answer;
use crate::domain::topics::{Card, Direct};
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{Dialog, Tx};

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "help",
        aliases: &["start"],
        place: Place::Both,
        who: Who::Operator,
        menu: "Statuses and commands",
        help: "/help — this help",
        parse: |_| Command::Help,
    },
    Spec {
        name: "info",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "The user card",
        help: "/info — the user card",
        parse: |_| Command::Info,
    },
];

/// The help text for a topic or General, from the command table: the operator commands
/// that work there; `admin` adds the admin commands (all of which work in General).
pub fn text(in_topic: bool, admin: bool) -> String {
    let mut t = String::from(
        "<b>Hotline</b>\n🟪 the user wrote last · 🟨 waiting for the user · ⬛ closed\n\n",
    );
    let mut lines: Vec<&str> = Vec::new();
    if in_topic {
        lines.push("Write here to answer the user. <code>/ text</code> is an internal comment.");
    }
    lines.extend(
        table()
            .filter(|s| s.who == Who::Operator && s.place.includes(in_topic))
            .map(|s| s.help),
    );
    t.push_str(&lines.join("\n"));
    if admin {
        t.push_str("\n\n<b>Admin</b> (in General)");
        for s in table().filter(|s| s.who == Who::Admin) {
            t.push('\n');
            t.push_str(s.help);
        }
    }
    t
}

/// `/help`.
pub async fn help(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<i64>,
) -> Result<(), StoreError> {
    let admin = is_admin_message(ctx, tx, msg).await?;
    let reply_to = msg["message_id"].as_i64();
    answer(ctx, tx, dialog, reply_to, text(dialog.is_some(), admin)).await
}

/// `/info`: posts the user card again. Under HIDE_INFO card the card never goes to the
/// group: allowed admins get it in their private chat with the bot.
pub async fn info(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
) -> Result<(), StoreError> {
    if !ctx.params().hide_info.card {
        let card = Card { dialog: dialog.id };
        ctx.to_group(tx, Some(dialog.id), &card).await?;
        return Ok(());
    }
    if !require_admin(ctx, tx, msg, Some(dialog.id)).await? {
        return Ok(());
    }
    let (Some(contact), Some(user)) = (
        tx.contact(dialog.contact_id).await?,
        msg["from"]["id"].as_i64(),
    ) else {
        return Ok(());
    };
    // A private chat is not the group: the admin sees the full card, with the owner as the
    // group's card shows it.
    let mut card = render::user_card(&contact, &HideInfo::default(), ctx.label().as_deref());
    if let Some(a) = dialog.assignee {
        let owner = tx
            .operator(ctx.connection, a)
            .await?
            .map_or_else(|| a.to_string(), |o| o.name);
        card.push('\n');
        card.push_str(&render::owner_line(&owner));
    }
    let direct = Direct {
        user,
        text: card,
        dialog: Some(dialog.id),
        reply_to: msg["message_id"].as_i64(),
    };
    ctx.to_user(tx, user, Some(dialog.id), &direct).await?;
    Ok(())
}
