//! Ownership: `/take` (the operator takes the dialog), `/assign @username`, `/assign
//! USER_ID` or `/assign` as a reply to a team member's message, and `/unassign`. The owner
//! shows in the topic title and on the card; `/stats` counts open dialogs per owner.

use serde_json::Value;

use super::{Command, Place, Spec, Who};
use crate::domain::content;
use crate::domain::render::html;
use crate::domain::slash::{answer, Parsed};
use crate::domain::Context;
use crate::store::{Dialog, StoreError, Tx};

/// Who `/assign` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The author of the replied message (or, with no reply, nobody: the usage).
    Replied,
    /// `@username`.
    Username(String),
    /// A user id.
    Id(i64),
}

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "take",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Take the dialog: you handle it",
        help: "/take — take the dialog (you are its owner)",
        parse: |_| Command::Take,
    },
    Spec {
        name: "assign",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Give the dialog to someone: /assign @username",
        help: "/assign @username — give the dialog to a team member (or reply to their message with /assign)",
        parse: |p| Command::Assign(parse(p)),
    },
    Spec {
        name: "unassign",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "The dialog has no owner again",
        help: "/unassign — the dialog has no owner again",
        parse: |_| Command::Unassign,
    },
];

fn parse(p: &Parsed) -> Target {
    let arg = p.args.trim();
    if arg.is_empty() {
        return Target::Replied;
    }
    match arg.parse::<i64>() {
        Ok(id) => Target::Id(id),
        Err(_) => Target::Username(arg.trim_start_matches('@').to_string()),
    }
}

async fn name_of(ctx: &Context, tx: &mut Tx, user: i64) -> Result<String, StoreError> {
    Ok(tx
        .operator(ctx.connection, user)
        .await?
        .map_or_else(|| user.to_string(), |o| o.name))
}

/// `/take`.
pub async fn take(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let Some(me) = msg["from"]["id"]
        .as_i64()
        .filter(|_| msg["from"]["is_bot"] != true)
    else {
        let text = "Only a person can take a dialog (turn off “Remain anonymous”).".to_string();
        return answer(ctx, tx, Some(dialog.id), reply_to, text).await;
    };
    let text = if ctx.assign(tx, dialog, Some(me), Some(me)).await? {
        format!(
            "🙋 <b>{}</b> took this dialog.",
            html(&name_of(ctx, tx, me).await?)
        )
    } else {
        "This dialog is already yours.".to_string()
    };
    answer(ctx, tx, Some(dialog.id), reply_to, text).await
}

/// `/assign`.
pub async fn assign(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
    target: Target,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let by = msg["from"]["id"].as_i64();
    let user = match target {
        Target::Id(id) if id > 0 => Some(id),
        Target::Id(_) => None,
        Target::Username(u) => match tx.operator_by_username(ctx.connection, &u).await? {
            Some(o) => Some(o.user_id),
            None => {
                let text = format!(
                    "I do not know @{} yet: a team member is known once they wrote in this group. \
                     Reply to one of their messages with /assign instead.",
                    html(&u)
                );
                return answer(ctx, tx, Some(dialog.id), reply_to, text).await;
            }
        },
        Target::Replied => {
            let replied = &msg["reply_to_message"];
            match content::explicit_reply(msg) {
                Some(_) if replied["from"]["is_bot"] != true => replied["from"]["id"].as_i64(),
                _ => None,
            }
        }
    };
    let Some(user) = user else {
        let owner = match dialog.assignee {
            Some(a) => format!("Owner: <b>{}</b>. ", html(&name_of(ctx, tx, a).await?)),
            None => "This dialog has no owner. ".to_string(),
        };
        let text = format!(
            "{owner}Usage: /assign @username, /assign USER_ID, or /assign as a reply to a team member's message; /take takes it yourself, /unassign frees it."
        );
        return answer(ctx, tx, Some(dialog.id), reply_to, text).await;
    };
    let name = html(&name_of(ctx, tx, user).await?);
    let text = if ctx.assign(tx, dialog, Some(user), by).await? {
        format!("🙋 This dialog is now <b>{name}</b>'s.")
    } else {
        format!("This dialog already is <b>{name}</b>'s.")
    };
    answer(ctx, tx, Some(dialog.id), reply_to, text).await
}

/// `/unassign`.
pub async fn unassign(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let by = msg["from"]["id"].as_i64();
    let text = if ctx.assign(tx, dialog, None, by).await? {
        "This dialog has no owner now."
    } else {
        "This dialog has no owner."
    };
    answer(ctx, tx, Some(dialog.id), reply_to, text.to_string()).await
}
