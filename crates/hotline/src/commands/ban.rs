//! `/ban` and `/unban`: the user's messages are ignored while banned.

use super::answer;
use crate::relay::render::html;
use crate::relay::{Relay, RelayError};
use crate::store::{Dialog, Tx};

/// Sets or clears the ban of the dialog's contact.
pub async fn run(
    relay: &Relay,
    tx: &mut Tx,
    dialog: &Dialog,
    ban: bool,
    reply_to: Option<i64>,
) -> Result<(), RelayError> {
    let Some(contact) = tx.contact(dialog.contact_id).await? else {
        return Ok(());
    };
    tx.set_contact_banned(contact.id, ban).await?;
    let name = html(&crate::relay::render::shown_name(
        &contact,
        &relay.params().hide_info,
    ));
    let text = if ban {
        format!("🚫 {name} is banned: their messages are ignored. /unban to undo.")
    } else {
        format!("✅ {name} is no longer banned.")
    };
    answer(relay, tx, Some(dialog.id), reply_to, text).await
}
