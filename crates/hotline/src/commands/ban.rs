//! `/ban` and `/unban`: the user's messages are ignored while banned.

use super::{Command, Place, Spec, Who};
use crate::domain::Context;

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "ban",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Ignore this user's messages",
        help: "/ban — ignore the user's messages",
        parse: |_| Command::Ban(true),
    },
    Spec {
        name: "unban",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Stop ignoring this user",
        help: "/unban — stop ignoring the user",
        parse: |_| Command::Ban(false),
    },
];
use crate::store::{Dialog, StoreError, Tx};

/// Sets or clears the ban of the dialog's contact.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    ban: bool,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    let Some(contact) = tx.contact(dialog.contact_id).await? else {
        return Ok(());
    };
    ctx.set_banned(tx, &contact, Some(dialog.id), ban, reply_to)
        .await
}
