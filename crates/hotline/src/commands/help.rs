//! `/help` (statuses and commands) and `/info` (the user card again).

use super::answer;
use crate::relay::{Intent, Relay, RelayError};
use crate::store::{Dialog, Tx};

/// The help text for a topic or General.
pub fn text(in_topic: bool) -> String {
    let mut t = String::from(
        "<b>Hotline</b>\n🟪 the user wrote last · 🟨 waiting for the user · ⬛ closed\n\n",
    );
    if in_topic {
        t.push_str(
            "Write here to answer the user. <code>/ text</code> is an internal comment.\n\
             /close — close the dialog\n/hold — mark 🟪\n/wait — mark 🟨\n/info — the user card\n\
             /ban, /unban — ignore the user's messages\n/help — this help",
        );
    } else {
        t.push_str(
            "/new USER_ID or /new @username — open a dialog and write first\n/help — this help",
        );
    }
    t
}

/// `/help`.
pub async fn help(
    relay: &Relay,
    tx: &mut Tx,
    dialog: Option<i64>,
    reply_to: Option<i64>,
) -> Result<(), RelayError> {
    answer(relay, tx, dialog, reply_to, text(dialog.is_some())).await
}

/// `/info`: posts the user card again (unless HIDE_INFO hides cards from the group).
pub async fn info(
    relay: &Relay,
    tx: &mut Tx,
    dialog: &Dialog,
    reply_to: Option<i64>,
) -> Result<(), RelayError> {
    if relay.params().hide_info.card {
        let text = "The user card is hidden in this group (HIDE_INFO card).".to_string();
        return answer(relay, tx, Some(dialog.id), reply_to, text).await;
    }
    relay
        .push(tx, Intent::Card { dialog: dialog.id }, 0)
        .await?;
    Ok(())
}
