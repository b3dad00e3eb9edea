//! `/help` (statuses and the commands this person may use) and `/info` (the user card
//! again, respecting HIDE_INFO).

use serde_json::Value;

use crate::config::HideInfo;
use crate::domain::render;
use crate::domain::roles::{is_admin_message, require_admin};
use crate::domain::slash::answer;
use crate::domain::topics::{Card, Direct};
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{Dialog, Tx};

/// The help text for a topic or General; `admin` adds the admin commands.
pub fn text(in_topic: bool, admin: bool) -> String {
    let mut t = String::from(
        "<b>Hotline</b>\n🟪 the user wrote last · 🟨 waiting for the user · ⬛ closed\n\n",
    );
    if in_topic {
        t.push_str(
            "Write here to answer the user. <code>/ text</code> is an internal comment.\n\
             /close — close the dialog\n/hold — mark 🟪\n/wait — mark 🟨\n/info — the user card\n\
             /say NAME — send a quick reply (/say NAME fwd forwards it; reply to a message \
             with /say NAME to save it; /say lists)\n\
             /mark NAME — tag the contact · /mark del NAME · /mark — its tags\n\
             /ban, /unban — ignore the user's messages\n\
             /bot off, /bot on — pause the parallel bot for this user (⏸) and give it back\n\
             /help — this help",
        );
    } else {
        t.push_str(
            "/new USER_ID or /new @username — open a dialog and write first\n\
             /say — quick replies (reply to a text with /say NAME to save it; /say del NAME)\n\
             /help — this help",
        );
    }
    if admin {
        t.push_str(
            "\n\n<b>Admin</b> (in General)\n\
             /mark — tags: /mark new NAME, /mark NAME ticker 🔥|after A,B|sends QUICKREPLY|name NEW, \
             /mark NAME lists its dialogs, /mark del NAME\n\
             /set NAME VALUE — change a parameter (/set NAME default restores the config file's)\n\
             /get [NAME] — show parameters\n\
             /send all|test|SEGMENT|list IDS [at DATE TIME|in 2h] — as a reply: broadcast it; \
             /send lists, /send pause|resume|cancel N\n\
             /export [SEGMENT] — contacts as CSV\n\
             /stats [today|7d|30d|FROM..TO] — team analytics with a chart",
        );
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
    // A private chat is not the group: the admin sees the full card.
    let card = render::user_card(&contact, &HideInfo::default(), ctx.label().as_deref());
    let direct = Direct {
        user,
        text: card,
        dialog: Some(dialog.id),
        reply_to: msg["message_id"].as_i64(),
    };
    ctx.to_user(tx, user, Some(dialog.id), &direct).await?;
    Ok(())
}
