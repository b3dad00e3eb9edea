//! `/new USER_ID` or `/new @username` in General: open a dialog with a known contact so
//! operators can write first.

use super::{Command, Place, Spec, Who};
use crate::domain::render::html;
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;
use crate::domain::topics::Card;
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{now_ms, DialogStatus, Tx};

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[Spec {
    name: "new",
    aliases: &[],
    place: Place::General,
    who: Who::Operator,
    menu: "Open a dialog: /new USER_ID",
    help: "/new USER_ID or /new @username — open a dialog and write first",
    parse: |p| Command::New(p.clone()),
}];

/// Opens (or reopens) the dialog.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    cmd: &Parsed,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    let arg = cmd.args.trim();
    if arg.is_empty() {
        let text = "Usage: /new USER_ID or /new @username — opens a dialog with a contact who has written to the bot before.";
        return answer(ctx, tx, None, reply_to, text.into()).await;
    }
    let contact = ctx.named_contact(tx, arg).await?;
    let Some(contact) = contact else {
        let text = format!(
            "No contact {} is known: they must write to the bot first.",
            html(arg)
        );
        return answer(ctx, tx, None, reply_to, text).await;
    };
    let now = now_ms();
    let (dialog, created) = ctx
        .open_dialog(tx, contact.id, DialogStatus::New, now)
        .await?;
    tx.set_dialog_activated(dialog.id, true).await?;
    if !created && dialog.status == DialogStatus::Closed {
        ctx.set_status(tx, &dialog, DialogStatus::New, now).await?;
    }
    let card = Card { dialog: dialog.id };
    ctx.to_group(tx, Some(dialog.id), &card).await?;
    let name = html(&crate::domain::render::shown_name(
        &contact,
        &ctx.params().hide_info,
    ));
    // A closed topic was reopened by the status change above (a plain member cannot post
    // in a closed topic): the link takes the operator straight there.
    let text = match dialog.thread_id {
        Some(thread) => format!(
            "Dialog with {name} is open: write in <a href=\"{}\">its topic</a>.",
            crate::domain::render::topic_link(ctx.group_id, thread)
        ),
        None => format!("Dialog with {name} is open: its topic is being created, write there."),
    };
    answer(ctx, tx, None, reply_to, text).await
}
