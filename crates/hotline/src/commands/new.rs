//! `/new USER_ID` or `/new @username` in General: open a dialog with a known contact so
//! operators can write first.

use super::answer;
use super::parse::Parsed;
use crate::relay::render::html;
use crate::relay::{Intent, Relay, RelayError};
use crate::store::{now_ms, DialogStatus, Tx};

/// Opens (or reopens) the dialog.
pub async fn run(
    relay: &Relay,
    tx: &mut Tx,
    cmd: &Parsed,
    reply_to: Option<i64>,
) -> Result<(), RelayError> {
    let arg = cmd.args.trim();
    if arg.is_empty() {
        let text = "Usage: /new USER_ID or /new @username — opens a dialog with a contact who has written to the bot before.";
        return answer(relay, tx, None, reply_to, text.into()).await;
    }
    let contact = match arg.parse::<i64>() {
        Ok(id) => tx.contact_by_user(relay.connection, id).await?,
        Err(_) => {
            tx.contact_by_username(relay.connection, arg.trim_start_matches('@'))
                .await?
        }
    };
    let Some(contact) = contact else {
        let text = format!(
            "No contact {} is known: they must write to the bot first.",
            html(arg)
        );
        return answer(relay, tx, None, reply_to, text).await;
    };
    let now = now_ms();
    let (dialog, created) = tx
        .ensure_dialog(relay.connection, contact.id, DialogStatus::New, now)
        .await?;
    tx.set_dialog_activated(dialog.id, true).await?;
    if created {
        relay
            .push(tx, Intent::Card { dialog: dialog.id }, 0)
            .await?;
    } else if dialog.status == DialogStatus::Closed {
        tx.set_dialog_status(dialog.id, DialogStatus::New, now)
            .await?;
        relay
            .push(tx, Intent::TopicState { dialog: dialog.id }, 0)
            .await?;
        relay
            .push(tx, Intent::Title { dialog: dialog.id }, 0)
            .await?;
    }
    if !created {
        relay
            .push(tx, Intent::Card { dialog: dialog.id }, 0)
            .await?;
    }
    let text = format!(
        "Dialog with {} is open: write in its topic.",
        html(&crate::relay::render::shown_name(
            &contact,
            &relay.params().hide_info
        ))
    );
    answer(relay, tx, None, reply_to, text).await
}
