//! `/ban` and `/unban`: the user's messages are ignored while banned.

use crate::domain::Context;
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
